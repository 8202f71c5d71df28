"""The routing engine's policy, rule by rule (E1-E6, O1-O5, A1-A6, F, T, P, W, Q: see the
docstring of ``centralita.routing.engine``), on a hand-driven clock."""

import itertools
import random
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from centralita.routing.engine import (
    LOAD_OF_CHANNEL,
    MISSED_REASON,
    AgentSpec,
    Decision,
    DecisionKind,
    Engine,
    Held,
    Load,
    OverflowStep,
    Presence,
    QueueSpec,
    RoutingError,
    WorkItem,
    WorkLocation,
)

START = 1_000.0
_ids = itertools.count(1)


def new_id() -> uuid.UUID:
    """Ids in creation order, so that "the lower agent id" (A6) is the agent made first."""
    return uuid.UUID(int=next(_ids))


TENANT = new_id()
OTHER_TENANT = new_id()
SKILL = new_id()
SPANISH_SKILL = new_id()
SHIPPING_SKILL = new_id()


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> Engine:
    return Engine(clock)


def add_queue(
    engine: Engine,
    *,
    tenant: uuid.UUID = TENANT,
    channels: Iterable[str] = ("chat",),
    skills: Mapping[uuid.UUID, int] | None = None,
    **settings: Any,
) -> QueueSpec:
    spec = QueueSpec(
        id=new_id(),
        tenant_id=tenant,
        channels=frozenset(channels),
        skills={SKILL: 1} if skills is None else skills,
        **settings,
    )
    engine.upsert_queue(spec)
    return spec


def add_agent(
    engine: Engine,
    presence: Presence | None = Presence.AVAILABLE,
    *,
    tenants: Iterable[uuid.UUID] = (TENANT,),
    skills: Mapping[uuid.UUID, int] | None = None,
    languages: Iterable[str] = ("es",),
    **settings: Any,
) -> AgentSpec:
    """An agent, signed in with ``presence`` (None: left as the engine makes them)."""
    spec = AgentSpec(
        id=new_id(),
        tenants=frozenset(tenants),
        skills={SKILL: 3} if skills is None else skills,
        languages=frozenset(languages),
        **settings,
    )
    engine.upsert_agent(spec)
    if presence is not None:
        engine.set_presence(spec.id, presence)
    return spec


def work(queue: QueueSpec, clock: FakeClock, **fields: Any) -> WorkItem:
    values: dict[str, Any] = {
        "id": new_id(),
        "tenant_id": queue.tenant_id,
        "queue_id": queue.id,
        "channel": next(iter(sorted(queue.channels))),
        "language": None,
        "priority": 0,
        "value_rank": 0,
        "arrived_at": clock.now,
    }
    values.update(fields)
    return WorkItem(**values)


def offers(decisions: list[Decision]) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    return [(d.agent_id, d.work_id) for d in decisions if d.kind is DecisionKind.OFFERED]


def chat_only(limit: int) -> dict[Load, int]:
    return {Load.CHAT: limit}


# Eligibility (rules E1-E6)


def test_agents_of_another_tenant_are_not_offered_the_work(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    add_agent(engine, tenants=(OTHER_TENANT,))
    item = work(queue, clock)
    assert engine.enqueue(item) == []
    ours = add_agent(engine, None)
    assert offers(engine.set_presence(ours.id, Presence.AVAILABLE)) == [(ours.id, item.id)]


def test_an_agent_needs_every_queue_skill_at_its_minimum_level(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine, skills={SKILL: 3, SPANISH_SKILL: 2})
    add_agent(engine, skills={SKILL: 2, SPANISH_SKILL: 5})  # one level short
    add_agent(engine, skills={SKILL: 5})  # lacks a skill
    able = add_agent(engine, skills={SKILL: 3, SPANISH_SKILL: 2})
    item = work(queue, clock)
    assert offers(engine.enqueue(item)) == [(able.id, item.id)]


def test_an_overflow_step_relaxes_the_minimum_level_once_a_tick_sees_it_reached(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine, skills={SKILL: 4}, overflow=(OverflowStep(30.0, min_level=2),))
    junior = add_agent(engine, skills={SKILL: 2})
    item = work(queue, clock)
    assert engine.enqueue(item) == []
    clock.advance(29.0)
    assert engine.tick() == []
    clock.advance(1.0)
    assert offers(engine.tick()) == [(junior.id, item.id)]


def test_overflow_steps_apply_in_order_of_time_and_add_up(engine: Engine, clock: FakeClock) -> None:
    shipping = add_queue(engine, skills={SHIPPING_SKILL: 3})
    queue = add_queue(
        engine,
        skills={SKILL: 4},
        # Listed out of order on purpose: the 20-second step comes first.
        overflow=(
            OverflowStep(60.0, extra_queue_ids=(shipping.id,)),
            OverflowStep(20.0, min_level=1),
        ),
    )
    junior = add_agent(engine, skills={SKILL: 1})
    shipper = add_agent(engine, skills={SHIPPING_SKILL: 3})
    late_junior = add_agent(engine, Presence.AWAY, skills={SKILL: 1})
    item = work(queue, clock)
    assert engine.enqueue(item) == []
    clock.advance(20.0)
    assert offers(engine.tick()) == [(junior.id, item.id)]
    assert engine.reject(item.id, junior.id) == []
    clock.advance(40.0)
    assert offers(engine.tick()) == [(shipper.id, item.id)]
    engine.reject(item.id, shipper.id)
    # At the second step the first step's relaxation still holds.
    decisions = engine.set_presence(late_junior.id, Presence.AVAILABLE)
    assert offers(decisions) == [(late_junior.id, item.id)]


def test_an_agent_qualifying_only_at_a_later_step_does_not_take_the_work_before(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine, skills={SKILL: 4}, overflow=(OverflowStep(30.0, min_level=2),))
    item = work(queue, clock)
    engine.enqueue(item)
    junior = add_agent(engine, None, skills={SKILL: 2})
    assert engine.set_presence(junior.id, Presence.AVAILABLE) == []
    clock.advance(30.0)
    assert offers(engine.tick()) == [(junior.id, item.id)]


def test_an_extra_queue_named_before_it_exists_counts_once_upserted(
    engine: Engine, clock: FakeClock
) -> None:
    shipping_id = new_id()
    queue = add_queue(
        engine, skills={SKILL: 4}, overflow=(OverflowStep(10.0, extra_queue_ids=(shipping_id,)),)
    )
    shipper = add_agent(engine, skills={SHIPPING_SKILL: 3})
    item = work(queue, clock)
    engine.enqueue(item)
    clock.advance(10.0)
    assert engine.tick() == []
    shipping = QueueSpec(shipping_id, TENANT, frozenset({"chat"}), {SHIPPING_SKILL: 3})
    assert offers(engine.upsert_queue(shipping)) == [(shipper.id, item.id)]


def test_the_items_language_overrides_the_queues(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine, language="es")
    add_agent(engine, skills={SKILL: 5}, languages=("es",))
    english = add_agent(engine, skills={SKILL: 1}, languages=("es", "en"))
    item = work(queue, clock, language="en")
    assert offers(engine.enqueue(item)) == [(english.id, item.id)]


def test_the_queues_language_applies_when_the_item_has_none(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine, language="ca")
    add_agent(engine, skills={SKILL: 5}, languages=("es",))
    catalan = add_agent(engine, skills={SKILL: 1}, languages=("ca",))
    item = work(queue, clock)
    assert offers(engine.enqueue(item)) == [(catalan.id, item.id)]


@pytest.mark.parametrize("presence", [Presence.AWAY, Presence.OFFLINE, Presence.WRAP_UP])
def test_only_available_agents_are_offered_work(
    engine: Engine, clock: FakeClock, presence: Presence
) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine, presence)
    item = work(queue, clock)
    assert engine.enqueue(item) == []
    assert offers(engine.set_presence(agent.id, Presence.AVAILABLE)) == [(agent.id, item.id)]


