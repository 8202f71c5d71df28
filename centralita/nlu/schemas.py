"""API shapes of intents, training examples, model versions and predictions."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from centralita.nlu.classifier import DEFAULT_THRESHOLD, OOS
from centralita.schemas import Read, Strict

Name = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Phrase = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Threshold = Annotated[float, Field(ge=0.0, le=1.0)]


class IntentCreate(Strict):
    intent: Name = Field(examples=["card_limit"])
    queue: Name | None = Field(default=None, examples=["tarjetas"])
    skills: list[Name] = Field(default_factory=list, max_length=20)
    self_service: Name | None = Field(
        default=None, description="An action the channel performs itself", examples=["balance"]
    )
    keywords: list[Phrase] = Field(
        default_factory=list,
        max_length=50,
        description="Words that name the intent while the tenant has no trained model",
    )

    @field_validator("intent")
    @classmethod
    def _not_oos(cls, value: str) -> str:
        if value == OOS:
            raise ValueError(f"{OOS!r} means out of scope; it cannot be routed")
        return value


class IntentUpdate(Strict):
    queue: Name | None = None
    skills: list[Name] | None = Field(default=None, max_length=20)
    self_service: Name | None = None
    keywords: list[Phrase] | None = Field(default=None, max_length=50)


class IntentOut(Read):
    id: uuid.UUID
    intent: str
    queue: str | None
    skills: list[str]
    self_service: str | None
    keywords: list[str]
    examples: int = 0


class ExamplesStored(Read):
    examples: int
    by_intent: dict[str, int]


class TrainRequest(Strict):
    threshold: Threshold = Field(
        default=DEFAULT_THRESHOLD,
        description="Below this confidence a request is out of scope: higher asks again more "
        "often, lower misroutes more often",
    )
    embeddings: bool = Field(
        default=True, description="Add sentence embeddings when installed (better, slower)"
    )


class ModelOut(Read):
    id: uuid.UUID
    version: int
    threshold: float
    embeddings: bool
    n_examples: int
    examples_by_intent: dict[str, int]
    metrics: dict[str, Any]
    train_seconds: float
    trained_at: datetime


class TrainingOut(Read):
    id: uuid.UUID
    state: Literal["queued", "running", "succeeded", "failed"]
    threshold: float
    embeddings: bool
    step: str | None = Field(description="n-grams, embeddings or model, while running")
    done: int
    total: int
    percent: int = Field(default=0, description="Of the current step, 0..100")
    error: str | None
    model_version: int | None = Field(description="The version trained, once succeeded")
    created_at: datetime
    finished_at: datetime | None


class PredictRequest(Strict):
    text: str = Field(min_length=1, max_length=2000, examples=["Quiero subir el límite"])
    threshold: Threshold | None = None


class PredictionOut(Read):
    intent: str = Field(description=f"{OOS!r} when out of scope")
    confidence: float
    queue: str | None
    skills: list[str]
    self_service: str | None
    source: Literal["model", "keywords"]
    model_version: int | None
