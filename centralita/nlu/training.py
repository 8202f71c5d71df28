"""A tenant's labelled examples, its trained model versions, and the per-process model cache."""

import asyncio
import io
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import joblib
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.errors import InvalidInput
from centralita.nlu import cache
from centralita.nlu.cache import Model
from centralita.nlu.classifier import (
    OOS,
    Example,
    IntentClassifier,
    NotEnoughExamples,
    Prediction,
    decide,
    score,
    threshold_curve,
)
from centralita.nlu.embeddings import EmbeddingsUnavailable
from centralita.nlu.models import ModelVersion, TrainingExample
from centralita.nlu.progress import Report

log = logging.getLogger(__name__)
# Every fifth example of an intent that has at least this many is held out to measure the model.
HOLD_OUT_FROM = 5
CURVE = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)

# tenant id -> (model version id, classifier): a process loads each tenant's model once.
_loaded: dict[uuid.UUID, tuple[uuid.UUID, IntentClassifier]] = {}


async def store_examples(
    session: AsyncSession, tenant_id: uuid.UUID, examples: Sequence[Example], *, replace: bool
) -> dict[str, int]:
    """Add examples (or replace all of them); the tenant's examples per intent afterwards."""
    if replace:
        await session.execute(delete(TrainingExample))
    session.add_all(
        TrainingExample(tenant_id=tenant_id, text=e.text, intent=e.intent, locale=e.locale)
        for e in examples
    )
    await session.flush()
    return await example_counts(session)


async def example_counts(session: AsyncSession) -> dict[str, int]:
    query = (
        select(TrainingExample.intent, func.count())
        .group_by(TrainingExample.intent)
        .order_by(TrainingExample.intent)
    )
    return dict((await session.execute(query)).all())


async def stored_examples(session: AsyncSession) -> list[Example]:
    query = select(TrainingExample).order_by(TrainingExample.id)
    rows = (await session.execute(query)).scalars()
    return [Example(r.text, r.intent, r.locale) for r in rows]


