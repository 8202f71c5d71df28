"""The engine's records of queues, agents and work, and the indexes that answer "who may take
what" without scanning: the rules E, O and A2-A6 of ``centralita.routing.engine``. Pure.

Work. A queue's waiting work is split into lanes, each a SortedList in work order (O1-O5) of the
items that the same agents may take: same overflow step, required language, Load and, while it
waits for a preferred agent, that agent. The queue keeps the first of its lanes' heads, which
bounds everything it holds, and a heap by arrival for its longest wait.

Agents. An agent holds a candidacy per queue whose work they may take at some overflow step (E1,
E2), computed when either is upserted. While AVAILABLE with room for a Load (E4, E5), they are
listed in the queue's free set for that Load, their proficiency (A2) and the step they qualify
at; the queue counts the agents listed per Load.

So an agent who frees up visits their queues by head, usually reading one queue's lanes before
no other queue can offer better (O), and arriving work ranks only the free agents of the highest
proficiency that can take it (A2-A6), in O(1) when none is free.
"""

import bisect
import heapq
import itertools
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedList

from centralita.routing._engine_parts import HandleTime, OccupancyMeter, Timer
from centralita.routing._engine_types import (
    LOAD_OF_CHANNEL,
    AgentSpec,
    Decision,
    Held,
    Load,
    Presence,
    QueueSpec,
    WorkItem,
)

# The snapshot state of an AVAILABLE agent who has no room for a queue's work (rule Q3).
BUSY = "busy"

# Work order (rules O1-O5), fixed at arrival. The work itself rides along and is never compared:
# the sequence number before it is unique.
OrderKey = tuple[int, float, int, float, int, "WorkState"]
# What decides who may take waiting work: overflow step, required language, Load, and the
# preferred agent it is kept for (rule A1).
LaneKey = tuple[int, str | None, Load, uuid.UUID | None]
EngineTimer = Timer[Any, list[Decision]]
_NO_LOADS: frozenset[Load] = frozenset()
# Looking an enum member up on its class is slow on Python 3.11: the hot paths use these.
AVAILABLE = Presence.AVAILABLE
OFFLINE = Presence.OFFLINE
VOICE = Load.VOICE


@dataclass(slots=True, eq=False)
class WorkState:
    item: WorkItem
    seq: int  # enqueue order (rule O5), kept when the work returns to a queue
    load: Load
    stage: int = 0  # overflow steps reached
    language: str | None = None  # rule E3
    key: OrderKey = field(init=False)  # set by ``derive`` before the work first waits
    lane: LaneKey | None = None  # set while it waits
    placement: int = -1  # tells its current entry in ``QueueState.arrivals`` from stale ones
    reserved_for: "AgentState | None" = None  # the preferred agent it waits for (rule A1)
    agent: "AgentState | None" = None  # set while held
    held: Held | None = None
    until: float | None = None
    handle_started: float | None = None
    refused_by: frozenset[uuid.UUID] = frozenset()  # rule E6; rarely set, so replaced, not grown
    hold_timer: EngineTimer | None = None  # offer expiry or wrap-up end
    stage_timer: EngineTimer | None = None  # next overflow step
    affinity_timer: EngineTimer | None = None  # end of the wait for the preferred agent


@dataclass(slots=True, eq=False)
class AgentState:
    spec: AgentSpec
    meter: OccupancyMeter
    idle_since: float
    presence: Presence = Presence.OFFLINE
    reason: str | None = None
    held: set[WorkState] = field(default_factory=set)
    held_per_load: dict[Load, int] = field(default_factory=dict)
    # The Loads the free sets list the agent for: ``free_loads_of`` as of the last
    # ``refresh_free``, which every command ends with.
    free_loads: frozenset[Load] = _NO_LOADS
    # From the spec: the Loads they could take holding nothing, and the non-voice limits.
    loads_when_idle: frozenset[Load] = _NO_LOADS
    parallel_limits: tuple[tuple[Load, int], ...] = ()
    candidacies: dict[uuid.UUID, "Candidacy"] = field(default_factory=dict)
    reserved: set[WorkState] = field(default_factory=set)  # waiting for this agent (rule A1)
    missed_offers: int = 0
    presence_timer: EngineTimer | None = None


