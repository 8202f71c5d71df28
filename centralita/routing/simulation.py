"""``centralita simulate``: the real routing engine, driven by simulated customers and agents.

A discrete-event simulation: a heap of timed events (arrivals, hang-ups, ends of handling, shift
changes, and ticks at the engine's ``next_due()`` for its own timers such as overflow steps) runs
the engine on a simulated clock, jumping from one event to the next, so a month of traffic takes
seconds. Every routing choice is the engine's own; the simulator only plays the customers (they
arrive, wait, hang up) and the agents (they accept every offer at once, handle the work, go home
when their shift ends once their work is done).

Scenario file (TOML; ``scenarios/erlang_c.toml`` and ``scenarios/demo_bpo.toml`` are examples).
Required: ``name``, ``hours``, and for each queue ``name``, ``arrivals_per_hour``, ``handle_time``
and ``patience``, for each agent group ``name`` and ``count``; the rest shows its default or is
optional. An unknown key is an error, so a misspelt setting cannot go unnoticed::

    name = "Soporte"                  # shown in the output
    description = "..."               # optional

    [simulation]
    seed = 1                          # same seed, same scenario: same results
    hours = 100                       # measured hours
    warm_up_hours = 1                 # simulated first and left out of the measures (default 0)
    start_hour = 0                    # time of day at which the run starts (default 0)
    short_abandon_seconds = 5         # KPI.md short abandon threshold (default 5)

    [[queues]]                        # one table per queue
    name = "soporte"
    tenant = "acme"                   # client company (default "default")
    channel = "voice"                 # voice, callback, chat, email, web, sms or task
    skills = { soporte = 2 }          # skill -> minimum level 1-5; skills are per tenant
    language = "es"                   # optional: agents must speak it
    priority = 0
    arrivals_per_hour = 100           # Poisson; or 24 rates, one per hour of the day from 00:00
    handle_time = { mean = 180, sd = 90 }   # log-normal by mean and sd, or mean and sigma;
                                      # { distribution = "exponential", mean = 180 }
    patience = { distribution = "exponential", mean = 120 }   # or lognormal, or "infinite"
    sl_threshold_seconds = 20         # service level threshold T (default 20)
    sl_target = 0.8
    value_mix = { standard = 70, gold = 25, platinum = 5 }    # weights of the value tiers
    overflow = [{ after_seconds = 30, min_level = 1 }, { after_seconds = 90, extra_queues = ["x"] }]
    auto_accept = false

    [[agents]]                        # one table per group of identical agents
    name = "soporte-es"
    count = 7
    tenants = ["acme"]                # default: every tenant
    skills = { soporte = 3 }          # skill -> level, held in each of the group's tenants
    languages = ["es"]
    capacity = { voice = 1, chat = 2 }   # default: the engine's (1 call, 3 chats, 5 emails...)
    occupancy_cap = 0.85              # agents over it are offered work after those under it
    shift = { start = 8, end = 16 }   # hours of the day, every day (22 to 30: a night shift);
                                      # default: on duty for the whole run

Customers draw their handle time when answered and their patience when they arrive; a waiting
customer whose patience runs out hangs up (the work is withdrawn). Agents are available during
their shift; when it ends they take no new work and go offline once their work is done.

Measures follow KPI.md, through ``reporting.measures`` where it has them. The run measures the
work that *arrives* during the measured hours and follows each piece to its answer or hang-up,
letting traffic go on after the measured hours for at most ``MAX_DRAIN_HOURS``; what is still
waiting then is reported as unresolved.

- service level: answered within the queue's T / (answered + abandoned − short abandons)
- ASA: mean wait of the answered work; AHT: mean handle time of the answered work
- P(wait): share of the answered and abandoned work that waited at all
- abandonment rate: (abandoned − short abandons) / (offered − short abandons)
- occupancy: time handling work / (time handling work + time available and idle), over the
  measured hours; concurrent work counts once per second
"""

