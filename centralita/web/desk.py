"""The agent desktop: the page, and the customer panel it loads beside each conversation.

The page's script (``static/js/desk.js``) talks to the public API and to ``/ws/agent``; the
server renders what holds customer text (the customer panel), so Jinja's escaping is what keeps
that text inert.
"""

import uuid
from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

from centralita.channels.email import replies
from centralita.db.scoping import use_system_scope, use_tenant_scope
from centralita.errors import Forbidden, NotFound
from centralita.i18n import gettext_noop
from centralita.identity.permissions import Permission
from centralita.routing.service import SERVING_ROLES, get_agent_profile
from centralita.routing.work import AWAY_REASONS
from centralita.tenancy.models import Tenant
from centralita.tenancy.service import get_tenant_by_slug, list_tenants
from centralita.web.desk_data import customer_panel
from centralita.web.pages import SignedIn, SignedInPage, page_router

router = page_router()

REASON_LABELS = {
    "break": gettext_noop("Break"),
    "lunch": gettext_noop("Lunch"),
    "meeting": gettext_noop("Meeting"),
    "training": gettext_noop("Training"),
    "coaching": gettext_noop("Coaching"),
    "other": gettext_noop("Other"),
}
assert REASON_LABELS.keys() == AWAY_REASONS

DISPOSITIONS = {
    "resolved": gettext_noop("Resolved"),
    "follow_up": gettext_noop("Follow-up needed"),
    "escalated": gettext_noop("Escalated"),
    "information": gettext_noop("Information given"),
    "complaint": gettext_noop("Complaint registered"),
    "no_response": gettext_noop("Customer did not respond"),
}

TIERS = {
    "standard": gettext_noop("Standard"),
    "silver": gettext_noop("Silver"),
    "gold": gettext_noop("Gold"),
    "platinum": gettext_noop("Platinum"),
}

TICKET_STATUSES = {
    "new": gettext_noop("New"),
    "open": gettext_noop("Open"),
    "pending_customer": gettext_noop("Waiting for the customer"),
    "pending_third_party": gettext_noop("Waiting for a third party"),
    "on_hold": gettext_noop("On hold"),
    "resolved": gettext_noop("Resolved"),
    "closed": gettext_noop("Closed"),
}

# Texts the script shows; translated here so the page needs no catalogue of its own.
SCRIPT_TEXTS = {
    "connected": gettext_noop("Connected"),
    "reconnecting": gettext_noop("Reconnecting…"),
    "offer": gettext_noop("New work offered"),
    "expires": gettext_noop("Expires in %(num)s s"),
    "accept": gettext_noop("Accept"),
    "reject": gettext_noop("Reject"),
    "customer": gettext_noop("Customer"),
    "agent": gettext_noop("Agent"),
    "note": gettext_noop("Internal note"),
    "system": gettext_noop("System"),
    "bot": gettext_noop("Bot"),
    "no_subject": gettext_noop("No subject"),
    "handling": gettext_noop("Handling for %(time)s"),
    "wrapping": gettext_noop("Wrap-up for %(time)s"),
    "error": gettext_noop("That did not work: %(detail)s"),
    "transferred": gettext_noop("Transferred."),
    "ticket_created": gettext_noop("Ticket %(ref)s created."),
    "ticket_updated": gettext_noop("Ticket updated."),
    "pick_target": gettext_noop("Choose a queue or a colleague."),
    "presence_saved": gettext_noop("Your status is now: %(state)s"),
    "nothing": gettext_noop("No work in hand. Make yourself available to receive work."),
    "available": gettext_noop("Available"),
    "away": gettext_noop("Away"),
    "offline": gettext_noop("Offline"),
    "wrap_up": gettext_noop("Wrap-up"),
    "voice": gettext_noop("Call"),
    "chat": gettext_noop("Chat"),
    "email": gettext_noop("Email"),
    "sms": gettext_noop("SMS"),
    "web": gettext_noop("Web form"),
    "callback": gettext_noop("Callback"),
    "task": gettext_noop("Task"),
    "reply": gettext_noop("Reply"),
    "reply_email": gettext_noop("Reply by email"),
    "ticket_filed": gettext_noop("This conversation is now filed under %(ref)s."),
    "tickets_linked": gettext_noop("%(one)s and %(other)s are now related."),
    "merge_question": gettext_noop(
        "Merge %(source)s into %(target)s? %(source)s will be closed and its messages and "
        "followers move to %(target)s."
    ),
    "merged": gettext_noop("%(source)s was merged into %(target)s."),
    "no_such_ticket": gettext_noop("There is no ticket %(ref)s."),
    "macro_inserted": gettext_noop("Macro “%(name)s” inserted: check it before sending."),
    "call_live": gettext_noop("On the call."),
    "call_held": gettext_noop("The caller is on hold."),
    "call_ended": gettext_noop("The call has ended; now the wrap-up."),
    "callback_why": gettext_noop("Why: %(reason)s · attempt %(attempt)s of %(max)s"),
    "callback_dial": gettext_noop("Call %(phone)s"),
    "callback_no_phone": gettext_noop("No number to call: find one with the customer."),
    "callback_calling": gettext_noop("Calling %(phone)s: your phone rings first."),
    "callback_completed": gettext_noop("Callback completed."),
    "callback_scheduled": gettext_noop("Not reached: it will be tried again at %(time)s."),
    "callback_expired": gettext_noop("Not reached, and no attempts are left."),
    "callback_failed": gettext_noop("Wrong number: the callback is closed."),
    "remove_file": gettext_noop("Remove %(name)s"),
    "remove": gettext_noop("Remove"),
    "file_too_large": gettext_noop("%(name)s is larger than %(limit)s MB."),
    "files_too_large": gettext_noop("Together the files would exceed %(limit)s MB."),
    "too_many_files": gettext_noop("Attach at most %(limit)s files."),
    "file_refused": gettext_noop("%(name)s is a program or script, which cannot be sent by email."),
    "file_empty": gettext_noop("%(name)s is empty."),
    "files_not_in_notes": gettext_noop(
        "Files go to the customer: untick “Internal note” to send them, or remove them."
    ),
}


