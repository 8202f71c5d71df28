"""The matching engine: which work goes to which agent, and when. Pure: no I/O, clock injected.

Times are float seconds on the injected clock (epoch seconds in production, simulated seconds in
``centralita simulate``). Ids are UUIDs. Each command reads the clock once and acts at that
instant. Whatever follows from time passing (offer and wrap-up timeouts, overflow steps, affinity
windows) happens in ``tick()``, which the runner calls often and the simulation at ``next_due()``.
A command that does not fit the state raises ``RoutingError`` and changes nothing.

Routing policy
==============

Eligibility (E): an agent may be offered a waiting item only when all of these hold.

E1  The agent serves the item's tenant.
E2  Skills. The item's overflow step is how many of its queue's overflow steps, in order of
    ``after_seconds``, it has waited for (now - arrived_at), as of when it last looked for an
    agent: on arrival or return, and at the ``tick`` that sees the next step reached. Steps are
    cumulative: at step k every queue skill requires min(queue minimum, ``min_level`` of steps
    1..k), and the ``extra_queue_ids`` of steps 1..k all apply. The agent qualifies with every
    queue skill at the relaxed minimum, or with every skill of one of those extra queues at that
    queue's own minimums (see ``skills_fit``).
E3  Language: the item's language, else its queue's, if either is set, is one the agent speaks.
E4  The agent is AVAILABLE.
E5  Capacity: the agent holds fewer items of the item's Load than their capacity for it (offered,
    active and wrap-up work all count). Voice is exclusive both ways: an agent holding voice
    work takes nothing else, and voice work goes only to an agent holding nothing.
E6  Refusals: an agent who rejected or missed the item is not offered it again while it waits.
    When every agent meeting E1-E3 for it has refused it, the refusals are forgotten, so no
    item is stranded by them (a queue's only agent gets it straight back).

Work order (O): an agent who can take work (became AVAILABLE, freed capacity, was re-indexed)
is offered the first item they are eligible for across all their queues and tenants, again and
again until they are full or nothing fits. First means, in turn:
O1  higher priority class, queue.priority + item.priority;
O2  earlier SLA deadline, item.deadline or else arrived_at + queue.sl_threshold_seconds;
O3  higher customer value_rank;
O4  earlier arrived_at;
O5  enqueued first (FIFO among equals). Work returned to its queue keeps its place.
None of this changes with time, so each queue's waiting work is sorted once; ``position`` and
the work order agree.

Agent choice (A): work that arrives, returns to its queue, reaches an overflow step or ends an
affinity wait is offered at once to one eligible agent, or else waits:
A1  Affinity: an eligible preferred_agent_id gets it. Otherwise, while now < arrived_at +
    queue.affinity_wait_seconds, it waits for them (nobody else is offered it) provided they are
    signed in (not OFFLINE) and meet E1-E3 and E6: they get it as soon as they can take it, in
    work order (O) among their other work. The window's end or the agent going OFFLINE lets
    anyone have it. An OFFLINE preferred agent is not waited for.
A2  higher proficiency: sum of the agent's levels in the queue's required skills (a skill they
    lack, possible through overflow, counts 0);
A3  agents at or under their occupancy cap before those above it;
A4  lower occupancy;
A5  longest idle: earliest of the last time work left them and the last time they became
    AVAILABLE;
A6  lower agent id, so that the choice is deterministic.
Occupancy is the share of signed-in (non-OFFLINE) time spent holding at least one item, with
each moment weighted by exp(-age / 30 min) in place of a hard trailing 30-minute window
(``_engine_parts.OccupancyMeter``); 0 for an agent never signed in.

Offers (F):
F1  An offer is Decision(OFFERED, agent, work, tenant, queue, at, expires_at=at +
    queue.offer_timeout_seconds) and takes the agent's capacity at once.
F2  auto_accept queues: auto_accepted=True, expires_at=None, the work is active at once.
F3  ``accept``: only the agent's pending offer (else RoutingError); the work becomes active
    (its handle time starts) and the agent's missed-offer count resets.
F4  ``reject``: only the agent's pending offer (else RoutingError). The work goes back to its
    queue in its old place (arrived_at and order kept), the agent is excluded from it (E6), it
    is offered to the next agent (A), then the rejecting agent may be offered other work (O).
    A reject answers the offer: it is not a miss, and it resets the missed-offer count.
F5  Expiry (``tick``): OFFER_EXPIRED, then as a reject, except that it is a miss.
F6  MISSED_OFFERS_BEFORE_AWAY consecutive misses move an AVAILABLE agent to AWAY with reason
    MISSED_REASON: PRESENCE_CHANGED(presence=AWAY, reason="missed"), before the work is
    offered again. The agent's other pending offers are left to be answered or to run out.
    Any ``set_presence`` of the agent resets the count.

Time (T): ``tick()`` handles the events due at clock() in due order, each in O(log n) (a timer
heap with lazily cancelled entries). Decisions reporting an event carry its due time; offers it
leads to carry the tick's time. Events scheduled during a tick wait for the next one.
T1  offer expiries (F5);
T2  wrap-up timeouts: work in wrap-up for the agent's wrap_up_seconds leaves the agent
    (WRAP_UP_EXPIRED, its handle time observed as for ``finish``); the freed capacity pulls (O);
T3  presence WRAP_UP lasts the agent's wrap_up_seconds, then AVAILABLE: PRESENCE_CHANGED
    (presence=AVAILABLE, reason None) and the agent pulls (O);
T4  overflow steps reached: the item looks for an agent among those now eligible (A);
T5  affinity windows ending: the item looks for any agent (A).

Presence and configuration (P):
P1  ``set_presence(AVAILABLE)`` pulls work (O): possibly several offers.
P2  AWAY, WRAP_UP and OFFLINE stop new offers; pending offers and held work stay. OFFLINE also
    ends the affinity waits for that agent (A1).
P3  ``upsert_agent``: a new agent starts OFFLINE. A known agent keeps presence, held work and
    counters (held work stays even when they no longer qualify or capacity shrinks); their
    eligibility is re-indexed and the offers this makes possible are returned.
P4  ``upsert_queue``: a queue never changes tenant and serves channels of LOAD_OF_CHANNEL
    (RoutingError). Its waiting work is re-sorted and looks for agents again under the new
    settings; queues naming it as an extra queue are re-indexed too; the offers are returned.
    Offers and held work keep the terms they were made with.
P5  ``remove_queue``: RoutingError while work waits in the queue or is offered from it (it
    would have nowhere to return to). Its active and wrap-up work may still finish or transfer.

Work (W):
W1  ``enqueue``: RoutingError for an unknown queue, a known work id, another tenant's item or a
    channel the queue does not serve. Then A: offered, or it waits.
W2  ``withdraw``: the work is forgotten wherever it is (RoutingError if unknown); an agent
    holding it gets the capacity back and pulls (O). Its handle time is not observed.
W3  ``wrap_up``: active work only (RoutingError); it keeps its capacity until ``finish`` or T2.
W4  ``finish``: active or wrap-up work only (RoutingError); its handle time (accept to now) is
    observed for its queue; the freed capacity pulls (O).
W5  ``transfer``: held work past its offer (active or wrap-up), to exactly one of queue_id /
    agent_id (RoutingError). To a queue (same tenant, serving the channel): the work re-enters
    it keeping arrived_at and enqueue order, refusals forgotten except the sender's (the sender
    is not offered it back, unless nobody else qualifies: E6), its handle time observed; it
    looks for an agent (A), then the sender pulls (O). To an agent: they must be AVAILABLE,
    serve the tenant and have free capacity for its Load (E1, E4, E5; skills, language and
    refusals are not checked), and its queue must still exist, else RoutingError; it is offered
    to them on its queue's terms (F1, F2; a reject or miss returns it to that queue), then the
    sender pulls (O).
W6  ``restore_held`` rebuilds work an agent holds after a restart, without decisions: an offer
    expiring at ``until`` (default: the queue's offer timeout from now), active work, or wrap-up
    ending at ``until`` (default: the agent's wrap_up_seconds from now). Capacity is taken even
    beyond the agent's limits; handle time counts from the restore. The queue may be unknown
    (removed): such work can still finish or transfer, and if its offer is rejected or runs out
    it leaves the engine instead of returning to a queue.

Questions (Q):
Q1  ``position``: 1-based place of waiting work in its queue's work order (O).
Q2  ``estimated_wait``: (waiting + 1) × average handle time ÷ max(1, total capacity of the
    signed-in agents eligible at the queue's base levels, each counted with their largest
    capacity among the queue's Loads). The average is an exponential moving average (weight
    0.1) of handle times observed by W4, W5 and T2; 180 s until the first.
Q3  ``snapshot``: per queue, waiting count (affinity waits included), longest wait, Q2, and the
    agents eligible at base levels by state: offline, available, away, wrap_up (presence) or
    busy (AVAILABLE but, holding work, without free capacity for any of the queue's Loads, e.g.
    holding voice). Q2 and Q3 cost O(eligible agents) per queue.
Q4  ``held_by``: (work id, how held, until) per item an agent holds; ``agent_presence``:
    (presence, reason); ``locate``: where a piece of work is (WorkLocation), None if unknown;
    ``occupancy``: A4's figure now; ``is_eligible``: E1-E6 for an agent and a waiting item,
    evaluated from the specs rather than the indexes; ``next_due``: when ``tick`` next has
    something to do (at worst a little early).

How it is fast (``_engine_index``): each queue keeps its waiting work sorted once in work order,
in lanes of items that the same agents may take, and lists its eligible agents who are free now
by Load and proficiency. An agent freeing up visits their queues by head and reads one queue's
lanes; arriving work ranks only free eligible agents. Indexes are rebuilt for an agent or queue
on upsert; every other change costs O(log n), plus O(queues of the agent) when an agent's room
for a Load opens or closes.
"""