@dataclass(slots=True, eq=False)
class QueueState:
    spec: QueueSpec
    loads: frozenset[Load] = _NO_LOADS
    step_times: list[float] = field(default_factory=list)  # overflow after_seconds, sorted
    lanes: dict[LaneKey, SortedList] = field(default_factory=dict)
    waiting: int = 0
    head: OrderKey | None = None  # the first of all lanes' heads
    # Heap of (arrived_at, placement, work) of waiting work; entries of work that has left stay
    # until they surface or the heap is compacted.
    arrivals: list[tuple[float, int, WorkState]] = field(default_factory=list)
    placements: Iterator[int] = field(default_factory=itertools.count)
    eligible: dict[AgentState, "Candidacy"] = field(default_factory=dict)
    # Load -> proficiency -> entry step -> the eligible agents free for that Load now.
    free: dict[Load, dict[int, list[set[AgentState]]]] = field(default_factory=dict)
    free_count: dict[Load, int] = field(default_factory=dict)  # the agents in ``free``
    proficiencies: list[int] = field(default_factory=list)  # the keys of ``free``, highest first
    handle_time: HandleTime = field(default_factory=HandleTime)


@dataclass(slots=True, eq=False)
class Candidacy:
    """An agent's standing for a queue (rules E1, E2, A2)."""

    queue: QueueState
    entry_step: int  # the first overflow step at which the agent qualifies
    proficiency: int
    free_sets: dict[Load, set[AgentState]]  # where the agent is listed while free for a Load


def skills_fit(
    agent: AgentSpec, queue: QueueSpec, step: int, queues: Mapping[uuid.UUID, QueueSpec]
) -> bool:
    """Rule E2: whether the agent's skills fit the queue's work at overflow ``step`` (0: none
    reached yet). ``queues`` resolves extra queue ids; unknown ones are ignored."""
    reached = sorted(queue.overflow, key=lambda overflow: overflow.after_seconds)[:step]
    relaxed = min((s.min_level for s in reached if s.min_level is not None), default=None)
    if _has_skills(agent, queue.skills, relaxed):
        return True
    return any(
        (extra := queues.get(extra_id)) is not None and _has_skills(agent, extra.skills, None)
        for reached_step in reached
        for extra_id in reached_step.extra_queue_ids
    )


def _has_skills(agent: AgentSpec, required: Mapping[uuid.UUID, int], relaxed: int | None) -> bool:
    return all(
        agent.skills.get(skill, 0) >= (level if relaxed is None else min(level, relaxed))
        for skill, level in required.items()
    )


def required_language(item: WorkItem, queue: QueueSpec) -> str | None:
    """Rule E3: the language an agent must speak to take the item, if any."""
    return item.language or queue.language


# agents


def set_spec(agent: AgentState, spec: AgentSpec) -> None:
    agent.spec = spec
    agent.loads_when_idle = frozenset(load for load, limit in spec.capacity.items() if limit > 0)
    agent.parallel_limits = tuple(
        (load, limit) for load, limit in spec.capacity.items() if load is not VOICE and limit > 0
    )


def free_loads_of(agent: AgentState) -> frozenset[Load]:
    """Rules E4, E5: the Loads the agent could take one more item of now."""
    if agent.presence is not AVAILABLE:
        return _NO_LOADS
    if not agent.held:
        return agent.loads_when_idle
    held = agent.held_per_load
    if held.get(VOICE):
        return _NO_LOADS
    return frozenset([load for load, limit in agent.parallel_limits if held.get(load, 0) < limit])


def refresh_free(agent: AgentState) -> None:
    """List the agent in their queues' free sets for exactly the Loads they are free for now."""
    old = agent.free_loads
    new = free_loads_of(agent)
    if new == old:
        return
    gone = old - new
    came = new - old
    for candidacy in agent.candidacies.values():
        free_sets = candidacy.free_sets
        free_count = candidacy.queue.free_count
        for load in gone:
            if load in free_sets:
                free_sets[load].remove(agent)
                free_count[load] -= 1
        for load in came:
            if load in free_sets:
                free_sets[load].add(agent)
                free_count[load] += 1
    agent.free_loads = new


