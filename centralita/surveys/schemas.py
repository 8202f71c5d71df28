import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from centralita.interactions.models import Channel
from centralita.schemas import Locale, Read, Strict

Text = Annotated[str, Field(min_length=1, max_length=300)]
Translated = Annotated[dict[Locale, Text], Field(min_length=1)]
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class Choice(Strict):
    value: Key
    label: Translated


class Question(Strict):
    key: Key
    kind: Literal["scale", "choice", "text"]
    label: Translated
    required: bool = False
    choices: list[Choice] = Field(default_factory=list, max_length=10)
    min: int = Field(default=1, ge=0, le=10)
    max: int = Field(default=5, ge=1, le=10)

    @model_validator(mode="after")
    def _shape(self) -> "Question":
        if self.kind == "choice" and len(self.choices) < 2:
            raise ValueError("a choice question needs at least two choices")
        if self.kind == "scale" and self.min >= self.max:
            raise ValueError("a scale needs min below max")
        return self


class SurveyFields(Strict):
    ask_csat: bool = True
    ask_nps: bool = False
    questions: list[Question] = Field(default_factory=list, max_length=10)
    title: dict[Locale, Text] = Field(default_factory=dict)
    queues: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )
    channels: list[Channel] = Field(default_factory=list, max_length=10)
    sampling_percent: int = Field(default=100, ge=0, le=100)
    cool_off_days: int = Field(default=30, ge=0, le=365)
    link_valid_hours: int = Field(default=72, ge=1, le=720)
    low_csat: int = Field(default=2, ge=1, le=5)
    low_nps: int = Field(default=6, ge=0, le=10)
    position: int = Field(default=100, ge=0, le=100_000)
    active: bool = True


class SurveyCreate(SurveyFields):
    name: str = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _asks_something(self) -> "SurveyCreate":
        if not (self.ask_csat or self.ask_nps or self.questions):
            raise ValueError("a survey must ask CSAT, NPS or at least one question")
        keys = [q.key for q in self.questions]
        if len(keys) != len(set(keys)):
            raise ValueError("question keys must be unique")
        return self


class SurveyOut(Read):
    id: uuid.UUID
    name: str
    active: bool
    ask_csat: bool
    ask_nps: bool
    questions: list[dict[str, Any]]
    title: dict[str, Any]
    queues: list[str]
    channels: list[str]
    sampling_percent: int
    cool_off_days: int
    link_valid_hours: int
    low_csat: int
    low_nps: int
    position: int
    created_at: datetime


class ResponseOut(Read):
    id: uuid.UUID
    survey_id: uuid.UUID
    interaction_id: uuid.UUID
    customer_id: uuid.UUID
    agent_id: uuid.UUID | None
    queue: str | None
    channel: str
    csat: int | None
    nps: int | None
    answers: dict[str, Any]
    comment: str | None
    language: str
    low: bool
    created_at: datetime


class ResultsOut(Read):
    """The measures of KPI.md over the answers selected."""

    answers: int
    csat_answers: int
    csat_percent: float | None = Field(description="Share of CSAT answers that are 4 or 5.")
    nps_answers: int
    nps: float | None = Field(description="% promoters (9-10) minus % detractors (0-6).")
