"""Answering a survey through its link, and the measures over the answers (KPI.md)."""

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import new_id, utcnow
from centralita.db.paging import Slice, paginate
from centralita.db.scoping import use_tenant_scope
from centralita.errors import FieldError, InvalidInput, NotFound
from centralita.events.bus import Event, emit, supervisors_topic
from centralita.reporting.measures import satisfaction
from centralita.surveys.models import Survey, SurveyInvitation, SurveyResponse
from centralita.surveys.service import MAX_COMMENT, LinkGone, SurveyLinks
from centralita.tenancy.models import Tenant
from centralita.tenancy.service import get_tenant_by_slug


@dataclass(frozen=True)
class OpenInvitation:
    tenant: Tenant
    invitation: SurveyInvitation
    survey: Survey


async def open_invitation(
    session: AsyncSession, links: SurveyLinks, tenant_slug: str, token: str, *, lock: bool = False
) -> OpenInvitation:
    """The invitation behind a link; 404 if forged or another tenant's, 410 if used or expired."""
    tenant = await get_tenant_by_slug(session, tenant_slug)
    if tenant is None:
        raise NotFound("This survey link is not valid")
    invitation_id = links.invitation_id(tenant.id, token)
    await use_tenant_scope(session, tenant.id)
    query = select(SurveyInvitation).where(SurveyInvitation.id == invitation_id)
    if lock:
        query = query.with_for_update()
    invitation = (await session.execute(query)).scalar_one_or_none()
    if invitation is None:
        raise NotFound("This survey link is not valid")
    if invitation.answered_at is not None:
        raise LinkGone("This survey has been answered already. Thank you!")
    if invitation.expires_at <= utcnow():
        raise LinkGone("This survey link has expired.")
    survey = await session.get(Survey, (tenant.id, invitation.survey_id))
    if survey is None:
        raise LinkGone("This survey is no longer available.")
    return OpenInvitation(tenant, invitation, survey)


def _integer(form: Mapping[str, str], name: str, low: int, high: int, required: bool) -> int | None:
    raw = form.get(name, "").strip()
    if not raw:
        if required:
            raise InvalidInput.on_field(f"form.{name}", "required")
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput.on_field(f"form.{name}", f"must be a whole number from {low} to {high}")
    return int(raw)


def parse_answers(survey: Survey, form: Mapping[str, str]) -> dict[str, Any]:
    """The validated answer fields; :class:`InvalidInput` lists every field that is wrong."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {"answers": {}}

    def collect(name: str, parse: Any) -> Any:
        try:
            return parse()
        except InvalidInput as exc:
            errors.extend(exc.errors)
            return None

    values["csat"] = (
        collect("csat", lambda: _integer(form, "csat", 1, 5, True)) if survey.ask_csat else None
    )
    values["nps"] = (
        collect("nps", lambda: _integer(form, "nps", 0, 10, True)) if survey.ask_nps else None
    )
    for question in survey.questions:
        key, kind, required = question["key"], question["kind"], question.get("required", False)
        name = f"q_{key}"
        if kind == "scale":
            low, high = question.get("min", 1), question.get("max", 5)
            answer = collect(
                name, lambda n=name, lo=low, hi=high, r=required: _integer(form, n, lo, hi, r)
            )
        elif kind == "choice":
            answer = form.get(name) or None
            if answer is not None and answer not in {c["value"] for c in question["choices"]}:
                errors.append(FieldError(f"form.{name}", "not one of the choices"))
            elif answer is None and required:
                errors.append(FieldError(f"form.{name}", "required"))
        else:
            answer = form.get(name, "").strip()[:MAX_COMMENT] or None
            if answer is None and required:
                errors.append(FieldError(f"form.{name}", "required"))
        if answer is not None:
            values["answers"][key] = answer
    comment = form.get("comment", "").strip()
    if len(comment) > MAX_COMMENT:
        errors.append(FieldError("form.comment", f"at most {MAX_COMMENT} characters"))
    values["comment"] = comment or None
    if errors:
        raise InvalidInput("Some answers are missing or not valid", errors)
    return values


def is_low(survey: Survey, csat: int | None, nps: int | None) -> bool:
    return (csat is not None and csat <= survey.low_csat) or (
        nps is not None and nps <= survey.low_nps
    )


async def answer(
    session: AsyncSession, opened: OpenInvitation, form: Mapping[str, str], language: str
) -> SurveyResponse:
    """Store the answer once (the link then stops working) and announce it."""
    values = parse_answers(opened.survey, form)
    invitation, now = opened.invitation, utcnow()
    response = SurveyResponse(
        tenant_id=invitation.tenant_id,
        id=new_id(),
        invitation_id=invitation.id,
        survey_id=invitation.survey_id,
        interaction_id=invitation.interaction_id,
        customer_id=invitation.customer_id,
        agent_id=invitation.agent_id,
        queue=invitation.queue,
        channel=invitation.channel,
        language=language,
        low=is_low(opened.survey, values["csat"], values["nps"]),
        **values,
    )
    invitation.answered_at = now
    session.add(response)
    await session.flush()
    emit(session, _answered_event(response))
    return response


def _answered_event(response: SurveyResponse) -> Event:
    return Event(
        type="survey.answered",
        tenant=response.tenant_id,
        data={
            "response_id": response.id,
            "survey_id": response.survey_id,
            "interaction_id": response.interaction_id,
            "customer_id": response.customer_id,
            "agent_id": response.agent_id,
            "queue": response.queue,
            "channel": response.channel,
            "csat": response.csat,
            "nps": response.nps,
            "low": response.low,
            "language": response.language,
            "has_comment": response.comment is not None,
        },
        recipients=(supervisors_topic(response.tenant_id),),
    )


async def responses_page(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID | None = None,
    agent_id: uuid.UUID | None = None,
    queue: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Slice[SurveyResponse]:
    """Answers, newest first, for one customer, agent or queue (or all)."""
    query = select(SurveyResponse)
    if customer_id is not None:
        query = query.where(SurveyResponse.customer_id == customer_id)
    if agent_id is not None:
        query = query.where(SurveyResponse.agent_id == agent_id)
    if queue is not None:
        query = query.where(SurveyResponse.queue == queue)
    return await paginate(
        session, query, (SurveyResponse.created_at, SurveyResponse.id), cursor=cursor, limit=limit
    )


async def results(
    session: AsyncSession,
    *,
    since: datetime | None,
    agent_id: uuid.UUID | None = None,
    queue: str | None = None,
) -> dict[str, Any]:
    """CSAT (share of 4 and 5) and NPS (% promoters − % detractors), with their counts."""
    query = select(SurveyResponse.csat, SurveyResponse.nps)
    if since is not None:
        query = query.where(SurveyResponse.created_at >= since)
    if agent_id is not None:
        query = query.where(SurveyResponse.agent_id == agent_id)
    if queue is not None:
        query = query.where(SurveyResponse.queue == queue)
    rows = await session.execute(query)
    return asdict(satisfaction((csat, nps) for csat, nps in rows))
