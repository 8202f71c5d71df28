"""Routing decisions of the in-memory engine at contact-center scale, against a naive matcher.

Builds 5,000 agents serving 1-3 of 20 tenants, 200 queues (10 a tenant) over 50 skills, signs
every agent in, fills them to capacity and leaves 50,000 interactions waiting. Then it times
routing decisions, half of each kind at random: "an agent frees up" (``finish`` of held work:
the agent pulls the best eligible work across their queues and tenants) and "an interaction
arrives" (``enqueue``: it looks for a free eligible agent, or waits). Offers are accepted at
once, outside the timing; the clock moves 5 ms a decision and ``tick`` runs every 200.

The same mix then runs on a naive matcher over the engine's final state: a plain scan of every
agent, and for an agent freeing up of every waiting interaction, with the engine's eligibility
rules (``skills_fit``, ``required_language``). Deterministic for a seed. Prints one JSON object.

    .venv/bin/python bench/routing.py [--decisions 100000] [--seed 7]
"""

import argparse
import json
import random
import resource
import statistics
import time
import uuid
from dataclasses import dataclass, field

from centralita.routing.engine import (
    LOAD_OF_CHANNEL,
    AgentSpec,
    Decision,
    DecisionKind,
    Engine,
    Load,
    OverflowStep,
    Presence,
    QueueSpec,
    WorkItem,
    required_language,
    skills_fit,
)

TENANTS = 20
QUEUES_PER_TENANT = 10
SKILLS = 50
AGENTS = 5_000
WAITING = 50_000
SECONDS_PER_DECISION = 0.005
DECISIONS_PER_TICK = 200
NAIVE_DECISIONS = 200
NAIVE_MAX_SECONDS = 6.0
CHANNELS = ("voice", "chat", "email")
CHANNEL_WEIGHTS = (3, 4, 3)
VALUE_RANKS = (0, 1, 2, 3)
VALUE_CUMULATIVE_WEIGHTS = (70, 90, 98, 100)  # mostly standard customers, few platinum


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    """What the bench made, to draw new interactions from and to give the naive matcher."""

    rng: random.Random
    clock: Clock
    queues: list[QueueSpec]
    agents: list[AgentSpec]
    agents_by_tenant: dict[uuid.UUID, list[AgentSpec]]
    items: dict[uuid.UUID, WorkItem] = field(default_factory=dict)  # waiting or held
    waiting: dict[uuid.UUID, WorkItem] = field(default_factory=dict)
    # Held work: ids in a list for O(1) random picks, and each one's agent.
    active: list[uuid.UUID] = field(default_factory=list)
    agent_of: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def build_world(seed: int) -> World:
    rng = random.Random(seed)
    tenants = [_uuid(rng) for _ in range(TENANTS)]
    skills_of: dict[uuid.UUID, list[uuid.UUID]] = {tenant: [] for tenant in tenants}
    for n in range(SKILLS):
        skills_of[tenants[n % TENANTS]].append(_uuid(rng))
    queues = []
    for tenant in tenants:
        ids = [_uuid(rng) for _ in range(QUEUES_PER_TENANT)]
        for queue_id in ids:
            required = rng.sample(skills_of[tenant], rng.randint(1, 2))
            overflow = (
                (
                    OverflowStep(30.0, min_level=1),
                    OverflowStep(120.0, extra_queue_ids=(rng.choice(ids),)),
                )
                if rng.random() < 0.5
                else ()
            )
            queues.append(
                QueueSpec(
                    id=queue_id,
                    tenant_id=tenant,
                    channels=frozenset(rng.choices(CHANNELS, CHANNEL_WEIGHTS)),
                    skills={skill: rng.randint(1, 3) for skill in required},
                    language="en" if rng.random() < 0.1 else None,
                    priority=1 if rng.random() < 0.2 else 0,
                    overflow=overflow,
                )
            )
    agents = []
    agents_by_tenant: dict[uuid.UUID, list[AgentSpec]] = {tenant: [] for tenant in tenants}
    for _ in range(AGENTS):
        served = rng.sample(tenants, rng.choice((1, 1, 2, 2, 3)))
        skills = {
            skill: rng.randint(1, 5)
            for tenant in served
            for skill in skills_of[tenant]
            if rng.random() < 0.7
        }
        languages = frozenset({"es", "en"} if rng.random() < 0.3 else {"es"})
        agent = AgentSpec(_uuid(rng), frozenset(served), skills, languages)
        agents.append(agent)
        for tenant in served:
            agents_by_tenant[tenant].append(agent)
    return World(rng, Clock(), queues, agents, agents_by_tenant)