# What self-service collects (the IVR, the chat's pre-chat form, the portal, rules), named for the
# agent; the script shows any other field by its key.
SELF_SERVICE_FIELDS = {
    "field_name": gettext_noop("Name"),
    "field_email": gettext_noop("Email"),
    "field_phone": gettext_noop("Phone"),
    "field_topic": gettext_noop("Topic"),
    "field_said": gettext_noop("What the customer said"),
    "field_keyed": gettext_noop("Keys pressed"),
    "field_intent": gettext_noop("Intent"),
    "field_confidence": gettext_noop("Confidence"),
    "field_self_service": gettext_noop("Self-service used"),
    "field_ticket": gettext_noop("Ticket"),
    "field_status": gettext_noop("Ticket status"),
    "field_number": gettext_noop("Number to call back"),
    "field_requested_at": gettext_noop("Requested for"),
    "field_source": gettext_noop("Source"),
    "field_event_type": gettext_noop("Set off by"),
    "field_csat": gettext_noop("CSAT"),
    "field_nps": gettext_noop("NPS"),
    "field_comment": gettext_noop("Comment"),
}


# Refusals the desk explains in the agent's language, by the problem's type (its last segment,
# dashes as underscores); any other refusal shows the API's own detail.
PROBLEM_TEXTS = {
    "problem_ticket_merged": gettext_noop("That ticket was merged into another one meanwhile."),
    "problem_ticket_closed": gettext_noop("That ticket is closed."),
    "problem_provider_failed": gettext_noop(
        "The phone provider did not take the request; try again."
    ),
    "problem_not_your_work": gettext_noop("This work is no longer yours."),
    "problem_wrong_state": gettext_noop("This work has moved on meanwhile."),
    "problem_not_a_call": gettext_noop("This conversation is not a phone call."),
    "problem_offer_expired": gettext_noop("The offer has expired."),
    "problem_no_number": gettext_noop("This company has no phone number with a provider account."),
    "problem_attachments_too_large": gettext_noop(
        "The files are too large to send: at most 10 MB each and 15 MB together."
    ),
    "problem_not_email": gettext_noop("Files can only be sent on email conversations."),
}


def texts(page: SignedIn, messages: dict[str, str]) -> dict[str, str]:
    return {key: page.gettext(message) for key, message in messages.items()}


async def tenant_for(page: SignedIn, slug: str, permission: Permission) -> Tenant:
    """The tenant ``slug`` if the viewer may do ``permission`` there; the session is scoped to it.

    Another tenant's slug is answered as if it did not exist."""
    tenant = await get_tenant_by_slug(page.session, slug)
    if tenant is None or not page.principal.sees_tenant(tenant.id):
        raise NotFound("Tenant not found")
    if not page.principal.can(tenant.id, permission):
        raise Forbidden(f"Your role does not allow {permission.value}")
    await use_tenant_scope(page.session, tenant.id)
    return tenant


@router.get("/agent")
async def agent_desktop(page: SignedInPage) -> Response:
    principal = page.principal
    served = {tid for tid, role in principal.roles.items() if role in SERVING_ROLES}
    if not served:
        raise Forbidden("Only agents and supervisors have a desktop")
    # A signed-in page's principal is always a user (pages.Viewer).
    assert principal.user_id is not None
    profile = await get_agent_profile(page.session, principal.user_id)
    tenants = await list_tenants(page.session, served)
    return page.render(
        "agent.html",
        {
            "presence": profile.presence,
            "presence_reason": profile.presence_reason,
            "reasons": REASON_LABELS,
            "dispositions": DISPOSITIONS,
            "tenant_names": {tenant.slug: tenant.name for tenant in tenants},
            "script_texts": texts(page, SCRIPT_TEXTS | PROBLEM_TEXTS | SELF_SERVICE_FIELDS),
            "attachment_limits": {
                "files": replies.MAX_FILES,
                "file_bytes": replies.MAX_FILE_BYTES,
                "reply_bytes": replies.MAX_REPLY_BYTES,
                "refused": " ".join(sorted(replies.REFUSED_EXTENSIONS)),
            },
        },
    )


@router.get("/agent/panel")
async def customer_side_panel(
    page: SignedInPage,
    tenant: Annotated[str, Query(max_length=100)],
    interaction: uuid.UUID,
) -> Response:
    """The customer 360 beside one conversation, as an HTML fragment the desktop inserts."""
    found = await tenant_for(page, tenant, Permission.CUSTOMERS_READ)
    panel = await customer_panel(page.session, interaction)
    await use_system_scope(page.session)
    context = {
        "panel": panel,
        "tenant": found,
        "tiers": TIERS,
        "ticket_statuses": TICKET_STATUSES,
    }
    return page.render("agent_panel.html", context)
