import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centralita.routing.scenario import Scenario
from centralita.routing.simulation import simulate
from centralita.wfm import erlang, erlang_a


def test_very_patient_customers_give_the_published_erlang_c_figures():
    # 100 calls per 30 min, AHT 180 s, T = 20 s: the published examples.
    for agents, p_wait, level, asa in ((11, 0.6821, 0.3896, 122.8), (14, 0.1741, 0.8884, 7.84)):
        result = erlang_a.erlang_a(200, 180, agents, 20, patience_seconds=1e9)

        assert round(result.probability_of_waiting, 4) == p_wait
        assert round(result.service_level, 4) == level
        assert result.average_speed_of_answer == pytest.approx(asa, abs=0.05)
        assert result.probability_of_abandoning < 1e-6


@settings(max_examples=40, deadline=None)
@given(
    load=st.floats(0.2, 60),
    spare=st.integers(1, 10),
    aht=st.floats(30, 600),
    patience=st.floats(5, 1000),
    threshold=st.floats(0, 60),
)
def test_impatience_only_shortens_the_queue(load, spare, aht, patience, threshold):
    agents = math.ceil(load) + spare - 1 if math.ceil(load) > load else math.ceil(load) + spare
    per_hour = load / aht * 3600
    patient = erlang.erlang_c(per_hour, aht, agents, threshold)
    impatient = erlang_a.erlang_a(per_hour, aht, agents, threshold, patience)

    assert impatient.probability_of_waiting <= patient.probability_of_waiting + 1e-9
    assert impatient.average_speed_of_answer <= patient.average_speed_of_answer + 1e-6
    assert 0.0 <= impatient.probability_of_abandoning < impatient.probability_of_waiting + 1e-12
    assert 0.0 <= impatient.service_level <= 1.0 - impatient.probability_of_abandoning + 1e-9


def test_the_birth_death_chain_solved_as_a_linear_system_gives_the_same_measures():
    # An independent computation: the truncated chain's generator, solved with numpy, then
    # P(wait) = P(all busy) and P(abandon) = θ · mean queue length / λ (abandonments per second
    # over arrivals per second).
    lam, mu, theta, agents, states = 240 / 3600, 1 / 180, 1 / 90, 11, 200
    generator = np.zeros((states, states))
    for k in range(states - 1):
        generator[k, k + 1] = lam
        generator[k + 1, k] = min(k + 1, agents) * mu + max(k + 1 - agents, 0) * theta
    np.fill_diagonal(generator, -generator.sum(axis=1))
    system = np.vstack([generator.T, np.ones(states)])
    stationary = np.linalg.lstsq(system, np.r_[np.zeros(states), 1.0], rcond=None)[0]
    queue_length = sum(max(k - agents, 0) * p for k, p in enumerate(stationary))

    result = erlang_a.erlang_a(240, 180, agents, 20, patience_seconds=90)

    assert result.probability_of_waiting == pytest.approx(stationary[agents:].sum(), rel=1e-9)
    assert result.probability_of_abandoning == pytest.approx(theta * queue_length / lam, rel=1e-9)
    assert result.occupancy == pytest.approx(
        lam * (1 - result.probability_of_abandoning) * 180 / agents
    )


def test_an_overloaded_team_loses_the_excess_to_abandonment_without_overflowing():
    # 10 000 Erlangs on 9 000 agents: the fluid limit says 10% of callers hang up.
    result = erlang_a.erlang_a(200_000, 180, 9_000, 20, patience_seconds=300)

    assert result.probability_of_abandoning == pytest.approx(0.1, abs=0.005)
    assert result.occupancy == pytest.approx(1.0, abs=1e-3)
    assert math.isfinite(result.average_speed_of_answer)


def test_ten_thousand_erlangs_with_enough_agents_answer_nearly_everyone_fast():
    result = erlang_a.erlang_a(200_000, 180, 10_100, 20, patience_seconds=120)

    assert 0.0 < result.probability_of_waiting < 0.5
    assert result.service_level > 0.99
    assert result.probability_of_abandoning < 0.01


def test_the_real_router_in_the_simulator_agrees_with_erlang_a():
    # Exponential handle times and patience, one queue: the M/M/N+M model exactly. 300 hours
    # (30 000 calls) put the estimates within about a point of the formula.
    scenario = Scenario.model_validate(
        {
            "name": "Erlang A",
            "simulation": {"seed": 3, "hours": 300, "warm_up_hours": 1, "short_abandon_seconds": 0},
            "queues": [
                {
                    "name": "soporte",
                    "skills": {"soporte": 1},
                    "arrivals_per_hour": 100,
                    "handle_time": {"distribution": "exponential", "mean": 180},
                    "patience": {"distribution": "exponential", "mean": 60},
                    "sl_threshold_seconds": 20,
                }
            ],
            "agents": [
                {"name": "equipo", "count": 5, "skills": {"soporte": 1}, "occupancy_cap": 1.0}
            ],
        }
    )
    expected = erlang_a.erlang_a(100, 180, 5, 20, patience_seconds=60)

    queue = simulate(scenario).queues["soporte"]

    assert queue.abandonment_rate == pytest.approx(expected.probability_of_abandoning, abs=0.02)
    assert queue.service_level == pytest.approx(expected.service_level, abs=0.02)
    assert queue.probability_of_waiting == pytest.approx(expected.probability_of_waiting, abs=0.02)
    assert queue.asa_seconds == pytest.approx(expected.average_speed_of_answer, rel=0.1)


@pytest.mark.parametrize("patience", [0, -1, math.inf, math.nan])
def test_a_patience_that_is_not_a_positive_duration_is_refused(patience):
    with pytest.raises(ValueError, match="patience_seconds must"):
        erlang_a.erlang_a(100, 180, 5, 20, patience)
