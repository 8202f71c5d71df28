"""The matching engine: conditions as tenants write them, and an index that changes no answer."""

import random
import uuid
from typing import Any

import pytest

from centralita.automation.engine import CompiledRule, RuleSet
from centralita.automation.models import Rule
from centralita.automation.service import compiled

CONTEXT = {
    "event": {"queue": "ventas", "priority": 7, "waited_seconds": 42.5, "low": True},
    "customer": {"value_tier": "gold", "tags": ["vip", "moroso"], "segment": None},
    "agent": {"id": None},
}


def rule(*conditions: dict[str, Any], position: int = 0, stop: bool = False) -> CompiledRule:
    return compiled(
        Rule(
            tenant_id=uuid.uuid4(),
            id=uuid.uuid4(),
            name="r",
            trigger="interaction.created",
            conditions=list(conditions),
            actions=[],
            position=position,
            stop_processing=stop,
        )
    )


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"field": "event.queue", "op": "eq", "value": "ventas"}, True),
        ({"field": "event.queue", "op": "ne", "value": "ventas"}, False),
        ({"field": "event.priority", "op": "ge", "value": 7}, True),
        ({"field": "event.priority", "op": "gt", "value": 7}, False),
        ({"field": "event.waited_seconds", "op": "lt", "value": 60}, True),
        ({"field": "event.queue", "op": "lt", "value": 3}, False),  # text against a number
        ({"field": "customer.value_tier", "op": "in", "value": ["gold", "platinum"]}, True),
        ({"field": "customer.value_tier", "op": "not_in", "value": ["gold"]}, False),
        ({"field": "customer.tags", "op": "contains", "value": "vip"}, True),
        ({"field": "customer.tags", "op": "in", "value": ["vip"]}, False),  # a list is no value
        ({"field": "customer.segment", "op": "exists"}, False),
        ({"field": "customer.segment", "op": "not_exists"}, True),
        ({"field": "event.missing", "op": "eq", "value": 1}, False),
        ({"field": "event.missing", "op": "ne", "value": 1}, True),
        ({"field": "event.low", "op": "eq", "value": True}, True),
        ({"field": "event.queue.deeper", "op": "exists"}, False),
    ],
)
def test_conditions(condition: dict[str, Any], holds: bool) -> None:
    assert rule(condition).matches(CONTEXT) is holds


def test_rules_fire_in_order_and_a_stop_ends_the_list() -> None:
    queue = {"field": "event.queue", "op": "eq", "value": "ventas"}
    first = rule(queue, position=1)
    stopping = rule({"field": "event.priority", "op": "ge", "value": 5}, position=2, stop=True)
    after = rule(queue, position=3)
    other_queue = rule({"field": "event.queue", "op": "eq", "value": "bajas"}, position=0)

    fired = RuleSet([after, other_queue, stopping, first]).matching("interaction.created", CONTEXT)

    assert fired == [first, stopping]
    assert RuleSet([first]).matching("ticket.created", CONTEXT) == []
    assert (
        RuleSet([first]).matching("interaction.created", CONTEXT, skip=frozenset({first.id})) == []
    )


def test_the_index_gives_the_answers_of_trying_every_rule() -> None:
    rng = random.Random(3)
    queues = ["a", "b", "c", "d"]
    rules = []
    for _ in range(300):
        conditions: list[dict[str, Any]] = []
        if rng.random() < 0.8:
            value: Any = rng.choice(queues)
            op = rng.choice(["eq", "in"])
            conditions.append(
                {"field": "event.queue", "op": op, "value": [value, "d"] if op == "in" else value}
            )
        if rng.random() < 0.5:
            conditions.append({"field": "event.priority", "op": "ge", "value": rng.randint(0, 9)})
        rules.append(rule(*conditions, position=rng.randint(0, 50), stop=rng.random() < 0.05))
    ruleset = RuleSet(rules)
    ordered = sorted(rules, key=lambda r: (r.position, r.id))

    for _ in range(500):
        context = {
            "event": {"queue": rng.choice([*queues, "zz", None]), "priority": rng.randint(0, 9)}
        }
        expected = []
        for candidate in ordered:
            if candidate.matches(context):
                expected.append(candidate)
                if candidate.stop_processing:
                    break
        assert ruleset.matching("interaction.created", context) == expected
