import math

import pytest

from centralita.wfm import erlang


def test_textbook_example_100_calls_per_hour_180_seconds_7_agents():
    result = erlang.erlang_c(arrivals_per_hour=100, aht_seconds=180, agents=7, threshold_seconds=20)

    assert result.load_erlangs == pytest.approx(5.0)
    assert round(result.probability_of_waiting, 3) == 0.324
    assert round(result.average_speed_of_answer, 1) == 29.2
    assert round(result.service_level * 100, 1) == 74.0
    assert result.occupancy == pytest.approx(5 / 7)


def test_erlang_b_matches_the_closed_form_for_small_teams():
    load, agents = 3.0, 4
    terms = [load**n / math.factorial(n) for n in range(agents + 1)]

    assert erlang.erlang_b(agents, load) == pytest.approx(terms[-1] / sum(terms))


def test_one_agent_is_the_m_m_1_queue():
    # M/M/1: P(wait) = ρ and ASA = ρ·AHT / (1 − ρ).
    assert erlang.probability_of_waiting(1, 0.5) == pytest.approx(0.5)
    assert erlang.average_speed_of_answer(1, 0.5, 100) == pytest.approx(100.0)


def test_more_agents_never_give_worse_service():
    levels = [erlang.service_level(n, 5.0, 180, 20) for n in range(6, 15)]

    assert levels == sorted(levels)
    assert levels[-1] > 0.999


def test_traffic_at_or_above_the_team_means_everyone_waits_forever():
    for agents in (5, 4):
        assert erlang.probability_of_waiting(agents, 5.0) == 1.0
        assert erlang.average_speed_of_answer(agents, 5.0, 180) == math.inf
        assert erlang.service_level(agents, 5.0, 180, 20) == 0.0
        assert erlang.occupancy(agents, 5.0) == 1.0


def test_no_traffic_means_nobody_waits():
    result = erlang.erlang_c(arrivals_per_hour=0, aht_seconds=180, agents=1, threshold_seconds=20)

    assert result.probability_of_waiting == 0.0
    assert result.average_speed_of_answer == 0.0
    assert result.service_level == 1.0
    assert erlang.agents_needed(0, 180, target_service_level=0.8, threshold_seconds=20) == 0


def test_huge_loads_do_not_overflow():
    result = erlang.erlang_c(
        arrivals_per_hour=200_000, aht_seconds=180, agents=10_100, threshold_seconds=20
    )

    assert result.load_erlangs == pytest.approx(10_000)
    assert 0.0 < result.probability_of_waiting < 1.0
    assert result.service_level > 0.99


def test_agents_needed_is_the_smallest_team_meeting_the_target():
    needed = erlang.agents_needed(100, 180, target_service_level=0.8, threshold_seconds=20)

    assert needed == 8
    assert erlang.service_level(needed, 5.0, 180, 20) >= 0.8
    assert erlang.service_level(needed - 1, 5.0, 180, 20) < 0.8


def test_agents_needed_respects_the_occupancy_cap_and_shrinkage():
    # 50 Erlangs: the service level target alone needs fewer agents than a 85% occupancy cap.
    by_service = erlang.agents_needed(1000, 180, target_service_level=0.8, threshold_seconds=20)
    by_occupancy = erlang.agents_needed(
        1000, 180, target_service_level=0.8, threshold_seconds=20, max_occupancy=0.85
    )
    with_shrinkage = erlang.agents_needed(
        1000,
        180,
        target_service_level=0.8,
        threshold_seconds=20,
        max_occupancy=0.85,
        shrinkage=0.3,
    )

    assert by_occupancy == math.ceil(50 / 0.85) > by_service
    assert with_shrinkage == math.ceil(by_occupancy / 0.7)


@pytest.mark.parametrize(
    "call",
    [
        lambda: erlang.probability_of_waiting(0, 1.0),
        lambda: erlang.probability_of_waiting(-3, 1.0),
        lambda: erlang.probability_of_waiting(2.5, 1.0),  # type: ignore[arg-type]
        lambda: erlang.probability_of_waiting(3, -1.0),
        lambda: erlang.probability_of_waiting(3, math.nan),
        lambda: erlang.average_speed_of_answer(3, 1.0, 0),
        lambda: erlang.service_level(3, 1.0, 180, -1),
        lambda: erlang.offered_load(-5, 180),
        lambda: erlang.offered_load(100, math.inf),
        lambda: erlang.agents_needed(100, 180, target_service_level=1.0, threshold_seconds=20),
        lambda: erlang.agents_needed(
            100, 180, target_service_level=0.8, threshold_seconds=20, shrinkage=1.0
        ),
        lambda: erlang.agents_needed(
            100, 180, target_service_level=0.8, threshold_seconds=20, max_occupancy=0
        ),
    ],
)
def test_invalid_input_is_refused(call):
    with pytest.raises(ValueError, match="must"):
        call()
