"""Surveys: which contact is asked, the signed single-use link, the answer and its measures.

A finished contact is offered a survey by a rule action (the default rule "survey after each
contact"): the first active survey that follows its queue and channel, if the sample draws it and
the customer was not asked within the cool-off. The link goes out as an outbound message on the
contact's channel (the channel side sends it). The answer is stored against the contact, its
agent, queue and customer, and emits ``survey.answered`` (with ``low`` set when it is at or below
the survey's thresholds), which the default rescue rule acts on.
"""

import base64
import hashlib
import hmac
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.models import Customer
from centralita.db.base import new_id
from centralita.errors import DomainError, InvalidInput, NotFound
from centralita.events.service import Actor, record_audit
from centralita.i18n import LOCALES, TRANSLATIONS
from centralita.interactions.models import Interaction
from centralita.outbound.models import OutboundMessage
from centralita.outbound.service import Texts, queue_message
from centralita.surveys.models import Survey, SurveyInvitation
from centralita.surveys.schemas import SurveyCreate
from centralita.surveys.texts import INVITATION_SUBJECT, INVITATION_TEXT
from centralita.tenancy.models import Tenant

MAX_COMMENT = 2000
SIGNATURE_BYTES = 16


class LinkGone(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, 410, "Gone", "survey-link-gone")


@dataclass(frozen=True)
class SurveyLinks:
    """Signs and checks survey links: the secret key and the public address of the form."""

    secret_key: str
    public_url: str

    def _signature(self, tenant_id: uuid.UUID, invitation_id: uuid.UUID) -> str:
        message = f"survey-link:{tenant_id}:{invitation_id}".encode()
        digest = hmac.new(self.secret_key.encode(), message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:SIGNATURE_BYTES]).decode().rstrip("=")

    def token(self, invitation: SurveyInvitation) -> str:
        return f"{invitation.id.hex}.{self._signature(invitation.tenant_id, invitation.id)}"

    def url(self, tenant: Tenant, invitation: SurveyInvitation) -> str:
        return f"{self.public_url.rstrip('/')}/s/{tenant.slug}/{self.token(invitation)}"

    def invitation_id(self, tenant_id: uuid.UUID, token: str) -> uuid.UUID:
        """The invitation a token names, if its signature holds for this tenant."""
        identifier, _, signature = token.partition(".")
        try:
            invitation_id = uuid.UUID(hex=identifier)
        except ValueError:
            raise NotFound("This survey link is not valid") from None
        if not hmac.compare_digest(signature, self._signature(tenant_id, invitation_id)):
            raise NotFound("This survey link is not valid")
        return invitation_id


# --- definitions -------------------------------------------------------------------------------


def _fields(data: SurveyCreate) -> dict[str, Any]:
    return data.model_dump(mode="json")


async def create_survey(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: SurveyCreate
) -> Survey:
    await _name_free(session, data.name, None)
    survey = Survey(tenant_id=tenant_id, id=new_id(), **_fields(data))
    session.add(survey)
    await session.flush()
    record_audit(
        session, tenant_id, actor, "survey.created", ("survey", survey.id), None, _fields(data)
    )
    return survey


async def _name_free(session: AsyncSession, name: str, survey_id: uuid.UUID | None) -> None:
    query = select(Survey.id).where(Survey.name == name)
    found = (await session.execute(query)).scalar_one_or_none()
    if found is not None and found != survey_id:
        raise InvalidInput.on_field("body.name", "Another survey has this name")


async def list_surveys(session: AsyncSession) -> list[Survey]:
    query = select(Survey).order_by(Survey.position, Survey.created_at)
    return list((await session.execute(query)).scalars())


async def get_survey(session: AsyncSession, survey_id: uuid.UUID) -> Survey:
    survey = (
        await session.execute(select(Survey).where(Survey.id == survey_id))
    ).scalar_one_or_none()
    if survey is None:
        raise NotFound("Survey not found")
    return survey


