import uuid
from datetime import date, datetime
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from centralita.interactions.schemas import MessageOut
from centralita.quality.models import EvaluationStatus, QuestionKind
from centralita.schemas import Read, Strict

Answer = bool | int | Literal["na"]


class QuestionIn(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    text: str = Field(min_length=1, max_length=500)
    kind: QuestionKind
    scale_max: int | None = Field(default=None, ge=2, le=10)
    weight: float = Field(default=1.0, gt=0, le=100)
    # Answered "no" (or the lowest point), the whole evaluation scores zero: compliance wording.
    auto_fail: bool = False
    allow_na: bool = False

    @model_validator(mode="after")
    def _scale(self) -> Self:
        if (self.kind == QuestionKind.SCALE) != (self.scale_max is not None):
            raise ValueError("scale questions, and only they, need scale_max")
        return self


class SectionIn(Strict):
    title: str = Field(min_length=1, max_length=200)
    questions: list[QuestionIn] = Field(min_length=1, max_length=50)


class FormIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    sections: list[SectionIn] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [q.id for s in self.sections for q in s.questions]
        if len(ids) != len(set(ids)):
            raise ValueError("question ids must be unique within a form")
        return self


class FormOut(Read):
    id: uuid.UUID
    name: str
    version: int
    is_current: bool
    sections: list[dict[str, Any]]
    created_at: datetime


class EvaluationIn(Strict):
    form_id: uuid.UUID
    interaction_id: uuid.UUID
    answers: dict[str, Answer] = Field(max_length=1000)
    coaching_notes: str | None = Field(default=None, max_length=5000)


class DisputeIn(Strict):
    comment: str = Field(min_length=1, max_length=5000)


class EvaluationOut(Read):
    id: uuid.UUID
    form_id: uuid.UUID
    interaction_id: uuid.UUID
    agent_user_id: uuid.UUID
    evaluator_user_id: uuid.UUID | None
    answers: dict[str, Answer]
    score: float
    auto_failed: bool
    coaching_notes: str | None
    status: EvaluationStatus
    agent_comment: str | None
    created_at: datetime


class EvaluationDetail(EvaluationOut):
    """An evaluation beside the transcript it scored."""

    transcript: list[MessageOut]


class SampleItem(Read):
    interaction_id: uuid.UUID
    agent_user_id: uuid.UUID
    handled_at: datetime
    handle_seconds: float | None
    transferred: bool


class CalibrationRow(Read):
    evaluator_user_id: uuid.UUID | None
    score: float
    auto_failed: bool
    differing_answers: list[str]


class Calibration(Read):
    interaction_id: uuid.UUID
    evaluations: list[CalibrationRow]
    score_spread: float | None  # highest minus lowest score


class ScorecardSettingsOut(Read):
    qa_weight: float
    aht_weight: float
    fcr_weight: float
    aht_target_seconds: int
    occupancy_weight: float
    occupancy_target: float


class ScorecardSettingsUpdate(Strict):
    qa_weight: float | None = Field(default=None, ge=0, le=1)
    aht_weight: float | None = Field(default=None, ge=0, le=1)
    fcr_weight: float | None = Field(default=None, ge=0, le=1)
    aht_target_seconds: int | None = Field(default=None, ge=10, le=7200)
    occupancy_weight: float | None = Field(default=None, ge=0, le=1)
    occupancy_target: float | None = Field(default=None, gt=0, le=1)


class ScorecardPeriod(Read):
    date_from: date
    date_to: date
    qa_score: float | None
    evaluations: int
    aht_seconds: float | None
    aht_score: float | None
    fcr_rate: float | None
    contacts: int
    occupancy: float | None
    occupancy_score: float | None
    total: float | None


class Scorecard(Read):
    agent_user_id: uuid.UUID
    periods: list[ScorecardPeriod]  # oldest first: the trend
    weights: ScorecardSettingsOut
    not_measured: list[str]
