"""Simulation scenarios: the TOML file ``centralita simulate`` reads, parsed and validated.

The format is described in ``centralita/routing/simulation.py``; ``scenarios/erlang_c.toml`` and
``scenarios/demo_bpo.toml`` are worked examples. Every mistake is reported with where it is in
the file, so :func:`load_scenario` raises :class:`ScenarioError` with readable lines rather than a
traceback.
"""

import math
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from centralita.routing.engine import DEFAULT_OCCUPANCY_CAP, LOAD_OF_CHANNEL, Load

HOURS_PER_DAY = 24
# The customer value tiers in rank order (customers.models.ValueTier); repeated here because the
# simulator must not import database models.
VALUE_TIERS = ("standard", "silver", "gold", "platinum")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
SkillLevel = Annotated[int, Field(ge=1, le=5)]
# Durations, rates and weights: finite numbers.
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1)]
ValueTierName = Literal["standard", "silver", "gold", "platinum"]


class ScenarioError(Exception):
    """A scenario file that cannot be read or is not valid; ``str()`` is for a person."""


class _Section(BaseModel):
    # A misspelt key is an error rather than a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Distribution(_Section):
    """A duration in seconds drawn at random: log-normal (the default) or exponential.

    A log-normal takes its ``mean`` and either its standard deviation ``sd`` (seconds) or the
    ``sigma`` of the underlying normal; an exponential takes only its ``mean``.
    """

    distribution: Literal["lognormal", "exponential"] = "lognormal"
    mean: Positive
    sd: Positive | None = None
    sigma: Positive | None = None

    @model_validator(mode="after")
    def _shape_is_given_once(self) -> Self:
        shapes = (self.sd is not None) + (self.sigma is not None)
        if self.distribution == "lognormal" and shapes != 1:
            raise ValueError("a lognormal distribution takes either sd or sigma (exactly one)")
        if self.distribution == "exponential" and shapes:
            raise ValueError("an exponential distribution takes only its mean")
        return self

    @property
    def log_mean_and_sigma(self) -> tuple[float, float]:
        """The log-normal's ``mu`` and ``sigma``, chosen so that its mean is ``mean``."""
        if self.sigma is not None:
            sigma = self.sigma
        else:
            assert self.sd is not None  # checked by _shape_is_given_once
            sigma = math.sqrt(math.log1p((self.sd / self.mean) ** 2))
        return math.log(self.mean) - sigma**2 / 2, sigma


class OverflowStep(_Section):
    """After ``after_seconds`` of waiting, widen who may take the work (engine.OverflowStep)."""

    after_seconds: Positive
    min_level: SkillLevel | None = None
    extra_queues: list[Name] = []


class Queue(_Section):
    name: Name
    tenant: Name = "default"
    channel: str = "voice"
    # skill name -> minimum level; skill names are per tenant
    skills: dict[Name, SkillLevel] = {}
    language: Name | None = None
    priority: int = 0
    # One rate for every hour, or 24 rates: one per hour of the day from 00:00.
    arrivals_per_hour: list[NonNegative]
    handle_time: Distribution
    # None: customers never hang up ("infinite" in the file).
    patience: Distribution | None
    sl_threshold_seconds: NonNegative = 20.0
    sl_target: Share = 0.8
    # value tier -> weight; the tier of each arrival is drawn in these proportions
    value_mix: dict[ValueTierName, NonNegative] = {"standard": 1.0}
    overflow: list[OverflowStep] = []
    auto_accept: bool = False

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, channel: str) -> str:
        if channel not in LOAD_OF_CHANNEL:
            raise ValueError(f"unknown channel {channel!r}; one of {', '.join(LOAD_OF_CHANNEL)}")
        return channel

    @field_validator("arrivals_per_hour", mode="before")
    @classmethod
    def _one_rate_or_a_day_of_rates(cls, rates: object) -> object:
        if isinstance(rates, int | float) and not isinstance(rates, bool):
            return [rates] * HOURS_PER_DAY
        if isinstance(rates, list) and len(rates) == HOURS_PER_DAY:
            return rates
        raise ValueError(
            f"must be a number or a list of {HOURS_PER_DAY} numbers (one per hour of the day)"
        )

    @field_validator("patience", mode="before")
    @classmethod
    def _infinite_is_none(cls, patience: object) -> object:
        if patience == "infinite":
            return None
        if isinstance(patience, str):
            raise ValueError(
                'must be "infinite" or a table such as { distribution = "exponential", mean = 60 }'
            )
        return patience

    @field_validator("value_mix")
    @classmethod
    def _some_weight(cls, mix: dict[str, float]) -> dict[str, float]:
        if not sum(mix.values()) > 0:
            raise ValueError("at least one tier needs a weight above 0")
        return mix

    @field_validator("overflow")
    @classmethod
    def _steps_in_order(cls, steps: list[OverflowStep]) -> list[OverflowStep]:
        waits = [step.after_seconds for step in steps]
        if waits != sorted(set(waits)):
            raise ValueError("steps must come in increasing after_seconds order")
        return steps


