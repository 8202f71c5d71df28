import pytest

from centralita.wfm.schedule import AgentContract, ShiftTemplate, build_schedule

HOURLY = 60
WEEK = 7 * 24


def office_hours(agents: int, days: range = range(5), start: int = 9, end: int = 17) -> list[float]:
    """``agents`` needed from ``start`` to ``end`` o'clock on each of ``days`` (0 = Monday)."""
    return [
        float(agents if day in days and start <= hour < end else 0)
        for day in range(7)
        for hour in range(24)
    ]


EIGHT = ShiftTemplate("8h", 480, [7 * 60, 8 * 60, 9 * 60, 10 * 60])
FOUR = ShiftTemplate("4h", 240, [h * 60 for h in range(7, 15)])


def test_the_requirement_is_covered_with_exactly_its_hours_when_shifts_fit_it():
    team = [AgentContract(f"a{n}", frozenset({"es"})) for n in range(3)]

    schedule = build_schedule({"es": office_hours(1)}, HOURLY, [EIGHT, FOUR], team)

    assert schedule.required_hours == 40
    assert schedule.agent_hours == 40
    assert schedule.short_hours == pytest.approx(0)
    assert schedule.unassigned_hours == 0
    assert all(shift.start_minute == 9 * 60 for shift in schedule.shifts if shift.template == "8h")
    assert sum(schedule.coverage["es"]) == pytest.approx(40)


def test_a_skill_is_only_covered_by_agents_who_hold_it():
    team = [
        AgentContract("ana", frozenset({"es"})),
        AgentContract("bob", frozenset({"en"})),
        AgentContract("eva", frozenset({"en", "es"})),
    ]
    requirement = {"es": office_hours(1), "en": office_hours(2, days=range(2))}

    schedule = build_schedule(requirement, HOURLY, [EIGHT], team)

    english_days = {s.day for s in schedule.shifts if s.agent in {"bob", "eva"} and s.day < 2}
    assert english_days == {0, 1}
    assert {s.agent for s in schedule.shifts if s.day < 2} == {"ana", "bob", "eva"}
    assert schedule.short_hours == pytest.approx(0)
    assert schedule.agent_hours == pytest.approx(schedule.required_hours)


def test_contract_hours_limit_the_team_and_the_shortfall_is_reported():
    team = [AgentContract(f"a{n}", frozenset({"es"}), max_hours=32) for n in range(2)]

    schedule = build_schedule({"es": office_hours(2)}, HOURLY, [EIGHT], team)

    assert schedule.agent_hours == 64
    assert schedule.short_hours == pytest.approx(16)
    for agent in ("a0", "a1"):
        shifts = [s for s in schedule.shifts if s.agent == agent]
        assert len(shifts) == 4
        assert len({s.day for s in shifts}) == 4  # one shift a day


def test_days_off_and_minimum_hours_are_respected():
    team = [
        AgentContract("weekday", frozenset({"es"}), days_off=frozenset({5, 6})),
        AgentContract("weekend", frozenset({"es"}), min_hours=16, days_off=frozenset(range(5))),
    ]
    requirement = {"es": office_hours(1, days=range(7))}

    schedule = build_schedule(requirement, HOURLY, [EIGHT], team)

    assert {s.day for s in schedule.shifts if s.agent == "weekday"} <= set(range(5))
    assert {s.day for s in schedule.shifts if s.agent == "weekend"} == {5, 6}
    assert schedule.short_hours == pytest.approx(0)


def test_breaks_are_placed_where_the_requirement_allows_them():
    # Two agents all day, except one may go at 12:00-13:00: both breaks land where only one is
    # needed, one after the other.
    need = office_hours(2, days=range(1))
    need[12] = need[13] = 1.0
    lunch = ShiftTemplate("lunch", 540, [8 * 60], break_minutes=60, break_after_minutes=(180, 300))
    team = [AgentContract(f"a{n}", frozenset({"es"})) for n in range(2)]

    schedule = build_schedule({"es": need}, HOURLY, [lunch], team)

    breaks = sorted(s.break_start_minute or 0 for s in schedule.shifts)
    assert breaks == [12 * 60, 13 * 60]
    assert schedule.short_hours == pytest.approx(0)


@pytest.mark.parametrize(
    ("requirement", "interval", "templates", "message"),
    [
        ({"es": [1.0] * 5}, HOURLY, [EIGHT], "must have 168 intervals"),
        ({"es": [-1.0] * WEEK}, HOURLY, [EIGHT], "at least 0"),
        ({}, HOURLY, [EIGHT], "no skill"),
        ({"es": [0.0] * WEEK}, 7, [EIGHT], "divide the day"),
        ({"es": [0.0] * WEEK}, HOURLY, [], "template"),
        ({"es": [0.0] * WEEK}, HOURLY, [ShiftTemplate("x", 90, [0])], "whole intervals"),
        (
            {"es": [0.0] * WEEK},
            HOURLY,
            [ShiftTemplate("x", 120, [0], break_minutes=60, break_after_minutes=(90, 180))],
            "break",
        ),
    ],
)
def test_bad_plans_are_refused(requirement, interval, templates, message):
    with pytest.raises(ValueError, match=message):
        build_schedule(requirement, interval, templates, [AgentContract("a", frozenset({"es"}))])