def test_capacity_per_load_limits_parallel_work(engine: Engine, clock: FakeClock) -> None:
    chats = add_queue(engine)
    emails = add_queue(engine, channels=("email",))
    agent = add_agent(engine, capacity={Load.CHAT: 2, Load.EMAIL: 1})
    first, second, third = (work(chats, clock) for _ in range(3))
    mail = work(emails, clock)
    assert offers(engine.enqueue(first)) == [(agent.id, first.id)]
    assert offers(engine.enqueue(second)) == [(agent.id, second.id)]
    assert engine.enqueue(third) == []  # chats full
    assert offers(engine.enqueue(mail)) == [(agent.id, mail.id)]  # email has its own room
    engine.accept(first.id, agent.id)
    assert offers(engine.finish(first.id)) == [(agent.id, third.id)]


def test_voice_is_exclusive_both_ways(engine: Engine, clock: FakeClock) -> None:
    chats = add_queue(engine)
    calls = add_queue(engine, channels=("voice",))
    agent = add_agent(engine)
    chat = work(chats, clock)
    engine.enqueue(chat)
    engine.accept(chat.id, agent.id)
    call = work(calls, clock)
    assert engine.enqueue(call) == []  # voice only to an agent holding nothing
    assert offers(engine.finish(chat.id)) == [(agent.id, call.id)]
    assert engine.enqueue(work(chats, clock)) == []  # nothing else beside voice