def new_item(world: World, *, waited_up_to: float) -> WorkItem:
    rng = world.rng
    queue = rng.choice(world.queues)
    preferred = None
    if rng.random() < 0.05 and world.agents_by_tenant[queue.tenant_id]:
        preferred = rng.choice(world.agents_by_tenant[queue.tenant_id]).id
    item = WorkItem(
        id=_uuid(rng),
        tenant_id=queue.tenant_id,
        queue_id=queue.id,
        channel=next(iter(queue.channels)),
        language="en" if rng.random() < 0.05 else None,
        priority=1 if rng.random() < 0.1 else 0,
        value_rank=rng.choices(VALUE_RANKS, cum_weights=VALUE_CUMULATIVE_WEIGHTS)[0],
        arrived_at=world.clock.now - rng.uniform(0.0, waited_up_to),
        preferred_agent_id=preferred,
    )
    world.items[item.id] = item
    world.waiting[item.id] = item
    return item


def take(world: World, engine: Engine, decisions: list[Decision]) -> None:
    """Accept every offer at once, as agents who answer instantly would."""
    for decision in decisions:
        if decision.kind is DecisionKind.OFFERED and decision.work_id is not None:
            if not decision.auto_accepted:
                engine.accept(decision.work_id, decision.agent_id)
            del world.waiting[decision.work_id]
            world.active.append(decision.work_id)
            world.agent_of[decision.work_id] = decision.agent_id


def pop_random_active(world: World) -> uuid.UUID:
    active = world.active
    n = world.rng.randrange(len(active))
    active[n], active[-1] = active[-1], active[n]
    return active.pop()


def fill(world: World, engine: Engine) -> None:
    for queue in world.queues:
        engine.upsert_queue(queue)
    for agent in world.agents:
        engine.upsert_agent(agent)
        engine.set_presence(agent.id, Presence.AVAILABLE)
    while len(world.waiting) < WAITING:
        take(world, engine, engine.enqueue(new_item(world, waited_up_to=600.0)))


def measure_engine(world: World, engine: Engine, decisions: int) -> list[int]:
    latencies = []
    for n in range(decisions):
        world.clock.now += SECONDS_PER_DECISION
        if world.rng.random() < 0.5 and world.active:
            work_id = pop_random_active(world)
            del world.agent_of[work_id]
            del world.items[work_id]
            started = time.perf_counter_ns()
            made = engine.finish(work_id)
        else:
            item = new_item(world, waited_up_to=0.0)
            started = time.perf_counter_ns()
            made = engine.enqueue(item)
        latencies.append(time.perf_counter_ns() - started)
        take(world, engine, made)
        if n % DECISIONS_PER_TICK == 0:
            take(world, engine, engine.tick())
    return latencies


