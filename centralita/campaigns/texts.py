"""Texts of the campaigns page and its results, in the catalogues' two languages."""

from centralita.i18n import gettext_noop

CAMPAIGN_STATES = {
    "draft": gettext_noop("Draft"),
    "running": gettext_noop("Running"),
    "paused": gettext_noop("Paused"),
    "finished": gettext_noop("Finished"),
}
CONTACT_STATES = {
    "queued": gettext_noop("Queued"),
    "sending": gettext_noop("Sending"),
    "sent": gettext_noop("Sent"),
    "delivered": gettext_noop("Delivered"),
    "failed": gettext_noop("Failed"),
    "skipped": gettext_noop("Skipped"),
    "opted_out": gettext_noop("Opted out"),
    "total": gettext_noop("Total"),
}
IMPORTED = gettext_noop("%(imported)s rows imported and %(rejected)s refused, of %(read)s read.")
FIX = gettext_noop("Please correct the following:")
