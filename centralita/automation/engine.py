"""Matching events against rules: pure, compiled once per rule set, no I/O.

A rule's conditions are compiled into closures over dotted paths of the evaluation context
(``event.*``, ``customer.*``, ``agent.*``); all must hold. Rules are grouped by trigger, so an
event is only tried against the rules that wait for its type, in their order; and within a
trigger they are indexed on the field most of them test for equality (the queue, say), so an
event is only tried against the rules that can match its value of that field.
"""

import heapq
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Context = Mapping[str, Any]
Predicate = Callable[[Context], bool]
MISSING = object()


def lookup(context: Context, path: tuple[str, ...]) -> Any:
    value: Any = context
    for part in path:
        # Contexts are built from JSON: plain dicts (an isinstance on Mapping is slower).
        if not isinstance(value, dict):
            return MISSING
        value = value.get(part, MISSING)
        if value is MISSING:
            return MISSING
    return value


def equality_values(op: str, value: Any) -> frozenset[Any] | None:
    """The values a condition accepts, if it accepts only those (eq, or in over plain values)."""
    if op == "eq" and isinstance(value, str | int) and not isinstance(value, bool):
        return frozenset({value})
    if op == "in" and isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return frozenset(value)
    return None


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(actual: Any, expected: Any) -> bool:
        # Numbers compare with numbers and text with text; anything else simply does not hold.
        numeric = isinstance(actual, int | float) and isinstance(expected, int | float)
        if not (numeric or (isinstance(actual, str) and isinstance(expected, str))):
            return False
        if isinstance(actual, bool) or isinstance(expected, bool):
            return False
        return compare(actual, expected)

    return check


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        return expected.casefold() in actual.casefold()
    return isinstance(actual, list) and expected in actual


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": _ordered(operator.lt),
    "le": _ordered(operator.le),
    "gt": _ordered(operator.gt),
    "ge": _ordered(operator.ge),
    "in": lambda actual, expected: actual in expected,
    "not_in": lambda actual, expected: actual not in expected,
    "contains": _contains,
}


def getter(path: tuple[str, ...]) -> Callable[[Context], Any]:
    """Reads one dotted path; the usual two-part path (``event.queue``) without a loop."""
    if len(path) == 2:
        head, name = path

        def two(context: Context) -> Any:
            part = context.get(head)
            return part.get(name, MISSING) if isinstance(part, dict) else MISSING

        return two
    return lambda context: lookup(context, path)


def compile_condition(field: str, op: str, value: Any) -> Predicate:
    read = getter(tuple(field.split(".")))
    if op == "exists":
        return lambda context: read(context) not in (MISSING, None)
    if op == "not_exists":
        return lambda context: read(context) in (MISSING, None)
    accepted = equality_values(op, value)
    if accepted is not None:
        # eq / in over plain values: one hashed lookup.
        def among(context: Context) -> bool:
            try:
                return read(context) in accepted
            except TypeError:  # an unhashable value (a list) is none of them
                return False

        return among
    compare = OPERATORS[op]
    if op in ("in", "not_in"):
        value = frozenset(value) if all(isinstance(v, str | int) for v in value) else list(value)
    missing_holds = op in ("ne", "not_in")

    def holds(context: Context) -> bool:
        actual = read(context)
        if actual is MISSING:
            return missing_holds
        try:
            return bool(compare(actual, value))
        except TypeError:
            return False

    return holds


@dataclass(frozen=True)
class CompiledRule:
    id: str
    trigger: str
    position: int
    predicates: tuple[Predicate, ...]
    stop_processing: bool
    # field → the only values it may have for the rule to match, from its eq/in conditions.
    accepts: Mapping[str, frozenset[Any]] = field(default_factory=dict)

    def matches(self, context: Context) -> bool:
        # A plain loop: all() over a generator costs a frame per rule on the hot path.
        for predicate in self.predicates:  # noqa: SIM110
            if not predicate(context):
                return False
        return True


class _TriggerIndex:
    """One trigger's rules in order, bucketed by their accepted values of one field."""

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        counts = Counter(name for rule in rules for name in rule.accepts)
        self.field: str | None = None
        self.path: tuple[str, ...] = ()
        self.unindexed = rules
        self.buckets: dict[Any, list[CompiledRule]] = {}
        if counts:
            name, count = counts.most_common(1)[0]
            # An index that leaves most rules unindexed saves nothing.
            if count * 2 >= len(rules):
                self.field, self.path = name, tuple(name.split("."))
                self.unindexed = [r for r in rules if name not in r.accepts]
                for rule in rules:
                    for value in rule.accepts.get(name, ()):
                        self.buckets.setdefault(value, []).append(rule)

    def candidates(self, context: Context) -> Iterable[CompiledRule]:
        if self.field is None:
            return self.rules
        value = lookup(context, self.path)
        try:
            bucket = self.buckets.get(value, [])
        except TypeError:  # an unhashable value (a list) equals no accepted value
            bucket = []
        if not self.unindexed:
            return bucket
        return heapq.merge(bucket, self.unindexed, key=lambda r: (r.position, r.id))


class RuleSet:
    """A tenant's active rules, by trigger, in order."""

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        by_trigger: dict[str, list[CompiledRule]] = {}
        for rule in sorted(rules, key=lambda r: (r.position, r.id)):
            by_trigger.setdefault(rule.trigger, []).append(rule)
        self.by_trigger = {trigger: _TriggerIndex(rules) for trigger, rules in by_trigger.items()}

    def matching(
        self, trigger: str, context: Context, skip: frozenset[str] = frozenset()
    ) -> list[CompiledRule]:
        """The rules that fire, in order; a matching rule that stops processing ends the list."""
        index = self.by_trigger.get(trigger)
        if index is None:
            return []
        fired: list[CompiledRule] = []
        for rule in index.candidates(context):
            if rule.id in skip or not rule.matches(context):
                continue
            fired.append(rule)
            if rule.stop_processing:
                break
        return fired