import itertools
import uuid
from collections.abc import Iterable
from dataclasses import replace

from centralita.routing import _engine_index as index
from centralita.routing._engine_index import (
    BUSY,
    OFFLINE,
    AgentState,
    QueueState,
    WorkState,
    required_language,
    skills_fit,
)
from centralita.routing._engine_parts import OccupancyMeter, TimerHeap, cancel
from centralita.routing._engine_types import (
    DEFAULT_AFFINITY_WAIT_SECONDS,
    DEFAULT_CAPACITY,
    DEFAULT_OCCUPANCY_CAP,
    DEFAULT_OFFER_TIMEOUT_SECONDS,
    LOAD_OF_CHANNEL,
    MISSED_OFFERS_BEFORE_AWAY,
    MISSED_REASON,
    AgentSpec,
    Clock,
    Decision,
    DecisionKind,
    Held,
    Load,
    OverflowStep,
    Presence,
    QueueSnapshot,
    QueueSpec,
    RoutingError,
    WorkItem,
    WorkLocation,
)

__all__ = [
    "DEFAULT_AFFINITY_WAIT_SECONDS",
    "DEFAULT_CAPACITY",
    "DEFAULT_OCCUPANCY_CAP",
    "DEFAULT_OFFER_TIMEOUT_SECONDS",
    "LOAD_OF_CHANNEL",
    "MISSED_OFFERS_BEFORE_AWAY",
    "MISSED_REASON",
    "AgentSpec",
    "Clock",
    "Decision",
    "DecisionKind",
    "Engine",
    "Held",
    "Load",
    "OverflowStep",
    "Presence",
    "QueueSnapshot",
    "QueueSpec",
    "RoutingError",
    "WorkItem",
    "WorkLocation",
    "required_language",
    "skills_fit",
]