import heapq
import itertools
import json
import random
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from centralita.reporting.measures import Contact, QueueMeasures, queue_measures
from centralita.routing.engine import (
    DEFAULT_CAPACITY,
    AgentSpec,
    Decision,
    DecisionKind,
    Engine,
    OverflowStep,
    Presence,
    QueueSpec,
    WorkItem,
)
from centralita.routing.scenario import (
    VALUE_TIERS,
    AgentGroup,
    Distribution,
    Queue,
    Scenario,
    Shift,
)

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 24 * SECONDS_PER_HOUR
MAX_DRAIN_HOURS = 4.0
SERVICE_LEVEL_FORMULA = "answered within T / (answered + abandoned - short abandons)"
SHIFT_END_REASON = "shift_end"
# The simulated clock's zero as a date, for reporting.measures, which works on timestamps.
SIMULATED_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# Ids derive from names under this namespace, so that a seed repeats its run exactly even where
# the engine breaks ties by id.
_ID_NAMESPACE = uuid.UUID("f6910152-0402-4563-a084-5266e436124b")


class SimulationError(Exception):
    """The engine answered in a way a simulated agent cannot act on."""


@dataclass(frozen=True)
class QueueResult:
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    # Arrived in the measured hours, still waiting when the run stopped.
    unresolved: int
    # Shares in [0, 1] and durations in seconds; None where nothing was there to measure.
    service_level: float | None
    asa_seconds: float | None
    aht_seconds: float | None
    probability_of_waiting: float | None
    abandonment_rate: float | None


@dataclass(frozen=True)
class GroupResult:
    agents: int
    # Measured work this group answered.
    handled: int
    occupancy: float | None


@dataclass(frozen=True)
class SimulationResult:
    scenario: str
    seed: int
    hours: float
    warm_up_hours: float
    queues: dict[str, QueueResult]
    total: QueueResult
    agent_groups: dict[str, GroupResult]
    occupancy: float | None

    def to_json(self) -> str:
        """One JSON object; shares in [0, 1], durations in seconds, null where not measurable."""
        return json.dumps(
            {**asdict(self), "service_level_formula": SERVICE_LEVEL_FORMULA}, indent=2
        )


def simulate(scenario: Scenario, *, hours: float | None = None) -> SimulationResult:
    """Run ``scenario``; ``hours`` replaces its measured hours (a quick look at a long scenario)."""
    return _Simulation(scenario, scenario.simulation.hours if hours is None else hours).run()


def format_table(result: SimulationResult) -> str:
    """The result as aligned text tables, queues first, then agent groups."""
    queue_rows = [[name, *_queue_cells(measures)] for name, measures in result.queues.items()] + [
        ["total", *_queue_cells(result.total)]
    ]
    group_rows = [
        [name, str(group.agents), str(group.handled), _percent(group.occupancy)]
        for name, group in result.agent_groups.items()
    ] + [["total", "", "", _percent(result.occupancy)]]
    return "\n".join(
        [
            f"{result.scenario}: seed {result.seed}, {result.hours:g} h measured after "
            f"{result.warm_up_hours:g} h warm-up",
            f"service level = {SERVICE_LEVEL_FORMULA}",
            "",
            _aligned(
                [
                    "queue",
                    "offered",
                    "answered",
                    "abandoned",
                    "short",
                    "unresolved",
                    "SL",
                    "ASA s",
                    "AHT s",
                    "P(wait)",
                    "aband.",
                ],
                queue_rows,
            ),
            "",
            _aligned(["agent group", "agents", "handled", "occupancy"], group_rows),
        ]
    )


@dataclass
class _Work:
    item: WorkItem
    queue: Queue
    measured: bool
    answered: bool = False
    abandoned: bool = False

    @property
    def waiting(self) -> bool:
        return not (self.answered or self.abandoned)


@dataclass
class _Agent:
    id: uuid.UUID
    group: str
    presence: Presence = Presence.OFFLINE
    # Pieces of work held (offered, active or in wrap-up): the agent is handling while > 0.
    held: int = 0
    # Shift over: offline once the held work is done.
    leaving: bool = False
    # When presence or held last changed: the state since then is not yet counted in occupancy.
    since: float = 0.0


