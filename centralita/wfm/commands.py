"""``centralita wfm``: the Erlang calculator and staffing from the command line.

Both commands print one JSON object with ``--json`` (the contract tests and benchmarks use):
shares in [0, 1], durations in seconds, ``null`` where a measure does not exist (the ASA of a
queue that grows without end, the abandonment of customers who never hang up).
"""

import json as json_module
import math
from typing import Annotated, Any

import typer

from centralita.wfm import erlang, erlang_a
from centralita.wfm.staffing import StaffingTarget, staff_intervals

app = typer.Typer(help="Workforce management: Erlang C / A and staffing.", no_args_is_help=True)

Calls = Annotated[float, typer.Option("--calls", min=0, help="Contacts offered in the period")]
Period = Annotated[float, typer.Option("--period-s", min=1, help="Length of the period, seconds")]
Aht = Annotated[float, typer.Option("--aht-s", min=0.001, help="Average handle time, seconds")]
Threshold = Annotated[
    float, typer.Option("--target-s", min=0, help="Service level threshold T, seconds")
]
Patience = Annotated[
    float | None,
    typer.Option("--patience-s", min=0.001, help="Mean customer patience, seconds (Erlang A)"),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object")]


@app.command("erlang")
def erlang_command(
    calls: Calls,
    period_s: Period,
    aht_s: Aht,
    agents: Annotated[int, typer.Option("--agents", min=1, help="Agents on the phones")],
    target_s: Threshold,
    patience_s: Patience = None,
    json: Json = False,
) -> None:
    """What a team of a given size gives: P(wait), service level, ASA, occupancy."""
    per_hour = calls * erlang.SECONDS_PER_HOUR / period_s
    _print(_measures(per_hour, aht_s, agents, target_s, patience_s), json)


@app.command("staff")
def staff_command(
    calls: Calls,
    period_s: Period,
    aht_s: Aht,
    target_s: Threshold,
    sl: Annotated[float, typer.Option("--sl", help="Service level target, e.g. 0.8")],
    max_occupancy: Annotated[
        float, typer.Option("--max-occupancy", help="Occupancy cap, e.g. 0.85")
    ] = 1.0,
    shrinkage: Annotated[
        float, typer.Option("--shrinkage", help="Share of paid time off the phones, e.g. 0.3")
    ] = 0.0,
    asa_s: Annotated[float | None, typer.Option("--asa-s", help="ASA target, seconds")] = None,
    patience_s: Patience = None,
    json: Json = False,
) -> None:
    """The agents a period needs, before and after shrinkage, and which target binds."""
    try:
        target = StaffingTarget(
            service_level=sl,
            threshold_seconds=target_s,
            asa_seconds=asa_s,
            max_occupancy=max_occupancy,
            shrinkage=shrinkage,
            patience_seconds=patience_s,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    staffing = staff_intervals([calls], [aht_s], period_s, target)
    agents = staffing.agents[0]
    result: dict[str, Any] = {
        "traffic_erlangs": staffing.load_erlangs[0],
        "agents_before_shrinkage": agents,
        "agents_after_shrinkage": staffing.scheduled_agents[0],
        "binding": staffing.binding[0].value,
    }
    if agents:
        per_hour = calls * erlang.SECONDS_PER_HOUR / period_s
        measures = _measures(per_hour, aht_s, agents, target_s, patience_s)
        result |= {k: v for k, v in measures.items() if k != "traffic_erlangs"}
    _print(result, json)


def _measures(
    per_hour: float, aht_s: float, agents: int, target_s: float, patience_s: float | None
) -> dict[str, Any]:
    if patience_s is None:
        c = erlang.erlang_c(per_hour, aht_s, agents, target_s)
        return {
            "traffic_erlangs": c.load_erlangs,
            "p_wait": c.probability_of_waiting,
            "service_level": c.service_level,
            "asa_s": c.average_speed_of_answer
            if math.isfinite(c.average_speed_of_answer)
            else None,
            "occupancy": c.occupancy,
            "p_abandon": None,
        }
    a = erlang_a.erlang_a(per_hour, aht_s, agents, target_s, patience_s)
    return {
        "traffic_erlangs": a.load_erlangs,
        "p_wait": a.probability_of_waiting,
        "service_level": a.service_level,
        "asa_s": a.average_speed_of_answer,
        "occupancy": a.occupancy,
        "p_abandon": a.probability_of_abandoning,
    }


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json_module.dumps(result))
        return
    for key, value in result.items():
        shown = "-" if value is None else f"{value:.4f}" if isinstance(value, float) else value
        typer.echo(f"{key:<24} {shown}")
