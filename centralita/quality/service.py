"""Evaluation forms and evaluations: scoring, the agent's answer to it, sampling, calibration."""

import random
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from centralita.events.service import Actor, record_audit
from centralita.interactions.service import get_interaction
from centralita.quality.models import EvaluationStatus, QaEvaluation, QaForm, QuestionKind
from centralita.quality.schemas import (
    Calibration,
    CalibrationRow,
    EvaluationIn,
    FormIn,
    SampleItem,
)
from centralita.reporting.models import FactKind, InteractionFact

NA = "na"


async def create_form(
    session: AsyncSession, tenant_id: uuid.UUID, actor: Actor, data: FormIn
) -> QaForm:
    taken = await session.execute(select(QaForm.id).where(QaForm.name == data.name).limit(1))
    if taken.first() is not None:
        raise Conflict(f"A form named {data.name!r} exists; add a version to it", "form-exists")
    return await _add_version(session, tenant_id, actor, data, 1)


async def new_version(
    session: AsyncSession, tenant_id: uuid.UUID, actor: Actor, form_id: uuid.UUID, data: FormIn
) -> QaForm:
    """The form's next version; the current one is kept, unchanged, for its evaluations."""
    current = await get_form(session, form_id)
    if data.name != current.name:
        raise InvalidInput.on_field("body.name", "a new version keeps the form's name")
    versions = await session.execute(
        select(QaForm).where(QaForm.name == current.name).with_for_update()
    )
    latest = 0
    for form in versions.scalars():
        form.is_current = False
        latest = max(latest, form.version)
    return await _add_version(session, tenant_id, actor, data, latest + 1)


async def _add_version(
    session: AsyncSession, tenant_id: uuid.UUID, actor: Actor, data: FormIn, version: int
) -> QaForm:
    form = QaForm(
        tenant_id=tenant_id,
        name=data.name,
        version=version,
        is_current=True,
        sections=[section.model_dump(mode="json") for section in data.sections],
    )
    session.add(form)
    await session.flush()
    record_audit(
        session, tenant_id, actor, "qa.form_versioned", ("qa_form", form.id), None,
        {"name": form.name, "version": version},
    )  # fmt: skip
    return form


async def get_form(session: AsyncSession, form_id: uuid.UUID) -> QaForm:
    form = (await session.execute(select(QaForm).where(QaForm.id == form_id))).scalar_one_or_none()
    if form is None:
        raise NotFound("Form not found")
    return form


async def current_forms(session: AsyncSession) -> list[QaForm]:
    query = select(QaForm).where(QaForm.is_current.is_(True)).order_by(QaForm.name)
    return list((await session.execute(query)).scalars())


def score(sections: list[dict[str, Any]], answers: dict[str, Any]) -> tuple[float, bool]:
    """Weighted share of the points earned over the questions answered (N/A left out); an
    auto-fail question answered at its lowest makes the score zero."""
    questions = {q["id"]: q for section in sections for q in section["questions"]}
    errors = [
        FieldError(f"body.answers.{qid}", "not a question of this form")
        for qid in answers
        if qid not in questions
    ]
    earned = possible = 0.0
    failed = False
    for qid, question in questions.items():
        field = f"body.answers.{qid}"
        answer = answers.get(qid)
        if answer is None:
            errors.append(FieldError(field, "every question needs an answer"))
        elif answer == NA:
            if not question["allow_na"]:
                errors.append(FieldError(field, "this question cannot be N/A"))
        elif question["kind"] == QuestionKind.YES_NO:
            if not isinstance(answer, bool):
                errors.append(FieldError(field, "answer true or false"))
                continue
            earned += question["weight"] * answer
            possible += question["weight"]
            failed |= question["auto_fail"] and not answer
        else:
            top = question["scale_max"]
            if isinstance(answer, bool) or not isinstance(answer, int) or not 1 <= answer <= top:
                errors.append(FieldError(field, f"answer a point from 1 to {top}"))
                continue
            earned += question["weight"] * (answer - 1) / (top - 1)
            possible += question["weight"]
            failed |= question["auto_fail"] and answer == 1
    if errors:
        raise InvalidInput("The answers do not fit the form", errors)
    if failed:
        return 0.0, True
    return (earned / possible if possible else 1.0), False