@dataclass
class _QueueTally:
    """A queue's measured work: the facts reporting.measures works from, and what it leaves out."""

    contacts: list[Contact] = field(default_factory=list)
    waited: int = 0
    handle_seconds: float = 0.0


@dataclass
class _GroupTally:
    handled: int = 0
    handling_seconds: float = 0.0
    idle_seconds: float = 0.0


# (when, sequence, action): the sequence breaks ties in scheduling order, first come first served.
_Event = tuple[float, int, Callable[[], None]]


class _Simulation:
    def __init__(self, scenario: Scenario, hours: float) -> None:
        settings = scenario.simulation
        self.scenario = scenario
        self.hours = hours
        self.now = settings.start_hour * SECONDS_PER_HOUR
        self.measure_from = self.now + settings.warm_up_hours * SECONDS_PER_HOUR
        self.measure_until = self.measure_from + hours * SECONDS_PER_HOUR
        self.stop_at = self.measure_until + MAX_DRAIN_HOURS * SECONDS_PER_HOUR
        self.random = random.Random(settings.seed)
        self.engine = Engine(lambda: self.now)
        self.events: list[_Event] = []
        self.sequence = itertools.count()
        self.work_numbers = itertools.count(1)
        self.queue_ids = {queue.name: _id("queue", queue.name) for queue in scenario.queues}
        self.tenant_ids = {tenant: _id("tenant", tenant) for tenant in scenario.tenants}
        # queue -> (value ranks, their cumulative weights), for random.choices
        self.value_mixes = {queue.name: _value_mix(queue) for queue in scenario.queues}
        self.work: dict[uuid.UUID, _Work] = {}
        self.agents: dict[uuid.UUID, _Agent] = {}
        self.members: dict[str, list[_Agent]] = {}
        self.queue_tallies = {queue.name: _QueueTally() for queue in scenario.queues}
        self.group_tallies = {group.name: _GroupTally() for group in scenario.agents}
        # Measured work neither answered nor abandoned yet: the run ends when none is left.
        self.pending = 0
        # When the next engine tick is scheduled, if one is.
        self.tick_at: float | None = None

    def run(self) -> SimulationResult:
        self._configure_engine()
        for group in self.scenario.agents:
            self._start_duty(group)
        for queue in self.scenario.queues:
            self._schedule_arrival(queue)
        self._tick_when_due()
        while self.events and self.events[0][0] < self.stop_at:
            self.now, _, action = heapq.heappop(self.events)
            action()
            self._tick_when_due()
            if self.now >= self.measure_until and not self.pending:
                break
        # Nothing changes after the last event: each agent's last state lasts to the end.
        for agent in self.agents.values():
            self._count_occupancy(agent, self.measure_until)
        return self._result()

    # set-up

    def _configure_engine(self) -> None:
        queue_ids = self.queue_ids
        for queue in self.scenario.queues:
            self._apply(
                self.engine.upsert_queue(
                    QueueSpec(
                        id=queue_ids[queue.name],
                        tenant_id=self.tenant_ids[queue.tenant],
                        channels=frozenset({queue.channel}),
                        skills={
                            _skill_id(queue.tenant, skill): level
                            for skill, level in queue.skills.items()
                        },
                        language=queue.language,
                        priority=queue.priority,
                        sl_target=queue.sl_target,
                        sl_threshold_seconds=queue.sl_threshold_seconds,
                        overflow=tuple(
                            OverflowStep(
                                after_seconds=step.after_seconds,
                                min_level=step.min_level,
                                extra_queue_ids=tuple(queue_ids[q] for q in step.extra_queues),
                            )
                            for step in queue.overflow
                        ),
                        auto_accept=queue.auto_accept,
                    )
                )
            )
        for group in self.scenario.agents:
            tenants = self.scenario.tenants_of(group)
            members = [
                _Agent(id=_id("agent", f"{group.name}/{number}"), group=group.name, since=self.now)
                for number in range(1, group.count + 1)
            ]
            self.members[group.name] = members
            for agent in members:
                self.agents[agent.id] = agent
                self._apply(
                    self.engine.upsert_agent(
                        AgentSpec(
                            id=agent.id,
                            tenants=frozenset(self.tenant_ids[tenant] for tenant in tenants),
                            skills={
                                _skill_id(tenant, skill): level
                                for tenant in tenants
                                for skill, level in group.skills.items()
                            },
                            languages=frozenset(group.languages),
                            capacity=dict(
                                DEFAULT_CAPACITY if group.capacity is None else group.capacity
                            ),
                            occupancy_cap=group.occupancy_cap,
                        )
                    )
                )

    def _start_duty(self, group: AgentGroup) -> None:
        shift = group.shift
        if shift is None:
            self._come_on_duty(group)
            return
        midnight = self.now // SECONDS_PER_DAY * SECONDS_PER_DAY
        today = midnight + shift.start * SECONDS_PER_HOUR
        # The latest start so far: today's, or yesterday's (a night shift may still be on).
        start = today if today <= self.now else today - SECONDS_PER_DAY
        if self.now >= start + shift.hours * SECONDS_PER_HOUR:
            start += SECONDS_PER_DAY
        self._plan_shift(group, shift, start)

    def _plan_shift(self, group: AgentGroup, shift: Shift, start: float) -> None:
        """The shift from ``start`` (now or later) and, when it ends, the next day's."""
        if start <= self.now:
            self._come_on_duty(group)
        else:
            self._schedule(start, lambda: self._come_on_duty(group))
        self._schedule(
            start + shift.hours * SECONDS_PER_HOUR,
            lambda: self._go_off_duty(group, shift, start + SECONDS_PER_DAY),
        )

    # events

    def _come_on_duty(self, group: AgentGroup) -> None:
        for agent in self.members[group.name]:
            agent.leaving = False
            self._set_presence(agent, Presence.AVAILABLE)

    def _go_off_duty(self, group: AgentGroup, shift: Shift, next_start: float) -> None:
        """No new work; each agent signs out once their work is done."""
        for agent in self.members[group.name]:
            if agent.held:
                agent.leaving = True
                self._set_presence(agent, Presence.AWAY, SHIFT_END_REASON)
            else:
                self._set_presence(agent, Presence.OFFLINE)
        self._plan_shift(group, shift, next_start)

    def _arrive(self, queue: Queue) -> None:
        self._schedule_arrival(queue)
        item = WorkItem(
            id=uuid.UUID(int=next(self.work_numbers)),
            tenant_id=self.tenant_ids[queue.tenant],
            queue_id=self.queue_ids[queue.name],
            channel=queue.channel,
            language=queue.language,
            # The queue's priority applies through the queue; customers bring none of their own.
            priority=0,
            value_rank=self._value_rank(queue),
            arrived_at=self.now,
        )
        work = _Work(item, queue, measured=self.measure_from <= self.now < self.measure_until)
        self.work[item.id] = work
        if work.measured:
            self.pending += 1
        if queue.patience is not None:
            self._schedule(self.now + self._draw(queue.patience), lambda: self._hang_up(work))
        self._apply(self.engine.enqueue(item))

    def _hang_up(self, work: _Work) -> None:
        if not work.waiting:
            return
        work.abandoned = True
        del self.work[work.item.id]
        if work.measured:
            tally = self.queue_tallies[work.queue.name]
            tally.contacts.append(
                Contact(_moment(work.item.arrived_at), abandoned_at=_moment(self.now))
            )
            tally.waited += self.now > work.item.arrived_at
            self.pending -= 1
        self._apply(self.engine.withdraw(work.item.id))

    def _tick(self) -> None:
        if self.now != self.tick_at:
            return  # an earlier tick took this one's place
        self.tick_at = None
        self._apply(self.engine.tick())

    def _finish(self, work: _Work, agent: _Agent) -> None:
        del self.work[work.item.id]
        self._count_occupancy(agent, self.now)
        agent.held -= 1
        self._apply(self.engine.finish(work.item.id))
        if agent.leaving and not agent.held:
            agent.leaving = False
            self._set_presence(agent, Presence.OFFLINE)

    # the engine's decisions

    def _apply(self, decisions: Iterable[Decision]) -> None:
        for decision in decisions:
            # Offers are accepted the moment they are made, and neither work nor agents enter
            # wrap-up here: an expiry or a presence the engine changed itself would mean that the
            # engine and the simulator disagree on the state.
            if decision.kind is not DecisionKind.OFFERED or decision.work_id is None:
                raise SimulationError(f"unexpected decision from the engine: {decision}")
            self._answer(
                self.work[decision.work_id], self.agents[decision.agent_id], decision.auto_accepted
            )

    def _answer(self, work: _Work, agent: _Agent, auto_accepted: bool) -> None:
        if not auto_accepted:
            self.engine.accept(work.item.id, agent.id)
        work.answered = True
        self._count_occupancy(agent, self.now)
        agent.held += 1
        handle = self._draw(work.queue.handle_time)
        if work.measured:
            tally = self.queue_tallies[work.queue.name]
            tally.contacts.append(
                Contact(_moment(work.item.arrived_at), answered_at=_moment(self.now))
            )
            tally.waited += self.now > work.item.arrived_at
            tally.handle_seconds += handle
            self.group_tallies[agent.group].handled += 1
            self.pending -= 1
        self._schedule(self.now + handle, lambda: self._finish(work, agent))

    def _set_presence(self, agent: _Agent, presence: Presence, reason: str | None = None) -> None:
        self._count_occupancy(agent, self.now)
        agent.presence = presence
        self._apply(self.engine.set_presence(agent.id, presence, reason))

    # bookkeeping

    def _schedule(self, at: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.events, (at, next(self.sequence), action))

    def _tick_when_due(self) -> None:
        """Keep a tick waiting for the engine's next timer (overflow steps, offer expiries...),
        which only act when the engine is told to tick."""
        due = self.engine.next_due()
        if due is not None and (self.tick_at is None or due < self.tick_at):
            self.tick_at = max(due, self.now)
            self._schedule(self.tick_at, self._tick)

    def _schedule_arrival(self, queue: Queue) -> None:
        """Poisson arrivals at a rate that changes on the hour: draw the gap at this hour's rate,
        and if it ends past the hour, draw again from the hour (exact, since the exponential has
        no memory)."""
        rates = queue.arrivals_per_hour
        if not any(rates):
            return
        at = self.now
        while True:
            hour_end = (at // SECONDS_PER_HOUR + 1) * SECONDS_PER_HOUR
            rate = rates[int(at // SECONDS_PER_HOUR) % len(rates)]
            if rate:
                candidate = at + self.random.expovariate(rate / SECONDS_PER_HOUR)
                if candidate < hour_end:
                    self._schedule(candidate, lambda: self._arrive(queue))
                    return
            at = hour_end

    def _value_rank(self, queue: Queue) -> int:
        ranks, cumulative_weights = self.value_mixes[queue.name]
        if len(ranks) == 1:
            return ranks[0]
        [rank] = self.random.choices(ranks, cum_weights=cumulative_weights)
        return rank

    def _draw(self, distribution: Distribution) -> float:
        if distribution.distribution == "exponential":
            return self.random.expovariate(1 / distribution.mean)
        return self.random.lognormvariate(*distribution.log_mean_and_sigma)

    def _count_occupancy(self, agent: _Agent, until: float) -> None:
        """Add the agent's time since its last change, within the measured hours, to its group."""
        start, end = max(agent.since, self.measure_from), min(until, self.measure_until)
        if end > start:
            tally = self.group_tallies[agent.group]
            if agent.held:
                tally.handling_seconds += end - start
            elif agent.presence is Presence.AVAILABLE:
                tally.idle_seconds += end - start
        agent.since = until

    # results

    def _result(self) -> SimulationResult:
        for work in self.work.values():
            if work.measured and work.waiting:
                self.queue_tallies[work.queue.name].contacts.append(
                    Contact(_moment(work.item.arrived_at))
                )
        short_abandon_seconds = self.scenario.simulation.short_abandon_seconds
        measures = {
            queue.name: queue_measures(
                self.queue_tallies[queue.name].contacts,
                queue.sl_threshold_seconds,
                short_abandon_seconds,
            )
            for queue in self.scenario.queues
        }
        return SimulationResult(
            scenario=self.scenario.name,
            seed=self.scenario.simulation.seed,
            hours=self.hours,
            warm_up_hours=self.scenario.simulation.warm_up_hours,
            queues={
                name: _queue_result(measure, self.queue_tallies[name])
                for name, measure in measures.items()
            },
            total=_all_queues_result(list(measures.values()), list(self.queue_tallies.values())),
            agent_groups={
                group.name: GroupResult(
                    agents=group.count,
                    handled=self.group_tallies[group.name].handled,
                    occupancy=_occupancy([self.group_tallies[group.name]]),
                )
                for group in self.scenario.agents
            },
            occupancy=_occupancy(self.group_tallies.values()),
        )


def _queue_result(measures: QueueMeasures, tally: _QueueTally) -> QueueResult:
    resolved = measures.answered + measures.abandoned
    return QueueResult(
        offered=measures.offered,
        answered=measures.answered,
        abandoned=measures.abandoned,
        short_abandoned=measures.short_abandoned,
        unresolved=measures.offered - resolved,
        service_level=measures.service_level,
        asa_seconds=measures.asa_seconds,
        aht_seconds=_ratio(tally.handle_seconds, measures.answered),
        probability_of_waiting=_ratio(tally.waited, resolved),
        abandonment_rate=measures.abandonment_rate,
    )


def _all_queues_result(
    measures: Sequence[QueueMeasures], tallies: Sequence[_QueueTally]
) -> QueueResult:
    """KPI.md's formulas over the queues' summed counts: each queue's answers were judged against
    its own threshold, so the contacts cannot simply be measured again all together."""
    offered = sum(m.offered for m in measures)
    answered = sum(m.answered for m in measures)
    abandoned = sum(m.abandoned for m in measures)
    short = sum(m.short_abandoned for m in measures)
    waited = sum(tally.waited for tally in tallies)
    handle_seconds = sum(tally.handle_seconds for tally in tallies)
    return QueueResult(
        offered=offered,
        answered=answered,
        abandoned=abandoned,
        short_abandoned=short,
        unresolved=offered - answered - abandoned,
        service_level=_ratio(
            sum(m.answered_within_threshold for m in measures), answered + abandoned - short
        ),
        asa_seconds=_ratio(sum((m.asa_seconds or 0.0) * m.answered for m in measures), answered),
        aht_seconds=_ratio(handle_seconds, answered),
        probability_of_waiting=_ratio(waited, answered + abandoned),
        abandonment_rate=_ratio(abandoned - short, offered - short),
    )


def _value_mix(queue: Queue) -> tuple[list[int], list[float]]:
    weighted = [(tier, weight) for tier, weight in queue.value_mix.items() if weight > 0]
    ranks = [VALUE_TIERS.index(tier) for tier, _ in weighted]
    return ranks, list(itertools.accumulate(weight for _, weight in weighted))


def _occupancy(tallies: Iterable[_GroupTally]) -> float | None:
    handling = idle = 0.0
    for tally in tallies:
        handling += tally.handling_seconds
        idle += tally.idle_seconds
    return _ratio(handling, handling + idle)


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _moment(seconds: float) -> datetime:
    return SIMULATED_EPOCH + timedelta(seconds=seconds)


def _id(kind: str, name: str) -> uuid.UUID:
    return uuid.uuid5(_ID_NAMESPACE, f"{kind}:{name}")


def _skill_id(tenant: str, skill: str) -> uuid.UUID:
    # Skills belong to one tenant each: "billing" at two client companies is two skills.
    return _id("skill", f"{tenant}/{skill}")


def _queue_cells(measures: QueueResult) -> list[str]:
    return [
        str(measures.offered),
        str(measures.answered),
        str(measures.abandoned),
        str(measures.short_abandoned),
        str(measures.unresolved),
        _percent(measures.service_level),
        _seconds(measures.asa_seconds),
        _seconds(measures.aht_seconds),
        _percent(measures.probability_of_waiting),
        _percent(measures.abandonment_rate),
    ]


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.1%}"


def _seconds(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}"


def _aligned(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Text columns: the first (names) left-aligned, the figures right-aligned."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [headers, *rows]
    )