def split(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(train, held out): every fifth example of each intent with enough of them."""
    counts = Counter(e.intent for e in examples)
    seen: Counter[str] = Counter()
    train: list[Example] = []
    held: list[Example] = []
    for example in examples:
        seen[example.intent] += 1
        enough = counts[example.intent] >= HOLD_OUT_FROM
        (held if enough and seen[example.intent] % 5 == 0 else train).append(example)
    return train, held


def fit_measured(
    examples: Sequence[Example],
    *,
    threshold: float,
    use_embeddings: bool,
    progress: bool = False,
    report: Report | None = None,
) -> tuple[IntentClassifier, dict[str, Any]]:
    """The model trained on every example, and its metrics measured on a held-out fifth by a
    model trained on the rest."""
    memo: dict[str, NDArray[np.float64]] = {}
    train, held = split(examples)
    metrics: dict[str, Any] = {"held_out": len(held)}
    learnt = {e.intent for e in train} | {OOS}
    if held and learnt >= {e.intent for e in held}:
        trial = IntentClassifier.fit(
            train, use_embeddings=use_embeddings, threshold=threshold, memo=memo, report=report
        )
        names, confidence = trial.best_in_scope([e.text for e in held])
        truth = [e.intent for e in held]
        measured = score(truth, decide(names, confidence, threshold))
        metrics |= {k: round(v, 4) for k, v in vars(measured).items() if k != "n"}
        metrics["threshold_curve"] = threshold_curve(truth, names, confidence, CURVE)
        metrics["by_locale"] = _by_locale(held, decide(names, confidence, threshold))
    model = IntentClassifier.fit(
        examples,
        use_embeddings=use_embeddings,
        threshold=threshold,
        progress=progress,
        memo=memo,
        report=report,
    )
    return model, metrics


def _by_locale(held: Sequence[Example], predicted: Sequence[str]) -> dict[str, float]:
    """In-scope accuracy per locale of the held-out examples, so a mixed-language tenant sees
    whether one language lags."""
    by_locale: dict[str, list[bool]] = {}
    for example, guess in zip(held, predicted, strict=True):
        if example.locale and example.intent != OOS:
            by_locale.setdefault(example.locale, []).append(guess == example.intent)
    return {locale: round(sum(hits) / len(hits), 4) for locale, hits in sorted(by_locale.items())}


def _dump(classifier: IntentClassifier) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(classifier, buffer, compress=3)
    return buffer.getvalue()


async def train(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    threshold: float,
    use_embeddings: bool,
    examples: Sequence[Example] | None = None,
    progress: bool = False,
) -> ModelVersion:
    """Train a new model version from the tenant's stored examples (or ``examples``), here and
    now (the CLI; the API queues a :class:`TrainingRun` for the trainer instead)."""
    rows = list(examples) if examples is not None else await stored_examples(session)
    try:
        classifier, metrics = await asyncio.to_thread(
            fit_measured,
            rows,
            threshold=threshold,
            use_embeddings=use_embeddings,
            progress=progress,
        )
    except NotEnoughExamples as exc:
        raise InvalidInput(f"Cannot train: {exc}") from None
    return await store_version(session, tenant_id, rows, classifier, metrics)


async def store_version(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    rows: Sequence[Example],
    classifier: IntentClassifier,
    metrics: dict[str, Any],
) -> ModelVersion:
    """The trained classifier as the tenant's next model version."""
    latest = await session.scalar(select(func.max(ModelVersion.version)))
    version = ModelVersion(
        tenant_id=tenant_id,
        version=(latest or 0) + 1,
        blob=_dump(classifier),
        threshold=classifier.threshold,
        embeddings=classifier.uses_embeddings,
        n_examples=len(rows),
        examples_by_intent=dict(sorted(Counter(e.intent for e in rows).items())),
        metrics=metrics,
        train_seconds=round(classifier.train_seconds, 3),
    )
    session.add(version)
    await session.flush()
    cache.forget(tenant_id)
    return version


async def list_versions(session: AsyncSession) -> list[ModelVersion]:
    query = select(ModelVersion).order_by(ModelVersion.version.desc())
    return list((await session.execute(query)).scalars())


async def current_classifier(
    session: AsyncSession, tenant_id: uuid.UUID
) -> tuple[ModelVersion, IntentClassifier] | None:
    """The tenant's newest model, loaded once per process and reloaded when a newer one exists;
    None without a usable model (then keywords decide)."""
    query = select(ModelVersion).order_by(ModelVersion.version.desc()).limit(1)
    newest = (await session.execute(query)).scalar_one_or_none()
    if newest is None:
        return None
    return newest, await classifier_of(session, tenant_id, newest.id)


async def newest_model(session: AsyncSession) -> Model | None:
    """The scoped tenant's newest model version, without its bytes or measures."""
    query = select(ModelVersion.id, ModelVersion.version).order_by(ModelVersion.version.desc())
    newest = (await session.execute(query.limit(1))).first()
    return Model(newest.id, newest.version) if newest is not None else None


async def classifier_of(
    session: AsyncSession, tenant_id: uuid.UUID, version_id: uuid.UUID
) -> IntentClassifier:
    """The classifier of one of the tenant's model versions, loaded once per process."""
    cached = _loaded.get(tenant_id)
    if cached is not None and cached[0] == version_id:
        return cached[1]
    blob = await session.scalar(select(ModelVersion.blob).where(ModelVersion.id == version_id))
    assert blob is not None
    classifier: IntentClassifier = joblib.load(io.BytesIO(blob))
    _loaded[tenant_id] = (version_id, classifier)
    return classifier


async def predict(
    classifier: IntentClassifier, text: str, threshold: float | None = None
) -> Prediction | None:
    """The model's prediction, off the event loop (embeddings take milliseconds of CPU)."""
    try:
        return await asyncio.to_thread(classifier.predict, text, threshold)
    except EmbeddingsUnavailable:
        log.warning("an nlu model needs embeddings, which are not installed here")
        return None