async def replace_survey(
    session: AsyncSession, actor: Actor, survey_id: uuid.UUID, data: SurveyCreate
) -> Survey:
    survey = await get_survey(session, survey_id)
    await _name_free(session, data.name, survey.id)
    for name, value in _fields(data).items():
        setattr(survey, name, value)
    record_audit(
        session,
        survey.tenant_id,
        actor,
        "survey.updated",
        ("survey", survey.id),
        None,
        _fields(data),
    )
    await session.flush()
    return survey


async def delete_survey(session: AsyncSession, actor: Actor, survey_id: uuid.UUID) -> None:
    survey = await get_survey(session, survey_id)
    record_audit(
        session,
        survey.tenant_id,
        actor,
        "survey.deleted",
        ("survey", survey.id),
        {"name": survey.name},
    )
    await session.delete(survey)
    await session.flush()


# --- offering ----------------------------------------------------------------------------------


def _follows(survey: Survey, interaction: Interaction) -> bool:
    return (not survey.queues or interaction.queue in survey.queues) and (
        not survey.channels or interaction.channel in survey.channels
    )


async def _asked_recently(session: AsyncSession, customer_id: uuid.UUID, since: datetime) -> bool:
    query = select(SurveyInvitation.id).where(
        SurveyInvitation.customer_id == customer_id, SurveyInvitation.created_at >= since
    )
    return (await session.execute(query.limit(1))).first() is not None


async def offer_survey(
    session: AsyncSession,
    links: SurveyLinks,
    interaction_id: uuid.UUID,
    now: datetime,
    rng: random.Random,
) -> tuple[SurveyInvitation | None, OutboundMessage | None, str]:
    """Invite the contact's customer to the survey that follows it; (invitation, message, why)."""
    query = select(Interaction).where(Interaction.id == interaction_id)
    interaction = (await session.execute(query)).scalar_one_or_none()
    if interaction is None:
        return None, None, "no such interaction"
    surveys = [s for s in await list_surveys(session) if s.active and _follows(s, interaction)]
    if not surveys:
        return None, None, "no survey follows this contact"
    survey = surveys[0]
    existing = select(SurveyInvitation.id).where(SurveyInvitation.interaction_id == interaction.id)
    if (await session.execute(existing)).first() is not None:
        return None, None, "this contact was surveyed already"
    if await _asked_recently(
        session, interaction.customer_id, now - timedelta(days=survey.cool_off_days)
    ):
        return None, None, "the customer was asked recently"
    if rng.random() * 100 >= survey.sampling_percent:
        return None, None, "not drawn in the sample"
    customer = await session.get(Customer, (interaction.tenant_id, interaction.customer_id))
    tenant = await session.get(Tenant, interaction.tenant_id)
    assert customer is not None
    assert tenant is not None
    language = next(
        (
            c
            for c in (interaction.language, customer.language, tenant.default_locale)
            if c in LOCALES
        ),
        "es",
    )
    invitation = SurveyInvitation(
        tenant_id=interaction.tenant_id,
        id=new_id(),
        survey_id=survey.id,
        interaction_id=interaction.id,
        customer_id=customer.id,
        agent_id=interaction.agent_user_id,
        queue=interaction.queue,
        channel=interaction.channel,
        language=language,
        expires_at=now + timedelta(hours=survey.link_valid_hours),
    )
    session.add(invitation)
    await session.flush()
    link = links.url(tenant, invitation)
    texts = Texts(
        {lang: TRANSLATIONS[lang].gettext(INVITATION_TEXT) % {"link": link} for lang in LOCALES},
        {lang: TRANSLATIONS[lang].gettext(INVITATION_SUBJECT) for lang in LOCALES},
    )
    # The link goes where the contact happened when that channel can carry it.
    channel = interaction.channel if interaction.channel in ("sms", "email") else "preferred"
    message = await queue_message(
        session,
        customer,
        texts,
        channel=channel,
        purpose="survey",
        ref_id=invitation.id,
        fallback_language=language,
        fall_back=True,
    )
    return invitation, message, "invited" if message else "invited; no channel to send the link"
