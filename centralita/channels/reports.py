"""The provider's status callbacks for what the platform sent: a campaign's texts and automated
calls, and the proactive messages of surveys and rules.

The callback URL names the row it reports on (``?contact=`` a campaign contact, ``?message=`` an
outbound message), so a report that overtakes the sender's own record still finds it; the
provider's sid must agree with the one recorded, if any. The request is verified like every
provider webhook, so the row is looked up only within the number's tenant. A report on nothing
we know is logged and acknowledged: the provider would otherwise retry it for hours.
"""

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from centralita.campaigns import service as campaigns
from centralita.config import Settings
from centralita.outbound import service as outbound
from centralita.outbound.delivery import Report

logger = logging.getLogger(__name__)

STATUS_PATHS = {"sms": "/telephony/sms/status", "voice": "/telephony/voice/message-status"}


@dataclass(frozen=True)
class ReportTarget:
    """The row a status callback URL names."""

    contact: uuid.UUID | None = None
    message: uuid.UUID | None = None


def reports_base(settings: Settings) -> str:
    """Where the provider reaches this installation (what it signs its callbacks over)."""
    return settings.telephony_public_base_url or settings.public_url


def status_callback_url(base: str, channel: str, target: ReportTarget) -> str:
    name, value = ("contact", target.contact) if target.contact else ("message", target.message)
    return f"{base.rstrip('/')}{STATUS_PATHS[channel]}?{name}={value}"


async def apply_report(session: AsyncSession, target: ReportTarget, report: Report) -> bool:
    """Apply ``report`` to its row in the session's tenant; False when it names nothing known."""
    if not report.sid or not report.status:
        found: object = None
    elif target.contact is not None:
        found = await campaigns.record_delivery_report(session, target.contact, report)
    elif target.message is not None:
        found = await outbound.record_delivery_report(session, target.message, report)
    else:
        found = None
    if found is None:
        logger.warning(
            "status callback for nothing we sent: sid %s, status %s, %s",
            report.sid or "-",
            report.status or "-",
            target,
        )
    return found is not None
