"""Texts the survey package sends customers outside a page (the invitation with its link)."""

from centralita.i18n import gettext_noop

INVITATION_TEXT = gettext_noop(
    "Thank you for contacting us. How did we do? Two quick questions: %(link)s"
)
INVITATION_SUBJECT = gettext_noop("How did we do?")
