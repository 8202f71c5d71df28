"""The provider's delivery reports (Twilio status callbacks), read the same for every sender.

A message goes queued → sent → delivered (or undelivered, failed); a call ends completed,
no-answer, busy, failed or canceled. Only the endings matter to a result: the sender already
recorded that the provider took the message.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Report:
    """What one status callback says of one message or call."""

    sid: str
    # MessageStatus or CallStatus, lower case.
    status: str
    error_code: str | None = None


@dataclass(frozen=True)
class Ending:
    """How a message or call ended: reached the customer or not, and why."""

    delivered: bool
    # For a call: answered, no_answer, busy, failed, canceled.
    reason: str | None
    error: str | None


CALL_ENDINGS = {"completed", "no-answer", "busy", "failed", "canceled"}


def ending_of(report: Report, *, call: bool) -> Ending | None:
    """The ending a report gives; None for a step on the way (queued, sent, ringing ...)."""
    if call:
        if report.status not in CALL_ENDINGS:
            return None
        if report.status == "completed":
            return Ending(delivered=True, reason="answered", error=None)
        return Ending(False, report.status.replace("-", "_"), f"call {report.status}")
    if report.status in ("delivered", "read"):
        return Ending(delivered=True, reason=None, error=None)
    if report.status in ("undelivered", "failed"):
        code = f" (error {report.error_code})" if report.error_code else ""
        return Ending(delivered=False, reason=None, error=f"{report.status}{code}")
    return None
