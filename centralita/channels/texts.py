"""What the chat widget shows and the phone menu says, in the catalogues' two languages.

The chat widget receives the table for both languages (the page it sits on chooses); the phone
menu speaks the caller's.
"""

from centralita.i18n import LOCALES, TRANSLATIONS, gettext_noop

WIDGET = {
    "open": gettext_noop("Chat with us"),
    "close": gettext_noop("Close the chat"),
    "name": gettext_noop("Your name"),
    "email": gettext_noop("Your email (for a copy or an answer)"),
    "topic": gettext_noop("What is it about?"),
    "first": gettext_noop("How can we help you?"),
    "start": gettext_noop("Start the chat"),
    "type": gettext_noop("Type your message"),
    "send": gettext_noop("Send the message"),
    "waiting": gettext_noop("Waiting for an agent…"),
    "position": gettext_noop("You are number %(position)s in the queue."),
    "wait": gettext_noop("Estimated wait: about %(minutes)s min."),
    "joined": gettext_noop("%(name)s has joined the chat."),
    "typing": gettext_noop("The agent is typing…"),
    "ended": gettext_noop("The chat has ended. Thank you!"),
    "transcript": gettext_noop("Email me a copy of this chat"),
    "transcript_queued": gettext_noop("A copy of the chat is on its way to your email."),
    "closed": gettext_noop(
        "We cannot chat right now. Leave us a message and we will answer by email."
    ),
    "leave": gettext_noop("Leave the message"),
    "left": gettext_noop("Thank you! Your message is ticket %(ticket)s; we will answer by email."),
    "too_long": gettext_noop("The message is too long."),
    "rate_limited": gettext_noop("Too many messages at once; wait a moment."),
    "failed": gettext_noop("That did not work; check the form and try again."),
    "reconnecting": gettext_noop("Connection lost; reconnecting…"),
    "snippet": gettext_noop("To add this chat to your site, paste this line into its pages:"),
}

TRANSCRIPT = {
    "customer": gettext_noop("Me"),
    "agent": gettext_noop("Agent"),
    "bot": gettext_noop("Virtual assistant"),
    "heading": gettext_noop("Your conversation with %(name)s"),
    "subject": gettext_noop("Your chat with %(name)s"),
}

VOICE = {
    "welcome": gettext_noop("Welcome to %(company)s."),
    "welcome_back": gettext_noop("Hello %(name)s, welcome back to %(company)s."),
    "how_can_we_help": gettext_noop(
        "In a few words, how can we help you? Or press 1 for the status of a ticket."
    ),
    "not_heard": gettext_noop("Sorry, we did not catch that."),
    "ticket_number": gettext_noop("Please key in or say your ticket number."),
    "ticket_status": gettext_noop("Ticket %(number)s is %(status)s."),
    "no_ticket": gettext_noop("We could not find ticket %(number)s."),
    "offer_agent": gettext_noop("To speak with an agent press 1, or hang up if that is all."),
    "goodbye": gettext_noop("Thank you for calling. Goodbye."),
    "connecting": gettext_noop("We are putting you through to an agent."),
    "position": gettext_noop(
        "You are number %(position)s in the queue; the estimated wait is %(minutes)s minutes."
    ),
    "offer_callback": gettext_noop(
        "To hang up and be called back without losing your place, press 1."
    ),
    "callback_booked": gettext_noop(
        "Done: we will call you back at this number when it is your turn."
    ),
    "after_hours": gettext_noop("We are closed right now."),
    "voicemail": gettext_noop("Leave a message after the tone and we will get back to you."),
    "voicemail_saved": gettext_noop("Your message has been saved. Goodbye."),
    "on_hold": gettext_noop("Please hold; your agent will be back with you shortly."),
    "transferring": gettext_noop("Please hold while we transfer your call."),
    # Written on the interaction for the agent, not spoken.
    "nothing_said": gettext_noop("The caller chose nothing at the phone menu."),
    "asked_ticket": gettext_noop("The caller asked for the status of ticket %(number)s."),
    "voicemail_subject": gettext_noop("Voicemail from %(number)s"),
}

STATUS = {
    "new": gettext_noop("just opened"),
    "open": gettext_noop("being worked on"),
    "pending_customer": gettext_noop("waiting for your answer"),
    "pending_third_party": gettext_noop("waiting for a third party"),
    "on_hold": gettext_noop("on hold for now"),
    "resolved": gettext_noop("already resolved"),
    "closed": gettext_noop("already closed"),
}


def widget_texts() -> dict[str, dict[str, str]]:
    return {
        locale: {key: TRANSLATIONS[locale].gettext(text) for key, text in WIDGET.items()}
        for locale in LOCALES
    }


def transcript_text(locale: str, key: str, **values: object) -> str:
    text = TRANSLATIONS.get(locale, TRANSLATIONS["es"]).gettext(TRANSCRIPT[key])
    return text % values if values else text


def spoken(locale: str, key: str, **values: object) -> str:
    """A phone prompt in ``locale`` (the tenant's or the caller's language)."""
    translations = TRANSLATIONS.get(locale, TRANSLATIONS["es"])
    text = translations.gettext(VOICE[key])
    return text % values if values else text


def status_name(locale: str, status: str) -> str:
    translations = TRANSLATIONS.get(locale, TRANSLATIONS["es"])
    return translations.gettext(STATUS.get(status, status))
