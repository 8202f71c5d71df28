import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centralita.wfm import erlang, erlang_a
from centralita.wfm.staffing import Binding, StaffingTarget, staff_intervals


def test_the_published_example_needs_14_agents_for_80_in_20():
    # 100 calls per 30 min, AHT 180 s: 13 agents answer fewer than 80% within 20 s, 14 do (88.8%).
    staffing = staff_intervals([100], [180], 1800, StaffingTarget(0.8, 20))

    assert staffing.load_erlangs == [10.0]
    assert staffing.agents == [14]
    assert staffing.binding == [Binding.SERVICE_LEVEL]
    assert erlang.service_level(13, 10.0, 180, 20) < 0.8


def test_shrinkage_grosses_the_requirement_up_to_agents_to_schedule():
    staffing = staff_intervals([100], [180], 1800, StaffingTarget(0.8, 20, shrinkage=0.3))

    assert staffing.agents == [14]
    assert staffing.scheduled_agents == [math.ceil(14 / 0.7)] == [20]


def test_the_binding_target_is_named_per_interval():
    # A quiet interval is set by the service level; a busy one by the 85% occupancy cap (big
    # teams answer fast long before they are that busy); a strict ASA binds in between.
    target = StaffingTarget(0.8, 20, asa_seconds=2, max_occupancy=0.85)
    staffing = staff_intervals([10, 0, 1800, 100], [180, 180, 180, 180], 1800, target)

    assert staffing.binding[1] is Binding.NONE
    assert staffing.agents[1] == 0
    assert staffing.binding[2] is Binding.OCCUPANCY
    assert staffing.agents[2] == math.ceil(180 / 0.85)
    assert staffing.binding[3] is Binding.ASA
    assert erlang.average_speed_of_answer(staffing.agents[3], 10.0, 180) <= 2
    assert erlang.average_speed_of_answer(staffing.agents[3] - 1, 10.0, 180) > 2


@settings(max_examples=30, deadline=None)
@given(
    calls=st.lists(st.just(0.0) | st.floats(0.01, 2000), min_size=1, max_size=20),
    aht=st.floats(30, 900),
    level=st.floats(0.5, 0.95),
    cap=st.floats(0.6, 1.0),
)
def test_the_vectorised_search_matches_the_one_interval_calculator(calls, aht, level, cap):
    staffing = staff_intervals(
        calls, [aht] * len(calls), 900, StaffingTarget(level, 20, max_occupancy=cap)
    )

    expected = [
        erlang.agents_needed(
            c * 4, aht, target_service_level=level, threshold_seconds=20, max_occupancy=cap
        )
        for c in calls
    ]
    assert staffing.agents == expected


def test_erlang_a_staffing_is_the_smallest_team_meeting_the_target():
    target = StaffingTarget(0.8, 20, patience_seconds=120)
    staffing = staff_intervals([100], [180], 1800, target)
    [agents] = staffing.agents

    assert erlang_a.erlang_a(200, 180, agents, 20, 120).service_level >= 0.8
    assert erlang_a.erlang_a(200, 180, agents - 1, 20, 120).service_level < 0.8
    # Callers who hang up free the agents: impatience never needs more agents than Erlang C.
    assert agents <= 14


def test_a_day_of_96_intervals_for_50_queues_up_to_a_hundred_thousand_erlangs():
    calls = np.linspace(0, 500_000, 96 * 50)  # up to 100 000 Erlangs at AHT 180 s in 15 minutes
    staffing = staff_intervals(calls.tolist(), [180.0] * calls.size, 900, StaffingTarget(0.8, 20))

    assert staffing.agents[0] == 0
    assert staffing.load_erlangs[-1] == pytest.approx(100_000)
    assert 100_000 < staffing.agents[-1] < 100_100
    assert staffing.agents == sorted(staffing.agents)


@pytest.mark.parametrize(
    ("calls", "aht", "interval", "message"),
    [
        ([1, 2], [180], 900, "one value per interval"),
        ([-1], [180], 900, "calls must"),
        ([math.nan], [180], 900, "calls must"),
        ([1], [0], 900, "aht_seconds must"),
        ([1], [180], 0, "interval must"),
    ],
)
def test_bad_intervals_are_refused(calls, aht, interval, message):
    with pytest.raises(ValueError, match=message):
        staff_intervals(calls, aht, interval, StaffingTarget())


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        ({"service_level": 1.0}, "service level"),
        ({"threshold_seconds": -1}, "threshold"),
        ({"asa_seconds": 0}, "ASA"),
        ({"max_occupancy": 0}, "max occupancy"),
        ({"shrinkage": 1.0}, "shrinkage"),
        ({"patience_seconds": math.inf}, "patience"),
    ],
)
def test_impossible_targets_are_refused(settings_, message):
    with pytest.raises(ValueError, match=message):
        StaffingTarget(**settings_)
