import pytest

from centralita.wfm.staffing import StaffingTarget
from centralita.wfm.twin import SkillDay, confirm_staffing

# Contacts per hour of the day: open 08:00 to 19:00 with a late-morning peak.
DAY = [0] * 8 + [40, 80, 120, 120, 100, 90, 110, 100, 80, 60, 40] + [0] * 5
PLAN = [
    SkillDay("soporte", DAY, aht_seconds=240),
    SkillDay("english", [calls * 0.3 for calls in DAY], aht_seconds=300),
]
TARGET = StaffingTarget(service_level=0.8, threshold_seconds=20)


def test_the_real_router_confirms_the_erlang_requirement_of_every_skill():
    checks = confirm_staffing(PLAN, TARGET, days=10)

    assert [c.skill for c in checks] == ["soporte", "english"]
    for check in checks:
        assert check.meets_target, check
        assert check.agents_by_hour[:8] == [0] * 8  # closed hours need nobody
        assert max(check.agents_by_hour) >= 5


def test_one_agent_fewer_every_hour_misses_the_target_in_the_twin():
    checks = confirm_staffing(PLAN, TARGET, days=10, extra_agents=-1)

    assert not any(check.meets_target for check in checks)
    assert all((check.simulated_service_level or 0.0) < 0.78 for check in checks)


def test_impatient_customers_are_planned_with_erlang_a_and_abandon_in_the_twin():
    impatient = [SkillDay("soporte", DAY, aht_seconds=240, patience_seconds=60)]
    target = StaffingTarget(0.8, 20, patience_seconds=60)

    [check] = confirm_staffing(impatient, target, days=10)

    assert check.meets_target
    assert check.simulated_abandonment is not None
    assert 0 < check.simulated_abandonment < 0.1


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([], "no skill"),
        ([SkillDay("a", [1.0] * 5, 180)], "24 hourly volumes"),
        ([SkillDay("a", DAY, 180), SkillDay("a", DAY, 180)], "twice"),
    ],
)
def test_bad_plans_are_refused(plan, message):
    with pytest.raises(ValueError, match=message):
        confirm_staffing(plan, TARGET)
