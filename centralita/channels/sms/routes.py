"""Inbound SMS webhook: a text becomes (or continues) the customer's SMS conversation; and the
delivery reports of the texts we sent."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from centralita.campaigns.consent import keyword_of, opt_out_by_text, reply_for
from centralita.channels.inbound import Inbound, receive
from centralita.channels.models import AddressChannel
from centralita.channels.reports import ReportTarget, apply_report
from centralita.channels.voice.twiml import TwiML
from centralita.channels.voice.webhook import verified_webhook
from centralita.customers.models import IdentityKind
from centralita.customers.service import IdentityRules, checked_identity, find_or_create
from centralita.errors import InvalidInput
from centralita.interactions.models import Channel
from centralita.interactions.schemas import MAX_TEXT
from centralita.nlu.service import steer
from centralita.outbound.delivery import Report

router = APIRouter(prefix="/telephony/sms", tags=["telephony"], include_in_schema=False)


@router.post("/incoming")
async def incoming(request: Request) -> Response:
    hook = await verified_webhook(request, AddressChannel.SMS)
    text, sid = hook.get("Body"), hook.get("MessageSid")
    if not text or not sid:
        raise InvalidInput("An SMS needs a MessageSid and a Body")
    rules = IdentityRules.for_tenant(hook.tenant, request.app.state.settings.secret_key)
    keyword = keyword_of(text)
    async with request.app.state.db.tenant_session(hook.tenant.id) as session:
        if keyword is not None:
            # STOP, BAJA ...: honoured at once and confirmed, as carriers expect; not work for
            # an agent.
            phone = checked_identity(IdentityKind.PHONE, hook.get("From") or "", rules, "From")
            found = await find_or_create(session, hook.tenant.id, IdentityKind.PHONE, phone)
            await opt_out_by_text(session, hook.tenant, found.customer, keyword, text)
            await session.commit()
            reply = reply_for(keyword, hook.tenant, found.customer.language)
            return TwiML().verb("Message", reply).response()
        steering = await steer(session, hook.tenant.id, text)
        await receive(
            session,
            hook.tenant,
            Inbound(
                channel=Channel.SMS,
                provider_ref=sid,
                sender_kind=IdentityKind.PHONE,
                sender=hook.get("From"),
                text=text[:MAX_TEXT],
                queue=(steering.queue if steering else None) or hook.address.queue,
                self_service_context={"intent": steering.intent} if steering else {},
            ),
            rules,
        )
        # Stored before the provider is told it arrived: a lost answer only means a retry.
        await session.commit()
    return TwiML().response()


@router.post("/status")
async def status(
    request: Request,
    contact: Annotated[uuid.UUID | None, Query()] = None,
    message: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    """The provider's report on a text we sent: sent, delivered, undelivered or failed."""
    hook = await verified_webhook(request, AddressChannel.SMS)
    report = Report(
        sid=hook.get("MessageSid"),
        status=hook.get("MessageStatus").lower(),
        error_code=hook.get("ErrorCode") or None,
    )
    async with request.app.state.db.tenant_session(hook.tenant.id) as session:
        await apply_report(session, ReportTarget(contact=contact, message=message), report)
        await session.commit()
    return Response(status_code=204)