# Held work that has been accepted. (Looking enum members up on their class is slow on Python
# 3.11; the hot paths use module-level names.)
_PAST_OFFER = frozenset({Held.ACTIVE, Held.WRAP_UP})
_ACTIVE = Held.ACTIVE
_OFFERED = Held.OFFERED
_OFFERED_DECISION = DecisionKind.OFFERED


class Engine:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._queues: dict[uuid.UUID, QueueState] = {}
        self._specs: dict[uuid.UUID, QueueSpec] = {}
        self._queues_by_tenant: dict[uuid.UUID, dict[uuid.UUID, QueueState]] = {}
        # queue id -> ids of the queues whose overflow names it as an extra queue
        self._referrers: dict[uuid.UUID, set[uuid.UUID]] = {}
        self._agents: dict[uuid.UUID, AgentState] = {}
        self._agents_by_tenant: dict[uuid.UUID, dict[uuid.UUID, AgentState]] = {}
        self._works: dict[uuid.UUID, WorkState] = {}
        self._timers: TimerHeap[list[Decision]] = TimerHeap()
        self._sequence = itertools.count()
        # The timers' actions, bound once rather than for every timer.
        self._on_offer_expiry = self._expire_offer
        self._on_wrap_up_end = self._end_wrap_up
        self._on_overflow_or_affinity_due = self._reroute
        self._on_presence_wrap_up_end = self._end_presence_wrap_up

    # configuration

    def upsert_queue(self, spec: QueueSpec) -> list[Decision]:
        """Rule P4."""
        unknown = spec.channels - LOAD_OF_CHANNEL.keys()
        if unknown:
            raise RoutingError(f"unknown channels {sorted(unknown)}")
        queue = self._queues.get(spec.id)
        if queue is None:
            queue = QueueState(spec)
            self._queues[spec.id] = queue
            self._queues_by_tenant.setdefault(spec.tenant_id, {})[spec.id] = queue
        elif queue.spec.tenant_id != spec.tenant_id:
            raise RoutingError("a queue cannot move to another tenant")
        else:
            self._forget_referrals(queue.spec)
        self._specs[spec.id] = spec
        for step in spec.overflow:
            for extra_id in step.extra_queue_ids:
                self._referrers.setdefault(extra_id, set()).add(spec.id)
        now = self.clock()
        decisions = self._reconfigure(queue, spec, now)
        # Agents with this queue's skills may now qualify for the queues overflowing into it.
        for referrer_id in sorted(self._referrers.get(spec.id, set()) - {spec.id}):
            referrer = self._queues[referrer_id]
            decisions += self._reconfigure(referrer, referrer.spec, now)
        return decisions

    def remove_queue(self, queue_id: uuid.UUID) -> None:
        """Rule P5."""
        queue = self._queue(queue_id)
        if queue.waiting:
            raise RoutingError("work is waiting in the queue")
        if any(
            work.held is Held.OFFERED and work.item.queue_id == queue_id
            for work in self._works.values()
        ):
            raise RoutingError("work offered from the queue could return to it")
        for agent in queue.eligible:
            del agent.candidacies[queue_id]
        del self._queues[queue_id]
        del self._specs[queue_id]
        del self._queues_by_tenant[queue.spec.tenant_id][queue_id]
        self._forget_referrals(queue.spec)
        # Fewer agents qualify for the queues overflowing into it: no work can move.
        for referrer_id in self._referrers.get(queue_id, set()):
            referrer = self._queues[referrer_id]
            index.index_queue(referrer, referrer.spec, self._tenant_agents(referrer), self._specs)

    def upsert_agent(self, spec: AgentSpec) -> list[Decision]:
        """Rule P3."""
        now = self.clock()
        agent = self._agents.get(spec.id)
        if agent is None:
            agent = AgentState(spec, OccupancyMeter(now), idle_since=now)
            self._agents[spec.id] = agent
        else:
            index.drop_candidacies(agent)
            for tenant_id in agent.spec.tenants:
                del self._agents_by_tenant[tenant_id][spec.id]
        index.set_spec(agent, spec)
        agent.free_loads = index.free_loads_of(agent)
        for tenant_id in spec.tenants:
            self._agents_by_tenant.setdefault(tenant_id, {})[spec.id] = agent
            for queue in self._queues_by_tenant.get(tenant_id, {}).values():
                index.add_candidacy(agent, queue, self._specs)
        decisions = self._reroute_reserved(agent, now)
        return decisions + self._pull(agent, now)

    # agent state

    def set_presence(
        self, agent_id: uuid.UUID, presence: Presence, reason: str | None = None
    ) -> list[Decision]:
        """Rules P1, P2, T3; resets the missed-offer count (F6)."""
        agent = self._agent(agent_id)
        agent.missed_offers = 0
        return self._change_presence(agent, presence, reason, self.clock())

    # work

    def enqueue(self, item: WorkItem) -> list[Decision]:
        """Rule W1."""
        if item.id in self._works:
            raise RoutingError("work already known")
        self._check_fits(item, self._queue(item.queue_id).spec)
        return self._route(self._new_work(item), self.clock())

    def restore_held(
        self, item: WorkItem, agent_id: uuid.UUID, held: Held, until: float | None = None
    ) -> None:
        """Rebuild from the database: work an agent already holds. ``until`` is the offer's
        expiry or the wrap-up's end (rule W6)."""
        if item.id in self._works:
            raise RoutingError("work already known")
        agent = self._agent(agent_id)
        queue = self._queues.get(item.queue_id)
        if queue is not None:
            self._check_fits(item, queue.spec)
        elif item.channel not in LOAD_OF_CHANNEL:
            raise RoutingError(f"unknown channel {item.channel!r}")
        now = self.clock()
        work = self._new_work(item)
        if queue is not None:
            index.derive(work, queue, now)
        work.agent = agent
        work.held = held
        if held is Held.OFFERED:
            timeout = (
                DEFAULT_OFFER_TIMEOUT_SECONDS if queue is None else queue.spec.offer_timeout_seconds
            )
            expiry = now + timeout if until is None else until
            work.until = expiry
            work.hold_timer = self._timers.schedule(expiry, self._on_offer_expiry, work)
        else:
            work.handle_started = now
            if held is Held.WRAP_UP:
                end = now + agent.spec.wrap_up_seconds if until is None else until
                work.until = end
                work.hold_timer = self._timers.schedule(end, self._on_wrap_up_end, work)
        self._hold(agent, work, now)
        index.refresh_free(agent)

    def accept(self, work_id: uuid.UUID, agent_id: uuid.UUID) -> None:
        """Rule F3."""
        work, agent = self._pending_offer(work_id, agent_id)
        cancel(work.hold_timer)
        work.held = _ACTIVE
        work.until = None
        work.handle_started = self.clock()
        agent.missed_offers = 0

    def reject(self, work_id: uuid.UUID, agent_id: uuid.UUID) -> list[Decision]:
        """Rule F4."""
        work, agent = self._pending_offer(work_id, agent_id)
        agent.missed_offers = 0
        return self._return_to_queue(work, agent, self.clock())

    def withdraw(self, work_id: uuid.UUID) -> list[Decision]:
        """Forget the work wherever it is (abandoned, ended elsewhere, persistence refused).
        Rule W2."""
        work = self._work(work_id)
        del self._works[work_id]
        if work.agent is None:
            self._unplace(work)
            return []
        now = self.clock()
        return self._pull(self._release(work, work.agent, now), now)

    def wrap_up(self, work_id: uuid.UUID) -> None:
        """Active work enters wrap-up: it keeps its capacity until ``finish`` or the timeout.
        Rule W3."""
        work = self._work(work_id)
        agent = work.agent
        if work.held is not Held.ACTIVE or agent is None:
            raise RoutingError("only active work can enter wrap-up")
        work.held = Held.WRAP_UP
        end = self.clock() + agent.spec.wrap_up_seconds
        work.until = end
        work.hold_timer = self._timers.schedule(end, self._on_wrap_up_end, work)

    def finish(self, work_id: uuid.UUID) -> list[Decision]:
        """The work leaves its agent for good; the freed capacity pulls the next work. Rule W4."""
        work = self._work(work_id)
        agent = work.agent
        if work.held not in _PAST_OFFER or agent is None:
            raise RoutingError("only active or wrap-up work can finish")
        now = self.clock()
        del self._works[work_id]
        self._observe_handle_time(work, now)
        return self._pull(self._release(work, agent, now), now)

    def transfer(
        self,
        work_id: uuid.UUID,
        *,
        queue_id: uuid.UUID | None = None,
        agent_id: uuid.UUID | None = None,
    ) -> list[Decision]:
        """Rule W5."""
        work = self._work(work_id)
        sender = work.agent
        if work.held not in _PAST_OFFER or sender is None:
            raise RoutingError("only active or wrap-up work can be transferred")
        now = self.clock()
        if queue_id is not None and agent_id is None:
            moved = replace(work.item, queue_id=queue_id)
            self._check_fits(moved, self._queue(queue_id).spec)
            self._observe_handle_time(work, now)
            self._release(work, sender, now)
            work.item = moved
            work.refused_by = frozenset({sender.spec.id})
            decisions = self._route(work, now)
        elif agent_id is not None and queue_id is None:
            target = self._agent(agent_id)
            if work.item.queue_id not in self._queues:
                raise RoutingError("the work's queue no longer exists")
            free_loads = index.free_loads_of(target)
            if (
                target is sender
                or work.item.tenant_id not in target.spec.tenants
                or work.load not in free_loads
            ):
                raise RoutingError("the agent cannot take the work now")
            self._observe_handle_time(work, now)
            self._release(work, sender, now)
            work.refused_by = frozenset()
            decisions = [self._offer(work, target, now)]
            index.refresh_free(target)
        else:
            raise RoutingError("transfer to exactly one of a queue or an agent")
        return decisions + self._pull(sender, now)

    def tick(self) -> list[Decision]:
        """Rules T1-T5."""
        now = self.clock()
        scheduled_before = self._timers.mark()
        decisions: list[Decision] = []
        while (timer := self._timers.pop_due(now, scheduled_before)) is not None:
            decisions += timer.fire(now)
        return decisions

    # questions

    def position(self, work_id: uuid.UUID) -> int:
        """Rule Q1."""
        work = self._work(work_id)
        if work.lane is None:
            raise RoutingError("the work is not waiting")
        return index.position(work, self._queues[work.item.queue_id])

    def estimated_wait(self, queue_id: uuid.UUID) -> float:
        """Rule Q2."""
        queue = self._queue(queue_id)
        servers = sum(
            max((agent.spec.capacity.get(load, 0) for load in queue.loads), default=0)
            for agent, candidacy in queue.eligible.items()
            if candidacy.entry_step == 0 and agent.presence is not Presence.OFFLINE
        )
        return (queue.waiting + 1) * queue.handle_time.seconds / max(1, servers)

    def snapshot(self, queue_ids: Iterable[uuid.UUID] | None = None) -> list[QueueSnapshot]:
        """Rule Q3; all queues when ``queue_ids`` is None."""
        now = self.clock()
        ids = list(self._queues) if queue_ids is None else list(queue_ids)
        queues = [self._queue(queue_id) for queue_id in ids]
        snapshots = []
        for queue in queues:
            counts = dict.fromkeys([*(presence.value for presence in Presence), BUSY], 0)
            for agent, candidacy in queue.eligible.items():
                if candidacy.entry_step == 0:
                    counts[index.snapshot_state(agent, queue)] += 1
            oldest = index.oldest_arrival(queue)
            snapshots.append(
                QueueSnapshot(
                    queue_id=queue.spec.id,
                    waiting=queue.waiting,
                    longest_wait_seconds=0.0 if oldest is None else max(0.0, now - oldest),
                    estimated_wait_seconds=self.estimated_wait(queue.spec.id),
                    agents_by_presence=counts,
                )
            )
        return snapshots

    def held_by(self, agent_id: uuid.UUID) -> list[tuple[uuid.UUID, Held, float | None]]:
        """What the agent holds: (work id, how, offer expiry or wrap-up end). Rule Q4."""
        held = sorted(self._agent(agent_id).held, key=lambda work: work.seq)
        return [(work.item.id, work.held, work.until) for work in held if work.held is not None]

    def agent_presence(self, agent_id: uuid.UUID) -> tuple[Presence, str | None]:
        """(presence, reason). Rule Q4."""
        agent = self._agent(agent_id)
        return agent.presence, agent.reason

    def locate(self, work_id: uuid.UUID) -> WorkLocation | None:
        """Where the work is; None if the engine does not know it. Rule Q4."""
        work = self._works.get(work_id)
        if work is None:
            return None
        agent_id = None if work.agent is None else work.agent.spec.id
        return WorkLocation(work.item.queue_id, agent_id, work.held, work.until)

    def occupancy(self, agent_id: uuid.UUID) -> float:
        """The agent's recent occupancy, as rule A4 compares it."""
        return self._agent(agent_id).meter.value(self.clock())

    def is_eligible(self, agent_id: uuid.UUID, work_id: uuid.UUID) -> bool:
        """Rules E1-E6 for waiting work, from the specs rather than the indexes; False for held
        work."""
        agent = self._agent(agent_id)
        work = self._work(work_id)
        if work.lane is None:
            return False
        queue = self._queues[work.item.queue_id]
        return (
            work.item.tenant_id in agent.spec.tenants
            and skills_fit(agent.spec, queue.spec, work.stage, self._specs)
            and (work.language is None or work.language in agent.spec.languages)
            and work.load in index.free_loads_of(agent)
            and agent_id not in work.refused_by
        )

    def next_due(self) -> float | None:
        """When ``tick`` next has something to do, or None (at worst a little early)."""
        return self._timers.next_due()

    # lookups

    def _queue(self, queue_id: uuid.UUID) -> QueueState:
        queue = self._queues.get(queue_id)
        if queue is None:
            raise RoutingError(f"unknown queue {queue_id}")
        return queue

    def _agent(self, agent_id: uuid.UUID) -> AgentState:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise RoutingError(f"unknown agent {agent_id}")
        return agent

    def _work(self, work_id: uuid.UUID) -> WorkState:
        work = self._works.get(work_id)
        if work is None:
            raise RoutingError(f"unknown work {work_id}")
        return work

    def _pending_offer(
        self, work_id: uuid.UUID, agent_id: uuid.UUID
    ) -> tuple[WorkState, AgentState]:
        work = self._works.get(work_id)
        if work is None or work.held is not _OFFERED or work.agent is None:
            raise RoutingError("no such pending offer")
        if work.agent.spec.id != agent_id:
            raise RoutingError("the offer is another agent's")
        return work, work.agent

    @staticmethod
    def _check_fits(item: WorkItem, queue: QueueSpec) -> None:
        if item.tenant_id != queue.tenant_id:
            raise RoutingError("the work belongs to another tenant than the queue")
        if item.channel not in queue.channels:
            raise RoutingError(f"the queue does not serve {item.channel!r}")

    def _new_work(self, item: WorkItem) -> WorkState:
        work = WorkState(item, next(self._sequence), LOAD_OF_CHANNEL[item.channel])
        self._works[item.id] = work
        return work

    def _tenant_agents(self, queue: QueueState) -> Iterable[AgentState]:
        return self._agents_by_tenant.get(queue.spec.tenant_id, {}).values()

    def _forget_referrals(self, spec: QueueSpec) -> None:
        for step in spec.overflow:
            for extra_id in step.extra_queue_ids:
                self._referrers.get(extra_id, set()).discard(spec.id)

    def _reconfigure(self, queue: QueueState, spec: QueueSpec, now: float) -> list[Decision]:
        """Re-index the queue under ``spec``; its waiting work looks for agents again."""
        waiting = index.waiting_in_order(queue)
        for work in waiting:
            self._unplace(work)
        index.index_queue(queue, spec, self._tenant_agents(queue), self._specs)
        decisions = []
        for work in waiting:
            decisions += self._route(work, now)
        return decisions

    # waiting work

    def _route(self, work: WorkState, now: float) -> list[Decision]:
        """Rules A1-A6: offer the work to an agent now, or leave it waiting."""
        queue = self._queues[work.item.queue_id]
        index.derive(work, queue, now)
        if work.refused_by and index.refused_by_everyone(work, queue):
            work.refused_by = frozenset()  # rule E6
        preferred_id = work.item.preferred_agent_id
        preferred = None if preferred_id is None else self._agents.get(preferred_id)
        agent = None
        if preferred is not None:
            if index.can_take(preferred, work):
                agent = preferred
            elif index.waits_for(preferred, work, queue, now):
                self._place(work, queue, preferred)
                return []
        if agent is None:
            agent = index.best_free_agent(work, queue, now)
        if agent is None:
            self._place(work, queue, None)
            return []
        decision = self._offer(work, agent, now)
        index.refresh_free(agent)
        return [decision]

    def _place(self, work: WorkState, queue: QueueState, reserved_for: AgentState | None) -> None:
        """The work waits, until its next overflow step or the end of the wait for its
        preferred agent, when it looks for an agent again."""
        index.place(work, queue, reserved_for)
        arrived_at = work.item.arrived_at
        if work.stage < len(queue.step_times):
            step_at = arrived_at + queue.step_times[work.stage]
            work.stage_timer = self._timers.schedule(
                step_at, self._on_overflow_or_affinity_due, work
            )
        if reserved_for is not None:
            wait_end = arrived_at + queue.spec.affinity_wait_seconds
            work.affinity_timer = self._timers.schedule(
                wait_end, self._on_overflow_or_affinity_due, work
            )

    def _unplace(self, work: WorkState) -> None:
        index.unplace(work, self._queues[work.item.queue_id])
        cancel(work.stage_timer)
        cancel(work.affinity_timer)

    def _reroute(self, work: WorkState, _due: float, now: float) -> list[Decision]:
        """Rules T4, T5."""
        self._unplace(work)
        return self._route(work, now)

    def _reroute_reserved(self, agent: AgentState, now: float) -> list[Decision]:
        """The work kept for the agent (A1) looks for an agent again, in work order."""
        decisions = []
        for work in sorted(agent.reserved, key=lambda reserved: reserved.key[:5]):
            self._unplace(work)
            decisions += self._route(work, now)
        return decisions

    def _pull(self, agent: AgentState, now: float) -> list[Decision]:
        """Rules O1-O5: offer the agent the first work they may take, until they are full.
        Then list the agent in the free sets as they are now: an agent who frees up and fills
        again at once is not delisted and relisted in every queue they serve."""
        decisions = []
        while free_loads := index.free_loads_of(agent):
            work = index.best_work_for(agent, free_loads)
            if work is None:
                break
            self._unplace(work)
            decisions.append(self._offer(work, agent, now))
        index.refresh_free(agent)
        return decisions

    # held work

    def _offer(self, work: WorkState, agent: AgentState, now: float) -> Decision:
        """Rules F1, F2. The caller brings the free sets up to date (``index.refresh_free``)."""
        spec = self._queues[work.item.queue_id].spec
        work.agent = agent
        if spec.auto_accept:
            work.held = _ACTIVE
            work.until = None
            work.handle_started = now
        else:
            expiry = now + spec.offer_timeout_seconds
            work.held = _OFFERED
            work.until = expiry
            work.hold_timer = self._timers.schedule(expiry, self._on_offer_expiry, work)
        self._hold(agent, work, now)
        item = work.item
        return Decision(
            _OFFERED_DECISION,
            agent.spec.id,
            item.id,
            item.tenant_id,
            item.queue_id,
            at=now,
            expires_at=work.until,
            auto_accepted=spec.auto_accept,
        )

    def _hold(self, agent: AgentState, work: WorkState, now: float) -> None:
        agent.meter.record(now, signed_in=agent.presence is not OFFLINE, busy=True)
        agent.held.add(work)
        agent.held_per_load[work.load] = agent.held_per_load.get(work.load, 0) + 1

    def _release(self, work: WorkState, agent: AgentState, now: float) -> AgentState:
        """The work leaves the agent, who gets the capacity back (and is returned). The caller
        brings the free sets up to date, usually by pulling work for the agent."""
        cancel(work.hold_timer)
        agent.held.remove(work)
        agent.held_per_load[work.load] -= 1
        signed_in = agent.presence is not OFFLINE
        agent.meter.record(now, signed_in=signed_in, busy=bool(agent.held))
        agent.idle_since = now
        work.agent = None
        work.held = None
        work.until = None
        work.handle_started = None
        return agent

    def _return_to_queue(self, work: WorkState, agent: AgentState, now: float) -> list[Decision]:
        """Rules F4, F5, E6: the agent refused the work, which looks for someone else; then the
        agent may pull other work."""
        self._release(work, agent, now)
        index.refresh_free(agent)
        queue = self._queues.get(work.item.queue_id)
        if queue is None:
            del self._works[work.item.id]  # rule W6: its queue is gone
            decisions = []
        else:
            work.refused_by |= {agent.spec.id}
            decisions = self._route(work, now)
        return decisions + self._pull(agent, now)

    def _observe_handle_time(self, work: WorkState, now: float) -> None:
        queue = self._queues.get(work.item.queue_id)
        if queue is not None and work.handle_started is not None:
            queue.handle_time.observe(now - work.handle_started)

    # presence and timers

    def _change_presence(
        self, agent: AgentState, presence: Presence, reason: str | None, now: float
    ) -> list[Decision]:
        cancel(agent.presence_timer)
        agent.meter.record(now, signed_in=presence is not Presence.OFFLINE, busy=bool(agent.held))
        if presence is Presence.AVAILABLE and agent.presence is not Presence.AVAILABLE:
            agent.idle_since = now
        agent.presence = presence
        agent.reason = reason
        index.refresh_free(agent)
        if presence is Presence.WRAP_UP:
            agent.presence_timer = self._timers.schedule(
                now + agent.spec.wrap_up_seconds, self._on_presence_wrap_up_end, agent
            )
        if presence is Presence.OFFLINE:
            return self._reroute_reserved(agent, now)
        return self._pull(agent, now)

    def _expire_offer(self, work: WorkState, due: float, now: float) -> list[Decision]:
        """Rules F5, F6."""
        agent = work.agent
        assert agent is not None  # releasing the work cancels this timer
        decisions = [self._about(DecisionKind.OFFER_EXPIRED, work, agent, due)]
        agent.missed_offers += 1
        missed_too_many = agent.missed_offers >= MISSED_OFFERS_BEFORE_AWAY
        if missed_too_many and agent.presence is Presence.AVAILABLE:
            decisions.append(
                Decision(
                    DecisionKind.PRESENCE_CHANGED,
                    agent.spec.id,
                    at=due,
                    presence=Presence.AWAY,
                    reason=MISSED_REASON,
                )
            )
            decisions += self._change_presence(agent, Presence.AWAY, MISSED_REASON, now)
        return decisions + self._return_to_queue(work, agent, now)

    def _end_wrap_up(self, work: WorkState, due: float, now: float) -> list[Decision]:
        """Rule T2."""
        agent = work.agent
        assert agent is not None  # releasing the work cancels this timer
        decision = self._about(DecisionKind.WRAP_UP_EXPIRED, work, agent, due)
        del self._works[work.item.id]
        self._observe_handle_time(work, now)
        return [decision, *self._pull(self._release(work, agent, now), now)]

    def _end_presence_wrap_up(self, agent: AgentState, due: float, now: float) -> list[Decision]:
        """Rule T3."""
        changed = Decision(
            DecisionKind.PRESENCE_CHANGED, agent.spec.id, at=due, presence=Presence.AVAILABLE
        )
        return [changed, *self._change_presence(agent, Presence.AVAILABLE, None, now)]

    @staticmethod
    def _about(kind: DecisionKind, work: WorkState, agent: AgentState, at: float) -> Decision:
        item = work.item
        return Decision(kind, agent.spec.id, item.id, item.tenant_id, item.queue_id, at=at)