def add_candidacy(
    agent: AgentState, queue: QueueState, specs: Mapping[uuid.UUID, QueueSpec]
) -> None:
    """Index the agent for the queue if they may ever take its work (E1, E2, some capacity)."""
    spec = queue.spec
    if spec.tenant_id not in agent.spec.tenants or not any(
        agent.spec.capacity.get(load, 0) > 0 for load in queue.loads
    ):
        return
    steps = range(len(queue.step_times) + 1)
    entry_step = next((step for step in steps if skills_fit(agent.spec, spec, step, specs)), None)
    if entry_step is None:
        return
    proficiency = sum(agent.spec.skills.get(skill, 0) for skill in spec.skills)
    if proficiency not in queue.proficiencies:
        queue.proficiencies.append(proficiency)
        queue.proficiencies.sort(reverse=True)
        for by_proficiency in queue.free.values():
            by_proficiency[proficiency] = [set() for _ in range(len(queue.step_times) + 1)]
    free_sets = {
        load: by_proficiency[proficiency][entry_step] for load, by_proficiency in queue.free.items()
    }
    candidacy = Candidacy(queue, entry_step, proficiency, free_sets)
    agent.candidacies[spec.id] = candidacy
    queue.eligible[agent] = candidacy
    for load in agent.free_loads & free_sets.keys():
        free_sets[load].add(agent)
        queue.free_count[load] += 1


def drop_candidacies(agent: AgentState) -> None:
    for candidacy in agent.candidacies.values():
        del candidacy.queue.eligible[agent]
        for load in agent.free_loads & candidacy.free_sets.keys():
            candidacy.free_sets[load].remove(agent)
            candidacy.queue.free_count[load] -= 1
    agent.candidacies = {}


def index_queue(
    queue: QueueState,
    spec: QueueSpec,
    agents: Iterable[AgentState],
    specs: Mapping[uuid.UUID, QueueSpec],
) -> None:
    """(Re)build the queue's candidacies and free sets under ``spec``. Waiting work is placed
    by its queue's overflow steps and order: under a changed spec, take it out first."""
    for agent in queue.eligible:
        del agent.candidacies[queue.spec.id]
    queue.spec = spec
    queue.loads = frozenset(LOAD_OF_CHANNEL[channel] for channel in spec.channels)
    queue.step_times = sorted(step.after_seconds for step in spec.overflow)
    queue.eligible = {}
    queue.free = {load: {} for load in queue.loads}
    queue.free_count = dict.fromkeys(queue.loads, 0)
    queue.proficiencies = []
    for agent in agents:
        add_candidacy(agent, queue, specs)


def snapshot_state(agent: AgentState, queue: QueueState) -> str:
    """Rule Q3: how the agent counts in the queue's snapshot."""
    if (
        agent.presence is Presence.AVAILABLE
        and agent.held
        and free_loads_of(agent).isdisjoint(queue.loads)
    ):
        return BUSY
    return agent.presence.value


# waiting work


def derive(work: WorkState, queue: QueueState, now: float) -> None:
    """What the work's queue and time waited make of it: overflow step, language, work order."""
    item = work.item
    spec = queue.spec
    work.stage = bisect.bisect_right(queue.step_times, now - item.arrived_at)
    work.language = required_language(item, spec)
    deadline = (
        item.arrived_at + spec.sl_threshold_seconds if item.deadline is None else item.deadline
    )
    work.key = (
        -(spec.priority + item.priority),
        deadline,
        -item.value_rank,
        item.arrived_at,
        work.seq,
        work,
    )


def place(work: WorkState, queue: QueueState, reserved_for: AgentState | None) -> None:
    """Put the work in its lane to wait."""
    lane_key = (
        work.stage,
        work.language,
        work.load,
        None if reserved_for is None else reserved_for.spec.id,
    )
    lane = queue.lanes.get(lane_key)
    if lane is None:
        lane = queue.lanes[lane_key] = SortedList()
    key = work.key
    lane.add(key)
    work.lane = lane_key
    queue.waiting += 1
    if queue.head is None or key < queue.head:
        queue.head = key
    work.placement = next(queue.placements)
    heapq.heappush(queue.arrivals, (work.item.arrived_at, work.placement, work))
    if len(queue.arrivals) > 2 * queue.waiting + 64:
        queue.arrivals = [entry for entry in queue.arrivals if _is_current(entry)]
        heapq.heapify(queue.arrivals)
    if reserved_for is not None:
        work.reserved_for = reserved_for
        reserved_for.reserved.add(work)


def unplace(work: WorkState, queue: QueueState) -> None:
    """Take waiting work out of its lane."""
    assert work.lane is not None  # only waiting work has a lane to leave
    lane = queue.lanes[work.lane]
    lane.remove(work.key)
    if not lane:
        del queue.lanes[work.lane]
    work.lane = None
    queue.waiting -= 1
    if queue.head is work.key:
        queue.head = min((lane[0] for lane in queue.lanes.values()), default=None)
    if work.reserved_for is not None:
        work.reserved_for.reserved.discard(work)
        work.reserved_for = None


def _is_current(entry: tuple[float, int, WorkState]) -> bool:
    _, placement, work = entry
    return work.lane is not None and work.placement == placement


