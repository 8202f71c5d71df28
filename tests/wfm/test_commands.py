import json

import pytest
from typer.testing import CliRunner

from centralita.cli import app

EXAMPLE = ["--calls", "100", "--period-s", "1800", "--aht-s", "180", "--target-s", "20"]


@pytest.mark.parametrize(
    ("agents", "p_wait", "level", "asa"), [(11, 0.6821, 0.3896, 122.8), (14, 0.1741, 0.8884, 7.84)]
)
def test_erlang_prints_the_published_examples(agents, p_wait, level, asa):
    result = CliRunner().invoke(app, ["wfm", "erlang", *EXAMPLE, "--agents", str(agents), "--json"])

    assert result.exit_code == 0, result.output
    measures = json.loads(result.stdout)
    assert set(measures) == {
        "traffic_erlangs",
        "p_wait",
        "service_level",
        "asa_s",
        "occupancy",
        "p_abandon",
    }
    assert measures["traffic_erlangs"] == 10.0
    assert round(measures["p_wait"], 4) == p_wait
    assert round(measures["service_level"], 4) == level
    assert round(measures["asa_s"], 2 if asa < 10 else 1) == asa
    assert measures["occupancy"] == pytest.approx(10 / agents)
    assert measures["p_abandon"] is None


def test_erlang_with_a_patience_is_erlang_a_and_reports_abandonment():
    result = CliRunner().invoke(
        app, ["wfm", "erlang", *EXAMPLE, "--agents", "11", "--patience-s", "120", "--json"]
    )

    measures = json.loads(result.stdout)
    assert 0.05 < measures["p_abandon"] < 0.2
    assert measures["p_wait"] < 0.6821
    assert measures["asa_s"] < 122.8


def test_an_overloaded_team_has_no_asa_in_erlang_c():
    result = CliRunner().invoke(app, ["wfm", "erlang", *EXAMPLE, "--agents", "9", "--json"])

    measures = json.loads(result.stdout)
    assert measures["asa_s"] is None
    assert measures["service_level"] == 0.0
    assert measures["p_wait"] == 1.0


def test_staff_prints_agents_before_and_after_shrinkage():
    result = CliRunner().invoke(
        app,
        [
            "wfm",
            "staff",
            *EXAMPLE,
            "--sl",
            "0.8",
            "--max-occupancy",
            "0.85",
            "--shrinkage",
            "0.3",
            "--json",
        ],
    )

    assert result.exit_code == 0, result.output
    staffing = json.loads(result.stdout)
    assert staffing["agents_before_shrinkage"] == 14
    assert staffing["agents_after_shrinkage"] == 20
    assert staffing["binding"] == "service_level"
    assert round(staffing["service_level"], 4) == 0.8884


def test_staff_without_json_prints_a_readable_table():
    result = CliRunner().invoke(app, ["wfm", "staff", *EXAMPLE, "--sl", "0.8"])

    assert result.exit_code == 0, result.output
    assert "agents_before_shrinkage" in result.stdout
    assert "14" in result.stdout


@pytest.mark.parametrize(
    "arguments",
    [
        ["wfm", "staff", *EXAMPLE, "--sl", "1.5"],
        ["wfm", "staff", *EXAMPLE, "--sl", "0.8", "--shrinkage", "1"],
        ["wfm", "erlang", *EXAMPLE, "--agents", "0"],
        [
            "wfm",
            "erlang",
            "--calls",
            "-1",
            "--period-s",
            "1800",
            "--aht-s",
            "180",
            "--agents",
            "3",
            "--target-s",
            "20",
        ],
    ],
)
def test_bad_input_is_an_error_with_a_message(arguments):
    result = CliRunner().invoke(app, arguments)

    assert result.exit_code == 2
    assert "error" in result.output.lower() or "invalid value" in result.output.lower()