async def evaluate(
    session: AsyncSession, tenant_id: uuid.UUID, actor: Actor, data: EvaluationIn
) -> QaEvaluation:
    form = await get_form(session, data.form_id)
    try:
        interaction = await get_interaction(session, data.interaction_id)
    except NotFound:
        raise InvalidInput.on_field("body.interaction_id", "No such interaction") from None
    if interaction.agent_user_id is None:
        raise InvalidInput.on_field("body.interaction_id", "No agent handled this interaction")
    value, failed = score(form.sections, data.answers)
    evaluation = QaEvaluation(
        tenant_id=tenant_id,
        form_id=form.id,
        interaction_id=interaction.id,
        agent_user_id=interaction.agent_user_id,
        evaluator_user_id=actor.user_id,
        answers=data.answers,
        score=value,
        auto_failed=failed,
        coaching_notes=data.coaching_notes,
        status=EvaluationStatus.SUBMITTED,
    )
    try:
        async with session.begin_nested():
            session.add(evaluation)
    except IntegrityError:
        raise Conflict("You have already evaluated this interaction", "already-evaluated") from None
    return evaluation


async def get_evaluation(session: AsyncSession, evaluation_id: uuid.UUID) -> QaEvaluation:
    query = select(QaEvaluation).where(QaEvaluation.id == evaluation_id)
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        raise NotFound("Evaluation not found")
    return found


async def list_evaluations(
    session: AsyncSession, agent_id: uuid.UUID | None = None, limit: int = 200
) -> list[QaEvaluation]:
    query = select(QaEvaluation).order_by(QaEvaluation.created_at.desc()).limit(limit)
    if agent_id is not None:
        query = query.where(QaEvaluation.agent_user_id == agent_id)
    return list((await session.execute(query)).scalars())


async def answer_evaluation(
    session: AsyncSession,
    actor: Actor,
    evaluation_id: uuid.UUID,
    status: EvaluationStatus,
    comment: str | None,
) -> QaEvaluation:
    """The evaluated agent acknowledges or disputes (with a comment); once, and only them."""
    evaluation = await get_evaluation(session, evaluation_id)
    if evaluation.agent_user_id != actor.user_id:
        raise Forbidden("Only the evaluated agent answers an evaluation")
    if evaluation.status != EvaluationStatus.SUBMITTED:
        raise Conflict(f"This evaluation is already {evaluation.status}", "already-answered")
    evaluation.status = status
    evaluation.agent_comment = comment
    await session.flush()
    return evaluation


async def sample(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    per_agent: int,
    *,
    min_handle_seconds: float | None = None,
    transferred_only: bool = False,
    seed: int | None = None,
) -> list[SampleItem]:
    """Random handled interactions per agent in the period, optionally only long or transferred."""
    handled = await session.execute(
        select(InteractionFact).where(
            InteractionFact.kind.in_([FactKind.HANDLED, FactKind.TRANSFERRED]),
            InteractionFact.at >= start,
            InteractionFact.at < end,
            InteractionFact.agent_user_id.is_not(None),
        )
    )
    transferred: set[uuid.UUID] = set()
    done: dict[uuid.UUID, InteractionFact] = {}
    for fact in handled.scalars():
        if fact.kind == FactKind.TRANSFERRED:
            transferred.add(fact.interaction_id)
        else:
            done[fact.interaction_id] = fact
    by_agent: dict[uuid.UUID, list[SampleItem]] = defaultdict(list)
    for interaction_id, fact in sorted(done.items()):
        if min_handle_seconds is not None and (fact.seconds or 0) < min_handle_seconds:
            continue
        if transferred_only and interaction_id not in transferred:
            continue
        assert fact.agent_user_id is not None
        by_agent[fact.agent_user_id].append(
            SampleItem(
                interaction_id=interaction_id,
                agent_user_id=fact.agent_user_id,
                handled_at=fact.at,
                handle_seconds=fact.seconds,
                transferred=interaction_id in transferred,
            )
        )
    rng = random.Random(seed)
    picked = []
    for agent in sorted(by_agent):
        items = by_agent[agent]
        picked.extend(rng.sample(items, min(per_agent, len(items))))
    return picked


async def calibration(session: AsyncSession, interaction_id: uuid.UUID) -> Calibration:
    """Every evaluator's score of one interaction, and the answers where they differ."""
    await get_interaction(session, interaction_id)
    query = (
        select(QaEvaluation)
        .where(QaEvaluation.interaction_id == interaction_id)
        .order_by(QaEvaluation.created_at)
    )
    evaluations = list((await session.execute(query)).scalars())
    questions = {q for e in evaluations for q in e.answers}
    differing = sorted(
        q for q in questions if len({repr(e.answers.get(q)) for e in evaluations}) > 1
    )
    scores = [e.score for e in evaluations]
    return Calibration(
        interaction_id=interaction_id,
        evaluations=[
            CalibrationRow(
                evaluator_user_id=e.evaluator_user_id,
                score=e.score,
                auto_failed=e.auto_failed,
                differing_answers=[q for q in differing if q in e.answers],
            )
            for e in evaluations
        ],
        score_spread=max(scores) - min(scores) if scores else None,
    )