def oldest_arrival(queue: QueueState) -> float | None:
    arrivals = queue.arrivals
    while arrivals and not _is_current(arrivals[0]):
        heapq.heappop(arrivals)
    return arrivals[0][0] if arrivals else None


def waiting_in_order(queue: QueueState) -> list[WorkState]:
    return [key[-1] for key in sorted(key for lane in queue.lanes.values() for key in lane)]


def position(work: WorkState, queue: QueueState) -> int:
    """Rule Q1."""
    return 1 + sum(int(lane.bisect_left(work.key)) for lane in queue.lanes.values())


# matching


def can_take(agent: AgentState, work: WorkState) -> bool:
    """Rules E1-E6, from the indexes."""
    candidacy = agent.candidacies.get(work.item.queue_id)
    return (
        candidacy is not None
        and candidacy.entry_step <= work.stage
        and work.load in free_loads_of(agent)
        and (work.language is None or work.language in agent.spec.languages)
        and not (work.refused_by and agent.spec.id in work.refused_by)
    )


def waits_for(agent: AgentState, work: WorkState, queue: QueueState, now: float) -> bool:
    """Rule A1: whether the work is kept for its preferred agent, who cannot take it now."""
    candidacy = agent.candidacies.get(queue.spec.id)
    return (
        now < work.item.arrived_at + queue.spec.affinity_wait_seconds
        and agent.presence is not Presence.OFFLINE
        and candidacy is not None
        and candidacy.entry_step <= work.stage
        and (work.language is None or work.language in agent.spec.languages)
        and not (work.refused_by and agent.spec.id in work.refused_by)
    )


def best_free_agent(work: WorkState, queue: QueueState, now: float) -> AgentState | None:
    """Rules A2-A6 among the agents free to take the work (E1-E6)."""
    if not queue.free_count.get(work.load):
        return None
    by_proficiency = queue.free[work.load]
    language = work.language
    refused_by = work.refused_by
    # Only the most proficient agents free to take it are ranked further (A3-A6).
    for proficiency in queue.proficiencies:
        best: AgentState | None = None
        best_rank: tuple[bool, float, float, uuid.UUID] | None = None
        for agents in by_proficiency[proficiency][: work.stage + 1]:
            for agent in agents:
                spec = agent.spec
                if (language is not None and language not in spec.languages) or (
                    refused_by and spec.id in refused_by
                ):
                    continue
                occupancy = agent.meter.value(now)
                rank = (occupancy > spec.occupancy_cap, occupancy, agent.idle_since, spec.id)
                if best_rank is None or rank < best_rank:
                    best, best_rank = agent, rank
        if best is not None:
            return best
    return None


def best_work_for(agent: AgentState, free_loads: frozenset[Load]) -> WorkState | None:
    """Rules O1-O5: the first waiting work the agent may take (E1-E6, A1) with ``free_loads``,
    across their queues."""
    # Each queue's first work bounds all of its lanes. Visiting the queues in that order, the
    # first one usually yields work that no later queue can beat: a heap of their heads only
    # ever orders the few looked at.
    heads = [
        (head, candidacy.entry_step, queue)
        for candidacy in agent.candidacies.values()
        if (head := (queue := candidacy.queue).head) is not None
        and not free_loads.isdisjoint(queue.loads)
    ]
    heapq.heapify(heads)
    best: OrderKey | None = None
    agent_id = agent.spec.id
    languages = agent.spec.languages
    while heads:
        head, entry_step, queue = heapq.heappop(heads)
        if best is not None and head >= best:
            break
        for (stage, language, load, reserved_for), lane in queue.lanes.items():
            if (
                stage < entry_step
                or load not in free_loads
                or (language is not None and language not in languages)
                or (reserved_for is not None and reserved_for != agent_id)
            ):
                continue
            # In work order: the lane's first item the agent has not refused is its best, and
            # once its items stop beating ``best`` none further on will.
            for key in lane:
                if best is not None and key >= best:
                    break
                refused_by = key[-1].refused_by
                if not (refused_by and agent_id in refused_by):
                    best = key
                    break
    return None if best is None else best[-1]


def refused_by_everyone(work: WorkState, queue: QueueState) -> bool:
    """Rule E6: whether every agent meeting E1-E3 for the work has refused it."""
    language = work.language
    return not any(
        candidacy.entry_step <= work.stage
        and (language is None or language in agent.spec.languages)
        and agent.spec.id not in work.refused_by
        for agent, candidacy in queue.eligible.items()
    )