class NaiveMatcher:
    """The same decisions without indexes: every agent (and all waiting work) scanned each time.

    It keeps to the eligibility and work-order rules; for the agent choice it ranks by
    proficiency, then by the least work held, as it keeps no occupancy history."""

    def __init__(self, world: World, engine: Engine) -> None:
        self.world = world
        self.queues = {queue.id: queue for queue in world.queues}
        self.step_times = {
            queue.id: sorted(step.after_seconds for step in queue.overflow)
            for queue in world.queues
        }
        self.agents = {agent.id: agent for agent in world.agents}
        self.held: dict[uuid.UUID, dict[Load, int]] = {agent.id: {} for agent in world.agents}
        for work_id, agent_id in world.agent_of.items():
            load = LOAD_OF_CHANNEL[world.items[work_id].channel]
            self.held[agent_id][load] = self.held[agent_id].get(load, 0) + 1
        self.available = {
            agent.id
            for agent in world.agents
            if engine.agent_presence(agent.id)[0] is Presence.AVAILABLE
        }
        self.waiting = dict(world.waiting)

    def _fits(self, agent: AgentSpec, item: WorkItem) -> bool:
        queue = self.queues[item.queue_id]
        held = self.held[agent.id]
        load = LOAD_OF_CHANNEL[item.channel]
        language = required_language(item, queue)
        waited = self.world.clock.now - item.arrived_at
        step = sum(1 for after in self.step_times[queue.id] if after <= waited)
        if held.get(Load.VOICE) or (load is Load.VOICE and any(held.values())):
            return False
        return (
            agent.id in self.available
            and item.tenant_id in agent.tenants
            and held.get(load, 0) < agent.capacity.get(load, 0)
            and (language is None or language in agent.languages)
            and skills_fit(agent, queue, step, self.queues)
        )

    def _order(self, item: WorkItem) -> tuple[int, float, int, float]:
        queue = self.queues[item.queue_id]
        deadline = item.deadline or item.arrived_at + queue.sl_threshold_seconds
        return (-(queue.priority + item.priority), deadline, -item.value_rank, item.arrived_at)

    def _assign(self, item: WorkItem, agent: AgentSpec) -> None:
        load = LOAD_OF_CHANNEL[item.channel]
        self.held[agent.id][load] = self.held[agent.id].get(load, 0) + 1
        self.waiting.pop(item.id, None)

    def agent_frees(self, work_id: uuid.UUID, agent_id: uuid.UUID) -> None:
        agent = self.agents[agent_id]
        held = self.held[agent_id]
        held[LOAD_OF_CHANNEL[self.world.items[work_id].channel]] -= 1
        candidates = [item for item in self.waiting.values() if self._fits(agent, item)]
        if candidates:
            self._assign(min(candidates, key=self._order), agent)

    def arrives(self, item: WorkItem) -> None:
        queue = self.queues[item.queue_id]
        candidates = [agent for agent in self.agents.values() if self._fits(agent, item)]
        if not candidates:
            self.waiting[item.id] = item
            return

        def rank(agent: AgentSpec) -> tuple[int, int]:
            proficiency = sum(agent.skills.get(skill, 0) for skill in queue.skills)
            return (-proficiency, sum(self.held[agent.id].values()))

        self._assign(item, min(candidates, key=rank))


def measure_naive(world: World, naive: NaiveMatcher) -> float:
    spent_ns = 0
    decisions = 0
    active = list(world.agent_of.items())
    while decisions < NAIVE_DECISIONS and spent_ns < NAIVE_MAX_SECONDS * 1e9:
        world.clock.now += SECONDS_PER_DECISION
        if world.rng.random() < 0.5:
            work_id, agent_id = active.pop(world.rng.randrange(len(active)))
            started = time.perf_counter_ns()
            naive.agent_frees(work_id, agent_id)
        else:
            item = new_item(world, waited_up_to=0.0)
            started = time.perf_counter_ns()
            naive.arrives(item)
        spent_ns += time.perf_counter_ns() - started
        decisions += 1
    return decisions / (spent_ns / 1e9)


def _percentile(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=100_000, help="engine decisions timed")
    parser.add_argument("--seed", type=int, default=7, help="seed of every random choice")
    args = parser.parse_args()

    world = build_world(args.seed)
    engine = Engine(world.clock)
    fill(world, engine)
    latencies = measure_engine(world, engine, args.decisions)
    waiting = len(world.waiting)
    naive_per_s = measure_naive(world, NaiveMatcher(world, engine))
    result = {
        "agents": AGENTS,
        "waiting": waiting,
        "decisions": len(latencies),
        "decisions_per_s": round(len(latencies) / (sum(latencies) / 1e9), 1),
        "p50_us": round(statistics.median(latencies) / 1e3, 1),
        "p99_us": round(_percentile(latencies, 0.99) / 1e3, 1),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "naive_decisions_per_s": round(naive_per_s, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