def test_an_agent_who_refused_work_is_not_offered_it_again(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    first = add_agent(engine, skills={SKILL: 5})
    second = add_agent(engine, skills={SKILL: 3})
    item = work(queue, clock)
    assert offers(engine.enqueue(item)) == [(first.id, item.id)]
    assert offers(engine.reject(item.id, first.id)) == [(second.id, item.id)]
    # Both have refused it: the refusals are forgotten rather than strand the work.
    assert offers(engine.reject(item.id, second.id)) == [(first.id, item.id)]


def test_a_queues_only_agent_gets_refused_work_straight_back(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine)
    item = work(queue, clock)
    engine.enqueue(item)
    assert offers(engine.reject(item.id, agent.id)) == [(agent.id, item.id)]


# Which work first (rules O1-O5)


def test_the_higher_priority_class_goes_first(engine: Engine, clock: FakeClock) -> None:
    urgent_queue = add_queue(engine, priority=1)
    plain_queue = add_queue(engine)
    lowest = work(plain_queue, clock)
    middle = work(urgent_queue, clock)
    highest = work(plain_queue, clock, priority=2)
    for item in (lowest, middle, highest):
        engine.enqueue(item)
    agent = add_agent(engine, None, capacity=chat_only(1))
    taken = []
    decisions = engine.set_presence(agent.id, Presence.AVAILABLE)
    for _ in range(3):
        [(_, work_id)] = offers(decisions)
        assert work_id is not None
        taken.append(work_id)
        engine.accept(work_id, agent.id)
        decisions = engine.finish(work_id)
    assert taken == [highest.id, middle.id, lowest.id]


def test_the_earlier_sla_deadline_goes_first(engine: Engine, clock: FakeClock) -> None:
    patient = add_queue(engine, sl_threshold_seconds=60.0)
    hurried = add_queue(engine, sl_threshold_seconds=10.0)
    early = work(patient, clock)  # breaches at 60 s
    clock.advance(5.0)
    late = work(hurried, clock)  # breaches at 15 s
    promised = work(patient, clock, deadline=clock.now + 1.0)  # its ticket breaches at 6 s
    for item in (early, late, promised):
        engine.enqueue(item)
    agent = add_agent(engine, None, capacity=chat_only(3))
    decisions = engine.set_presence(agent.id, Presence.AVAILABLE)
    assert [work_id for _, work_id in offers(decisions)] == [promised.id, late.id, early.id]


def test_the_more_valuable_customer_goes_first_between_equal_deadlines(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    standard = work(queue, clock, value_rank=0)
    platinum = work(queue, clock, value_rank=3)
    engine.enqueue(standard)
    engine.enqueue(platinum)
    agent = add_agent(engine, None, capacity=chat_only(1))
    assert offers(engine.set_presence(agent.id, Presence.AVAILABLE)) == [(agent.id, platinum.id)]


def test_the_longer_waiting_goes_first_between_equal_deadlines_and_value(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    deadline = clock.now + 100.0
    newer = work(queue, clock, arrived_at=clock.now - 5.0, deadline=deadline)
    older = work(queue, clock, arrived_at=clock.now - 50.0, deadline=deadline)
    engine.enqueue(newer)
    engine.enqueue(older)
    agent = add_agent(engine, None, capacity=chat_only(1))
    assert offers(engine.set_presence(agent.id, Presence.AVAILABLE)) == [(agent.id, older.id)]


def test_equal_work_is_served_in_arrival_order(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    items = [work(queue, clock) for _ in range(3)]
    for item in items:
        engine.enqueue(item)
    agent = add_agent(engine, None, capacity=chat_only(3))
    decisions = engine.set_presence(agent.id, Presence.AVAILABLE)
    assert [work_id for _, work_id in offers(decisions)] == [item.id for item in items]


def test_an_agent_blends_the_work_of_all_their_tenants(engine: Engine, clock: FakeClock) -> None:
    ours = add_queue(engine)
    theirs = add_queue(engine, tenant=OTHER_TENANT)
    older = work(theirs, clock)
    clock.advance(1.0)
    newer = work(ours, clock)
    engine.enqueue(newer)
    engine.enqueue(older)
    agent = add_agent(engine, None, tenants=(TENANT, OTHER_TENANT), capacity=chat_only(1))
    assert offers(engine.set_presence(agent.id, Presence.AVAILABLE)) == [(agent.id, older.id)]


def test_work_an_agent_cannot_take_does_not_hide_better_work_in_their_other_queues(
    engine: Engine, clock: FakeClock
) -> None:
    first_queue = add_queue(engine)
    second_queue = add_queue(engine)
    english = work(first_queue, clock, language="en")
    clock.advance(5.0)
    better = work(second_queue, clock)
    clock.advance(5.0)
    worse = work(first_queue, clock)
    for item in (english, better, worse):
        engine.enqueue(item)
    agent = add_agent(engine, None, capacity=chat_only(1), languages=("es",))
    assert offers(engine.set_presence(agent.id, Presence.AVAILABLE)) == [(agent.id, better.id)]


# Which agent (rules A1-A6)


def test_a_free_preferred_agent_gets_the_work(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    add_agent(engine, skills={SKILL: 5})
    preferred = add_agent(engine, skills={SKILL: 1})
    item = work(queue, clock, preferred_agent_id=preferred.id)
    assert offers(engine.enqueue(item)) == [(preferred.id, item.id)]


def test_work_waits_for_a_busy_preferred_agent_during_the_affinity_window(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine, affinity_wait_seconds=10.0)
    preferred = add_agent(engine, capacity=chat_only(1))
    add_agent(engine)
    busy_with = work(queue, clock, preferred_agent_id=preferred.id)
    engine.enqueue(busy_with)
    engine.accept(busy_with.id, preferred.id)
    item = work(queue, clock, preferred_agent_id=preferred.id)
    assert engine.enqueue(item) == []
    clock.advance(5.0)
    assert offers(engine.finish(busy_with.id)) == [(preferred.id, item.id)]


def test_after_the_affinity_window_anyone_may_take_the_work(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine, affinity_wait_seconds=10.0)
    preferred = add_agent(engine, Presence.AWAY)
    other = add_agent(engine)
    item = work(queue, clock, preferred_agent_id=preferred.id)
    assert engine.enqueue(item) == []
    clock.advance(9.0)
    assert engine.tick() == []
    clock.advance(1.0)
    assert offers(engine.tick()) == [(other.id, item.id)]


def test_work_does_not_wait_for_an_offline_preferred_agent(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    preferred = add_agent(engine, None)
    other = add_agent(engine)
    item = work(queue, clock, preferred_agent_id=preferred.id)
    assert offers(engine.enqueue(item)) == [(other.id, item.id)]


def test_a_preferred_agent_signing_out_lets_others_take_the_work(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    preferred = add_agent(engine, Presence.AWAY)
    other = add_agent(engine)
    item = work(queue, clock, preferred_agent_id=preferred.id)
    assert engine.enqueue(item) == []
    decisions = engine.set_presence(preferred.id, Presence.OFFLINE)
    assert offers(decisions) == [(other.id, item.id)]


def test_the_most_proficient_agent_is_chosen(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine, skills={SKILL: 1, SPANISH_SKILL: 1})
    add_agent(engine, skills={SKILL: 5, SPANISH_SKILL: 1})  # 6
    expert = add_agent(engine, skills={SKILL: 4, SPANISH_SKILL: 4})  # 8
    add_agent(engine, skills={SKILL: 3, SPANISH_SKILL: 3})  # 6
    item = work(queue, clock)
    assert offers(engine.enqueue(item)) == [(expert.id, item.id)]


def _occupy(
    engine: Engine, clock: FakeClock, caps: tuple[float, float], busy: tuple[float, float]
) -> tuple[AgentSpec, AgentSpec, QueueSpec]:
    """Two equally skilled agents signed in for 100 s, busy for ``busy`` seconds each."""
    queue = add_queue(engine)
    own_skills = (new_id(), new_id())
    agents = []
    for cap, own_skill in zip(caps, own_skills, strict=True):
        agents.append(add_agent(engine, skills={SKILL: 3, own_skill: 1}, occupancy_cap=cap))
    held = []
    for agent, own_skill in zip(agents, own_skills, strict=True):
        own_queue = add_queue(engine, skills={own_skill: 1}, auto_accept=True)
        item = work(own_queue, clock)
        assert offers(engine.enqueue(item)) == [(agent.id, item.id)]
        held.append(item)
    ends = sorted(zip(busy, held, strict=True), key=lambda end: end[0])
    for seconds, item in ends:
        clock.advance(seconds - (clock.now - START))
        engine.finish(item.id)
    clock.now = START + 100.0
    return agents[0], agents[1], queue


def test_agents_above_their_occupancy_cap_are_chosen_last(engine: Engine, clock: FakeClock) -> None:
    over_cap, under_cap, queue = _occupy(engine, clock, caps=(0.3, 0.95), busy=(50.0, 90.0))
    assert engine.occupancy(over_cap.id) > 0.3
    assert engine.occupancy(over_cap.id) < engine.occupancy(under_cap.id) < 0.95
    item = work(queue, clock)
    assert offers(engine.enqueue(item)) == [(under_cap.id, item.id)]


def test_the_less_occupied_agent_is_chosen(engine: Engine, clock: FakeClock) -> None:
    _, calmer, queue = _occupy(engine, clock, caps=(0.85, 0.85), busy=(70.0, 40.0))
    item = work(queue, clock)
    assert offers(engine.enqueue(item)) == [(calmer.id, item.id)]


def test_the_longest_idle_agent_is_chosen(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    later = add_agent(engine, None)
    earlier = add_agent(engine)
    clock.advance(10.0)
    engine.set_presence(later.id, Presence.AVAILABLE)
    clock.advance(10.0)
    item = work(queue, clock)
    assert offers(engine.enqueue(item)) == [(earlier.id, item.id)]


def test_between_equal_agents_the_lower_id_is_chosen(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    first = add_agent(engine, None)
    second = add_agent(engine, None)
    engine.set_presence(second.id, Presence.AVAILABLE)
    engine.set_presence(first.id, Presence.AVAILABLE)
    item = work(queue, clock)
    assert offers(engine.enqueue(item)) == [(first.id, item.id)]


# Offers (rules F)


def test_an_offer_takes_capacity_and_runs_out_after_the_queues_timeout(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine, offer_timeout_seconds=30.0)
    first = add_agent(engine, skills={SKILL: 5}, capacity=chat_only(1))
    second = add_agent(engine, skills={SKILL: 3}, capacity=chat_only(1))
    early = work(queue, clock)
    assert engine.enqueue(early) == [
        Decision(
            DecisionKind.OFFERED,
            first.id,
            early.id,
            TENANT,
            queue.id,
            at=START,
            expires_at=START + 30.0,
        )
    ]
    clock.advance(1.0)
    late = work(queue, clock)
    assert offers(engine.enqueue(late)) == [(second.id, late.id)]  # the offer holds the first
    clock.advance(29.0)
    assert engine.tick() == [
        Decision(DecisionKind.OFFER_EXPIRED, first.id, early.id, TENANT, queue.id, at=START + 30.0)
    ]
    clock.advance(1.0)
    decisions = engine.tick()
    assert decisions[0].kind is DecisionKind.OFFER_EXPIRED
    assert offers(decisions) == [(first.id, late.id), (second.id, early.id)]


def test_auto_accepted_work_is_active_at_once(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine, auto_accept=True)
    agent = add_agent(engine)
    item = work(queue, clock)
    [decision] = engine.enqueue(item)
    assert decision.auto_accepted
    assert decision.expires_at is None
    assert engine.held_by(agent.id) == [(item.id, Held.ACTIVE, None)]
    with pytest.raises(RoutingError):
        engine.accept(item.id, agent.id)


def test_only_the_agent_offered_the_work_may_accept_it(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine)
    other = add_agent(engine, Presence.AWAY)
    item = work(queue, clock)
    engine.enqueue(item)
    with pytest.raises(RoutingError):
        engine.accept(item.id, other.id)
    with pytest.raises(RoutingError):
        engine.accept(new_id(), agent.id)
    engine.accept(item.id, agent.id)
    assert engine.held_by(agent.id) == [(item.id, Held.ACTIVE, None)]
    clock.advance(60.0)
    assert engine.tick() == []  # an accepted offer does not run out
    with pytest.raises(RoutingError):
        engine.reject(item.id, agent.id)


def test_rejected_work_keeps_its_place_at_the_front_of_the_queue(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine, capacity=chat_only(1))
    later_agent = add_agent(engine, Presence.AWAY)
    first = work(queue, clock)
    second = work(queue, clock)
    engine.enqueue(first)
    engine.enqueue(second)
    # Refused, it waits at the front; the agent is offered the next work instead.
    assert offers(engine.reject(first.id, agent.id)) == [(agent.id, second.id)]
    assert engine.position(first.id) == 1
    decisions = engine.set_presence(later_agent.id, Presence.AVAILABLE)
    assert offers(decisions) == [(later_agent.id, first.id)]


def _agent_missing_offers(engine: Engine, clock: FakeClock) -> tuple[AgentSpec, QueueSpec]:
    queue = add_queue(engine)
    agent = add_agent(engine, capacity=chat_only(1))
    add_agent(engine, Presence.AWAY)  # refused work waits for them, not back to ``agent``
    return agent, queue


def test_two_missed_offers_in_a_row_set_the_agent_away(engine: Engine, clock: FakeClock) -> None:
    agent, queue = _agent_missing_offers(engine, clock)
    first, second = work(queue, clock), work(queue, clock)
    engine.enqueue(first)
    engine.enqueue(second)
    clock.advance(15.0)
    decisions = engine.tick()
    assert [d.kind for d in decisions] == [DecisionKind.OFFER_EXPIRED, DecisionKind.OFFERED]
    assert engine.agent_presence(agent.id) == (Presence.AVAILABLE, None)
    clock.advance(15.0)
    assert engine.tick() == [
        Decision(
            DecisionKind.OFFER_EXPIRED, agent.id, second.id, TENANT, queue.id, at=START + 30.0
        ),
        Decision(
            DecisionKind.PRESENCE_CHANGED,
            agent.id,
            at=START + 30.0,
            presence=Presence.AWAY,
            reason=MISSED_REASON,
        ),
    ]
    assert engine.agent_presence(agent.id) == (Presence.AWAY, MISSED_REASON)


@pytest.mark.parametrize("answer", ["accept", "reject"])
def test_answering_an_offer_breaks_a_run_of_misses(
    engine: Engine, clock: FakeClock, answer: str
) -> None:
    agent, queue = _agent_missing_offers(engine, clock)
    items = [work(queue, clock) for _ in range(3)]
    for item in items:
        engine.enqueue(item)
    clock.advance(15.0)
    engine.tick()  # misses the first, is offered the second
    if answer == "accept":
        engine.accept(items[1].id, agent.id)
        engine.finish(items[1].id)
    else:
        engine.reject(items[1].id, agent.id)
    clock.advance(15.0)
    assert DecisionKind.OFFER_EXPIRED in [d.kind for d in engine.tick()]
    assert engine.agent_presence(agent.id) == (Presence.AVAILABLE, None)


def test_an_agent_set_away_for_misses_may_still_answer_their_other_offers(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine, capacity=chat_only(3))
    add_agent(engine, Presence.AWAY)
    items = []
    for _ in range(3):
        items.append(work(queue, clock))
        engine.enqueue(items[-1])
        clock.advance(5.0)
    clock.now = START + 20.0
    kinds = [d.kind for d in engine.tick()]
    assert kinds.count(DecisionKind.OFFER_EXPIRED) == 2
    assert kinds.count(DecisionKind.PRESENCE_CHANGED) == 1
    assert engine.held_by(agent.id) == [(items[2].id, Held.OFFERED, START + 25.0)]
    engine.accept(items[2].id, agent.id)


# Time (rules T)


def test_wrap_up_ends_after_the_agents_wrap_up_time(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine, capacity=chat_only(1), wrap_up_seconds=30.0)
    first, second = work(queue, clock), work(queue, clock)
    engine.enqueue(first)
    engine.enqueue(second)
    engine.accept(first.id, agent.id)
    clock.advance(60.0)
    engine.wrap_up(first.id)
    assert engine.held_by(agent.id) == [(first.id, Held.WRAP_UP, START + 90.0)]
    clock.advance(29.0)
    assert engine.tick() == []  # wrap-up keeps the capacity
    clock.advance(1.0)
    decisions = engine.tick()
    assert decisions[0] == Decision(
        DecisionKind.WRAP_UP_EXPIRED, agent.id, first.id, TENANT, queue.id, at=START + 90.0
    )
    assert offers(decisions) == [(agent.id, second.id)]


def test_presence_wrap_up_returns_the_agent_to_available(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine, Presence.WRAP_UP, wrap_up_seconds=20.0)
    item = work(queue, clock)
    assert engine.enqueue(item) == []
    clock.advance(20.0)
    decisions = engine.tick()
    assert decisions[0] == Decision(
        DecisionKind.PRESENCE_CHANGED, agent.id, at=START + 20.0, presence=Presence.AVAILABLE
    )
    assert offers(decisions) == [(agent.id, item.id)]
    assert engine.agent_presence(agent.id) == (Presence.AVAILABLE, None)


def test_a_presence_set_during_wrap_up_replaces_its_timeout(
    engine: Engine, clock: FakeClock
) -> None:
    agent = add_agent(engine, Presence.WRAP_UP, wrap_up_seconds=20.0)
    engine.set_presence(agent.id, Presence.AWAY)
    clock.advance(20.0)
    assert engine.tick() == []
    assert engine.agent_presence(agent.id) == (Presence.AWAY, None)


def test_tick_handles_what_fell_due_in_time_order(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine, capacity=chat_only(2))
    add_agent(engine, Presence.AWAY)
    first = work(queue, clock)
    engine.enqueue(first)
    clock.advance(5.0)
    second = work(queue, clock)
    engine.enqueue(second)
    clock.advance(60.0)
    decisions = engine.tick()
    expired = [(d.work_id, d.at) for d in decisions if d.kind is DecisionKind.OFFER_EXPIRED]
    assert expired == [(first.id, START + 15.0), (second.id, START + 20.0)]
    assert engine.agent_presence(agent.id) == (Presence.AWAY, MISSED_REASON)


def test_what_a_tick_schedules_for_now_waits_for_the_next_tick(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine, offer_timeout_seconds=0.0)
    first = add_agent(engine, skills={SKILL: 5})
    second = add_agent(engine, skills={SKILL: 3})
    item = work(queue, clock)
    assert offers(engine.enqueue(item)) == [(first.id, item.id)]
    decisions = engine.tick()
    assert [d.kind for d in decisions] == [DecisionKind.OFFER_EXPIRED, DecisionKind.OFFERED]
    assert offers(decisions) == [(second.id, item.id)]


def test_next_due_is_when_tick_has_something_to_do(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine, offer_timeout_seconds=15.0)
    agent = add_agent(engine)
    assert engine.next_due() is None
    item = work(queue, clock)
    engine.enqueue(item)
    assert engine.next_due() == START + 15.0
    engine.accept(item.id, agent.id)
    assert engine.next_due() is None


# Presence and configuration (rules P)


def test_becoming_available_pulls_work_until_full(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    items = [work(queue, clock) for _ in range(3)]
    for item in items:
        engine.enqueue(item)
    agent = add_agent(engine, None, capacity=chat_only(2))
    decisions = engine.set_presence(agent.id, Presence.AVAILABLE)
    assert offers(decisions) == [(agent.id, items[0].id), (agent.id, items[1].id)]


@pytest.mark.parametrize("presence", [Presence.AWAY, Presence.OFFLINE])
def test_away_and_offline_agents_keep_their_offers_and_work(
    engine: Engine, clock: FakeClock, presence: Presence
) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine, capacity=chat_only(3))
    active, offered = work(queue, clock), work(queue, clock)
    engine.enqueue(active)
    engine.enqueue(offered)
    engine.accept(active.id, agent.id)
    assert engine.set_presence(agent.id, presence) == []
    assert engine.enqueue(work(queue, clock)) == []
    assert [held for _, held, _ in engine.held_by(agent.id)] == [Held.ACTIVE, Held.OFFERED]
    engine.accept(offered.id, agent.id)


def test_upserting_an_agent_keeps_their_state_and_re_indexes_them(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    shipping = add_queue(engine, skills={SHIPPING_SKILL: 2})
    agent = add_agent(engine)
    held = work(queue, clock)
    engine.enqueue(held)
    engine.accept(held.id, agent.id)
    parcel = work(shipping, clock)
    assert engine.enqueue(parcel) == []
    learned = AgentSpec(agent.id, agent.tenants, {SKILL: 3, SHIPPING_SKILL: 2}, agent.languages)
    assert offers(engine.upsert_agent(learned)) == [(agent.id, parcel.id)]
    assert engine.agent_presence(agent.id) == (Presence.AVAILABLE, None)
    assert [work_id for work_id, _, _ in engine.held_by(agent.id)] == [held.id, parcel.id]


def test_new_agents_start_offline(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine, None)
    assert engine.agent_presence(agent.id) == (Presence.OFFLINE, None)
    assert engine.enqueue(work(queue, clock)) == []


def test_upserting_a_queue_offers_the_work_its_new_settings_make_matchable(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine, skills={SKILL: 4})
    agent = add_agent(engine, skills={SKILL: 2})
    item = work(queue, clock)
    assert engine.enqueue(item) == []
    easier = QueueSpec(queue.id, TENANT, queue.channels, {SKILL: 2})
    assert offers(engine.upsert_queue(easier)) == [(agent.id, item.id)]


def test_upserting_a_queue_re_sorts_its_waiting_work(engine: Engine, clock: FakeClock) -> None:
    other = add_queue(engine)
    plain = add_queue(engine)
    first = work(other, clock)
    second = work(plain, clock)
    engine.enqueue(first)
    engine.enqueue(second)
    engine.upsert_queue(QueueSpec(plain.id, TENANT, plain.channels, plain.skills, priority=5))
    agent = add_agent(engine, None, capacity=chat_only(1))
    assert offers(engine.set_presence(agent.id, Presence.AVAILABLE)) == [(agent.id, second.id)]


def test_a_queue_cannot_move_to_another_tenant_or_serve_unknown_channels(
    engine: Engine,
) -> None:
    queue = add_queue(engine)
    with pytest.raises(RoutingError):
        engine.upsert_queue(QueueSpec(queue.id, OTHER_TENANT, queue.channels, queue.skills))
    with pytest.raises(RoutingError):
        engine.upsert_queue(QueueSpec(new_id(), TENANT, frozenset({"fax"}), {}))


def test_a_queue_is_removed_only_when_no_work_waits_or_is_offered_from_it(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    item = work(queue, clock)
    engine.enqueue(item)
    with pytest.raises(RoutingError):
        engine.remove_queue(queue.id)  # waiting
    agent = add_agent(engine)
    with pytest.raises(RoutingError):
        engine.remove_queue(queue.id)  # offered
    engine.accept(item.id, agent.id)
    engine.remove_queue(queue.id)
    assert engine.finish(item.id) == []
    with pytest.raises(RoutingError):
        engine.enqueue(work(queue, clock))
    with pytest.raises(RoutingError):
        engine.remove_queue(queue.id)


# Work (rules W)


def test_enqueue_refuses_work_that_does_not_fit(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    item = work(queue, clock)
    engine.enqueue(item)
    with pytest.raises(RoutingError):
        engine.enqueue(item)  # known id
    with pytest.raises(RoutingError):
        engine.enqueue(work(queue, clock, queue_id=new_id()))
    with pytest.raises(RoutingError):
        engine.enqueue(work(queue, clock, tenant_id=OTHER_TENANT))
    with pytest.raises(RoutingError):
        engine.enqueue(work(queue, clock, channel="email"))


def test_withdrawn_waiting_work_is_forgotten(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    item = work(queue, clock)
    engine.enqueue(item)
    assert engine.withdraw(item.id) == []
    assert engine.locate(item.id) is None
    assert engine.snapshot([queue.id])[0].waiting == 0
    with pytest.raises(RoutingError):
        engine.withdraw(item.id)


def test_withdrawing_held_work_frees_the_capacity_for_the_next(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine, capacity=chat_only(1))
    first, second = work(queue, clock), work(queue, clock)
    engine.enqueue(first)
    engine.enqueue(second)
    assert offers(engine.withdraw(first.id)) == [(agent.id, second.id)]


def test_wrap_up_is_for_active_work_and_keeps_its_capacity(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine, capacity=chat_only(1))
    item = work(queue, clock)
    engine.enqueue(item)
    with pytest.raises(RoutingError):
        engine.wrap_up(item.id)  # still an offer
    engine.accept(item.id, agent.id)
    engine.wrap_up(item.id)
    assert engine.enqueue(work(queue, clock)) == []


def test_finishing_work_frees_capacity_for_the_next(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine, capacity=chat_only(1))
    first, second = work(queue, clock), work(queue, clock)
    engine.enqueue(first)
    engine.enqueue(second)
    with pytest.raises(RoutingError):
        engine.finish(first.id)  # still an offer
    engine.accept(first.id, agent.id)
    assert offers(engine.finish(first.id)) == [(agent.id, second.id)]
    with pytest.raises(RoutingError):
        engine.finish(first.id)


def test_work_transferred_to_a_queue_keeps_its_arrival_and_skips_its_sender(
    engine: Engine, clock: FakeClock
) -> None:
    sales = add_queue(engine)
    support = add_queue(engine)
    sender = add_agent(engine, capacity=chat_only(1))
    colleague = add_agent(engine, Presence.AWAY)
    transferred = work(sales, clock)
    engine.enqueue(transferred)
    engine.accept(transferred.id, sender.id)
    clock.advance(10.0)
    waiting = work(support, clock)
    assert engine.enqueue(waiting) == []
    clock.advance(10.0)
    # The sender is not offered it back, but takes the other work it now stands ahead of.
    decisions = engine.transfer(transferred.id, queue_id=support.id)
    assert offers(decisions) == [(sender.id, waiting.id)]
    assert engine.locate(transferred.id) == WorkLocation(support.id)
    assert engine.position(transferred.id) == 1
    decisions = engine.set_presence(colleague.id, Presence.AVAILABLE)
    assert offers(decisions) == [(colleague.id, transferred.id)]


def test_work_transferred_to_an_agent_is_offered_to_them_without_skills(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine, skills={SKILL: 5})
    sender = add_agent(engine, skills={SKILL: 5}, capacity=chat_only(1))
    novice = add_agent(engine, skills={})
    item, next_item = work(queue, clock), work(queue, clock)
    engine.enqueue(item)
    engine.enqueue(next_item)
    engine.accept(item.id, sender.id)
    decisions = engine.transfer(item.id, agent_id=novice.id)
    assert offers(decisions) == [(novice.id, item.id), (sender.id, next_item.id)]


def test_a_transfer_that_cannot_happen_changes_nothing(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    elsewhere = add_queue(engine, tenant=OTHER_TENANT)
    sender = add_agent(engine)
    away = add_agent(engine, Presence.AWAY)
    stranger = add_agent(engine, tenants=(OTHER_TENANT,))
    item = work(queue, clock)
    engine.enqueue(item)
    engine.accept(item.id, sender.id)
    for target in (away.id, stranger.id, sender.id):
        with pytest.raises(RoutingError):
            engine.transfer(item.id, agent_id=target)
    with pytest.raises(RoutingError):
        engine.transfer(item.id, queue_id=elsewhere.id)
    with pytest.raises(RoutingError):
        engine.transfer(item.id, queue_id=queue.id, agent_id=away.id)
    with pytest.raises(RoutingError):
        engine.transfer(item.id)
    assert engine.locate(item.id) == WorkLocation(queue.id, sender.id, Held.ACTIVE)


# Restore (rule W6)


def test_restored_work_takes_capacity_and_keeps_its_deadlines(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine, None, capacity=chat_only(2), wrap_up_seconds=60.0)
    offered, wrapping = work(queue, clock), work(queue, clock)
    engine.restore_held(offered, agent.id, Held.OFFERED, START + 5.0)
    engine.restore_held(wrapping, agent.id, Held.WRAP_UP, START + 8.0)
    engine.set_presence(agent.id, Presence.AVAILABLE)
    assert engine.enqueue(work(queue, clock)) == []  # full
    clock.advance(10.0)
    kinds = [(d.kind, d.work_id) for d in engine.tick() if d.kind is not DecisionKind.OFFERED]
    assert kinds == [
        (DecisionKind.OFFER_EXPIRED, offered.id),
        (DecisionKind.WRAP_UP_EXPIRED, wrapping.id),
    ]


def test_restored_work_of_an_unknown_queue_leaves_when_refused(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    agent = add_agent(engine)
    item = work(queue, clock, queue_id=new_id())
    engine.restore_held(item, agent.id, Held.OFFERED)
    assert engine.reject(item.id, agent.id) == []
    assert engine.locate(item.id) is None


# Questions (rules Q)


def test_position_follows_the_work_order(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine)
    plain = work(queue, clock)
    urgent = work(queue, clock, priority=1)
    english = work(queue, clock, language="en")
    for item in (plain, urgent, english):
        engine.enqueue(item)
    assert [engine.position(item.id) for item in (urgent, plain, english)] == [1, 2, 3]
    agent = add_agent(engine, capacity=chat_only(1))
    engine.accept(urgent.id, agent.id)
    assert [engine.position(item.id) for item in (plain, english)] == [1, 2]
    with pytest.raises(RoutingError):
        engine.position(urgent.id)


def test_the_estimated_wait_divides_the_work_ahead_by_the_capacity_signed_in(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine)
    agents = [add_agent(engine, Presence.AWAY, capacity=chat_only(3)) for _ in range(2)]
    add_agent(engine, None, capacity=chat_only(3))  # offline: not counted
    items = [work(queue, clock) for _ in range(5)]
    for item in items:
        engine.enqueue(item)
    assert engine.estimated_wait(queue.id) == pytest.approx((5 + 1) * 180.0 / 6)
    engine.set_presence(agents[0].id, Presence.AVAILABLE)  # takes three
    engine.accept(items[0].id, agents[0].id)
    clock.advance(60.0)
    engine.finish(items[0].id)  # handled in 60 s; takes a fourth
    assert engine.estimated_wait(queue.id) == pytest.approx((1 + 1) * 60.0 / 6)


def test_the_snapshot_counts_waiting_work_and_agents_by_state(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine, skills={SKILL: 3}, overflow=(OverflowStep(60.0, min_level=1),))
    add_agent(engine, None)
    add_agent(engine, Presence.AWAY)
    add_agent(engine, Presence.WRAP_UP)
    add_agent(engine, skills={SKILL: 3})
    busy = add_agent(engine, skills={SKILL: 5}, capacity=chat_only(1))
    add_agent(engine, skills={SKILL: 1})  # only after the overflow step
    add_agent(engine, tenants=(OTHER_TENANT,))
    held = work(queue, clock)
    assert offers(engine.enqueue(held)) == [(busy.id, held.id)]
    engine.enqueue(work(queue, clock, language="fr"))  # nobody speaks French
    clock.advance(30.0)
    [snapshot] = engine.snapshot([queue.id])
    assert snapshot.waiting == 1
    assert snapshot.longest_wait_seconds == 30.0
    assert snapshot.estimated_wait_seconds == engine.estimated_wait(queue.id)
    assert snapshot.agents_by_presence == {
        "offline": 1,
        "available": 1,
        "away": 1,
        "wrap_up": 1,
        "busy": 1,
    }
    assert engine.snapshot([]) == []
    assert [s.queue_id for s in engine.snapshot()] == [queue.id]


def test_questions_about_an_agent_and_a_piece_of_work(engine: Engine, clock: FakeClock) -> None:
    queue = add_queue(engine, offer_timeout_seconds=15.0)
    agent = add_agent(engine)
    item = work(queue, clock)
    engine.enqueue(item)
    assert engine.held_by(agent.id) == [(item.id, Held.OFFERED, START + 15.0)]
    assert engine.locate(item.id) == WorkLocation(queue.id, agent.id, Held.OFFERED, START + 15.0)
    engine.set_presence(agent.id, Presence.AWAY, "lunch")
    assert engine.agent_presence(agent.id) == (Presence.AWAY, "lunch")
    assert engine.locate(new_id()) is None
    with pytest.raises(RoutingError):
        engine.held_by(new_id())


def test_occupancy_is_the_recent_share_of_signed_in_time_holding_work(
    engine: Engine, clock: FakeClock
) -> None:
    queue = add_queue(engine, auto_accept=True)
    agent = add_agent(engine)
    assert engine.occupancy(agent.id) == 0.0
    item = work(queue, clock)
    engine.enqueue(item)
    clock.advance(50.0)
    engine.finish(item.id)
    clock.advance(50.0)
    # Half of the time, the busier half a little longer ago and so weighing a little less.
    assert 0.49 < engine.occupancy(agent.id) < 0.5


# The indexes against the rules evaluated from the specs


@pytest.mark.parametrize("seed", range(5))
def test_no_work_waits_while_an_available_agent_may_take_it(seed: int) -> None:
    rng = random.Random(seed)
    clock = FakeClock()
    engine = Engine(clock)
    skills = [new_id() for _ in range(3)]
    queues = [
        add_queue(
            engine,
            channels=(rng.choice(["chat", "email", "voice"]),),
            skills={skill: rng.randint(1, 4) for skill in rng.sample(skills, rng.randint(1, 2))},
            language=rng.choice([None, None, "en"]),
            priority=rng.randint(0, 1),
            overflow=(OverflowStep(20.0, min_level=1),) if rng.random() < 0.5 else (),
        )
        for _ in range(4)
    ]
    agents = [
        add_agent(
            engine,
            rng.choice(list(Presence)),
            skills={skill: rng.randint(1, 5) for skill in skills if rng.random() < 0.7},
            languages=rng.choice([("es",), ("es", "en")]),
            capacity={Load.VOICE: 1, Load.CHAT: rng.randint(1, 3), Load.EMAIL: 2},
        )
        for _ in range(6)
    ]
    channel_of: dict[uuid.UUID, str] = {}
    live: list[uuid.UUID] = []
    for _ in range(300):
        clock.advance(rng.uniform(0.0, 4.0))
        action = rng.random()
        if action < 0.35:
            item = work(rng.choice(queues), clock, language=rng.choice([None, None, "en"]))
            channel_of[item.id] = item.channel
            live.append(item.id)
            engine.enqueue(item)
        elif action < 0.6 and live:
            work_id = rng.choice(live)
            location = engine.locate(work_id)
            assert location is not None
            if location.held is Held.OFFERED and location.agent_id is not None:
                if rng.random() < 0.7:
                    engine.accept(work_id, location.agent_id)
                else:
                    engine.reject(work_id, location.agent_id)
            elif location.held in (Held.ACTIVE, Held.WRAP_UP):
                engine.finish(work_id)
                live.remove(work_id)
        elif action < 0.7 and live:
            work_id = rng.choice(live)
            engine.withdraw(work_id)
            live.remove(work_id)
        elif action < 0.8:
            engine.set_presence(rng.choice(agents).id, rng.choice(list(Presence)))
        else:
            engine.tick()
            live = [work_id for work_id in live if engine.locate(work_id) is not None]
        _assert_consistent(engine, agents, live, channel_of)


def _assert_consistent(
    engine: Engine, agents: list[AgentSpec], live: list[uuid.UUID], channel_of: dict[uuid.UUID, str]
) -> None:
    """No waiting work that an agent could take now (E1-E6 from the specs) and no agent holding
    more than their capacity, voice alone."""
    waiting = [
        work_id
        for work_id in live
        if (location := engine.locate(work_id)) is not None and location.agent_id is None
    ]
    for agent in agents:
        assert not any(engine.is_eligible(agent.id, work_id) for work_id in waiting)
        held = [LOAD_OF_CHANNEL[channel_of[work_id]] for work_id, _, _ in engine.held_by(agent.id)]
        assert Load.VOICE not in held or len(held) == 1
        for load in set(held):
            assert held.count(load) <= agent.capacity[load]