class Shift(_Section):
    """Hours of the day an agent group works, every simulated day; ``end`` may pass 24 for a
    night shift (22 to 30 is 22:00 to 06:00)."""

    start: Annotated[float, Field(ge=0, lt=HOURS_PER_DAY)]
    end: Annotated[float, Field(gt=0, le=2 * HOURS_PER_DAY)]

    @model_validator(mode="after")
    def _within_a_day(self) -> Self:
        if not 0 < self.end - self.start < HOURS_PER_DAY:
            raise ValueError("end must come after start, and less than 24 hours after it")
        return self

    @property
    def hours(self) -> float:
        return self.end - self.start


class AgentGroup(_Section):
    name: Name
    count: Annotated[int, Field(ge=1)]
    # None: every tenant of the scenario's queues
    tenants: list[Name] | None = None
    # skill name -> level, held in each of the group's tenants
    skills: dict[Name, SkillLevel] = {}
    languages: list[Name] = []
    # None: the engine's default capacity per kind of work; a table lists every kind the agents
    # take (a kind left out is one they never take).
    capacity: dict[Load, Annotated[int, Field(ge=0)]] | None = None
    occupancy_cap: Annotated[float, Field(gt=0, le=1)] = DEFAULT_OCCUPANCY_CAP
    # None: on duty for the whole run
    shift: Shift | None = None


class Settings(_Section):
    seed: int = 1
    # Measured hours, after the warm-up.
    hours: Positive
    # Simulated first, to fill the queues, and left out of every measure.
    warm_up_hours: NonNegative = 0.0
    # Time of day at which the run starts (arrival profiles and shifts follow the time of day).
    start_hour: Annotated[float, Field(ge=0, lt=HOURS_PER_DAY)] = 0.0
    # Abandons quicker than this are short abandons (KPI.md: the tenant's threshold, 5 s).
    short_abandon_seconds: NonNegative = 5.0


class Scenario(_Section):
    name: Name
    description: str = ""
    simulation: Settings
    queues: Annotated[list[Queue], Field(min_length=1)]
    agents: Annotated[list[AgentGroup], Field(min_length=1)]

    @property
    def tenants(self) -> list[str]:
        return list(dict.fromkeys(queue.tenant for queue in self.queues))

    def tenants_of(self, group: AgentGroup) -> list[str]:
        return self.tenants if group.tenants is None else group.tenants

    @model_validator(mode="after")
    def _references_exist(self) -> Self:
        problems = [
            *_duplicates("queue", [queue.name for queue in self.queues]),
            *_duplicates("agent group", [group.name for group in self.agents]),
        ]
        queue_names = {queue.name for queue in self.queues}
        tenants = set(self.tenants)
        held_skills: set[tuple[str, str]] = set()
        spoken: set[str] = set()
        for group in self.agents:
            problems += [
                f"agent group {group.name!r} serves tenant {tenant!r}, which has no queue"
                for tenant in self.tenants_of(group)
                if tenant not in tenants
            ]
            held_skills |= {(t, skill) for t in self.tenants_of(group) for skill in group.skills}
            spoken |= set(group.languages)
        for queue in self.queues:
            problems += [
                f"queue {queue.name!r} needs skill {skill!r}, which no agent group of tenant "
                f"{queue.tenant!r} holds"
                for skill in queue.skills
                if (queue.tenant, skill) not in held_skills
            ]
            if queue.language is not None and queue.language not in spoken:
                problems.append(
                    f"queue {queue.name!r} is in {queue.language!r}, which no agent group speaks"
                )
            problems += [
                f"queue {queue.name!r} overflows to unknown queue {extra!r}"
                for step in queue.overflow
                for extra in step.extra_queues
                if extra not in queue_names
            ]
        if problems:
            raise ValueError("\n".join(problems))
        return self


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; :class:`ScenarioError` says what is wrong and where."""
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = [f"{path}: the scenario is not valid:"]
        lines += [
            f"  {_where(error['loc'], data)}: {line}"
            for error in exc.errors()
            for line in _message(error).splitlines()
        ]
        raise ScenarioError("\n".join(lines)) from None


def _duplicates(kind: str, names: Sequence[str]) -> list[str]:
    return [f"{kind} name {name!r} is used twice" for name, n in Counter(names).items() if n > 1]


def _where(location: Sequence[int | str], data: Mapping[str, Any]) -> str:
    """``('queues', 0, 'patience')`` as ``queues[0] ('soporte').patience``: the TOML path with
    the name of each array entry, since that is what the author searches the file for."""
    if not location:
        return "scenario"
    parts: list[str] = []
    node: Any = data
    for key in location:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and key < len(node) else None
            name = node.get("name") if isinstance(node, dict) else None
            parts[-1] += f"[{key}]" + (f" ({name!r})" if isinstance(name, str) else "")
        else:
            node = node.get(key) if isinstance(node, dict) else None
            parts.append(key)
    return ".".join(parts)


def _message(error: ErrorDetails) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown setting (misspelt?)"
    return error["msg"].removeprefix("Value error, ")
