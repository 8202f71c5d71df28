"""Reading a raw email with the standard library's modern policy, within limits, without crashing.

Whatever arrives is read: unknown or missing charsets and broken transfer encodings fall back to a
best-effort decoding, and a message with more parts or deeper nesting than the limits is read up to
them (what was left out is said in ``truncated``). Only a message the parser cannot read at all
raises :class:`Unreadable`; its raw bytes are kept by the caller for an operator.
"""

import hashlib
import html as html_module
import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr

import nh3

# The modern policy reads headers richly and slowly (about 1 ms a part): the limits bound that.
MAX_PARTS = 200
MAX_DEPTH = 12
DELIMITER = re.compile(rb"(?m)^--[^\r\n]")
# The stored text of one part; beyond it the agent reads the attachment or the raw message.
MAX_TEXT_CHARS = 200_000

# Charset names mail clients write that Python's codecs do not know by that name.
CHARSET_ALIASES = {
    "x-sjis": "shift_jis",
    "sjis": "shift_jis",
    "windows-874": "cp874",
    "ks_c_5601-1987": "cp949",
    "x-mac-roman": "mac_roman",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
}
# Tried in order when the declared charset fails: most mail is UTF-8, then Windows-1252 (what
# "ISO-8859-1" usually means in practice); Latin-1 last, as it decodes any byte.
FALLBACK_CHARSETS = ("utf-8", "cp1252")

AUTOMATIC_PRECEDENCE = frozenset({"bulk", "list", "junk", "auto_reply"})
AUTOMATIC_MARKERS = ("x-autoreply", "x-autorespond", "x-auto-response-suppress")
HARD_FAILURE = re.compile(r"^5\.\d{1,3}\.\d{1,3}")


class Unreadable(Exception):
    """The parser could not read the message at all."""


@dataclass(frozen=True)
class Part:
    filename: str
    content_type: str
    content: bytes
    content_id: str | None
    inline: bool


@dataclass(frozen=True)
class Failure:
    """One recipient a delivery report says the message could not reach."""

    recipient: str
    status: str
    diagnostic: str

    @property
    def permanent(self) -> bool:
        return bool(HARD_FAILURE.match(self.status))


@dataclass
class Parsed:
    message_id: str
    sender: str
    sender_name: str | None
    subject: str
    # Message-IDs this one answers, nearest first (In-Reply-To, then References newest first).
    answers: list[str]
    text: str
    html: str | None
    parts: list[Part] = field(default_factory=list)
    # Why nothing automatic may answer this message (None: a person wrote it).
    automatic: str | None = None
    report: list[Failure] | None = None
    # The Message-ID of the message a delivery report is about.
    reported_id: str | None = None
    truncated: list[str] = field(default_factory=list)


def parse(raw: bytes) -> Parsed:
    bounded = _bounded(raw)
    try:
        message = BytesParser(policy=policy.default).parsebytes(bounded)
        parsed = _read(message, raw)
    except (RecursionError, MemoryError) as exc:
        raise Unreadable(type(exc).__name__) from None
    except Exception as exc:  # noqa: BLE001 - any parser failure means "keep it raw"
        raise Unreadable(f"{type(exc).__name__}: {exc}") from None
    if len(bounded) < len(raw):
        parsed.truncated.append(f"more than {MAX_PARTS} parts")
    return parsed


def _bounded(raw: bytes) -> bytes:
    """The raw message cut before its part beyond the limit, so the parser never reads more."""
    for count, delimiter in enumerate(DELIMITER.finditer(raw)):
        if count > MAX_PARTS:
            return raw[: delimiter.start()]
    return raw


def bare_id(value: str | None) -> str | None:
    """A Message-ID without its angle brackets or surrounding space."""
    if not value:
        return None
    found = re.search(r"<([^<>\s]+)>", value)
    bare = found.group(1) if found else value.strip()
    return bare[:300] or None


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 - a malformed header is treated as absent
        return ""
    return str(value).strip() if value is not None else ""


def _read(message: EmailMessage, raw: bytes) -> Parsed:
    name, address = parseaddr(_header(message, "From"))
    answers = [bare_id(_header(message, "In-Reply-To"))]
    answers.extend(bare_id(f"<{ref}>") for ref in reversed(_references(message)))
    text_parts: list[str] = []
    html_parts: list[str] = []
    parsed = Parsed(
        message_id=bare_id(_header(message, "Message-ID"))
        or "sha256-" + hashlib.sha256(raw).hexdigest(),
        sender=address.strip().lower(),
        sender_name=name.strip() or None,
        subject=" ".join(_header(message, "Subject").split())[:300],
        answers=list(dict.fromkeys(a for a in answers if a)),
        text="",
        html=None,
    )
    parsed.automatic = automatic_reason(message)
    _walk(message, parsed, text_parts, html_parts)
    body_html = "\n".join(html_parts) or None
    parsed.html = body_html
    parsed.text = "\n\n".join(text_parts).strip() or (html_to_text(body_html) if body_html else "")
    return parsed


def _references(message: Message) -> list[str]:
    return re.findall(r"<([^<>\s]+)>", _header(message, "References"))[-50:]


def automatic_reason(message: Message) -> str | None:
    """Why this looks machine-sent, so that nothing automatic answers it (RFC 3834)."""
    auto_submitted = _header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = _header(message, "Precedence").lower()
    if precedence in AUTOMATIC_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("X-Loop", "List-Id", "List-Unsubscribe", *AUTOMATIC_MARKERS):
        if _header(message, name):
            return name
    if message.get_content_type() == "multipart/report":
        return "delivery report"
    sender = parseaddr(_header(message, "Return-Path"))[1]
    if _header(message, "Return-Path") and (not sender or sender.lower() == "mailer-daemon"):
        return "null sender"
    return None


def decode_text(part: Message) -> str:
    """A text part's content, whatever its declared charset or encoding claims."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a broken encoding yields what can be read
        payload = str(part.get_payload()).encode("utf-8", "replace")
    if not isinstance(payload, bytes):
        return ""
    declared = (part.get_content_charset() or "").lower()
    charsets = [CHARSET_ALIASES.get(declared, declared)] if declared else []
    for charset in (*charsets, *FALLBACK_CHARSETS):
        try:
            text = payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
        return _lines(text)
    return _lines(payload.decode("latin-1"))


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")[:MAX_TEXT_CHARS]


def _walk(root: Message, parsed: Parsed, texts: list[str], htmls: list[str]) -> None:
    # Iterative, so deep nesting costs no recursion; the limits bound time and memory.
    stack: list[tuple[Message, int]] = [(root, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > MAX_PARTS:
            parsed.truncated.append(f"more than {MAX_PARTS} parts")
            return
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            if depth >= MAX_DEPTH:
                parsed.truncated.append(f"nested deeper than {MAX_DEPTH}")
                continue
            if part.get_content_type() == "multipart/report" and depth == 0:
                _read_report(part, parsed)
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend(
                    (child, depth + 1) for child in reversed(children) if isinstance(child, Message)
                )
            continue
        _read_leaf(part, parsed, texts, htmls)


def _read_leaf(part: Message, parsed: Parsed, texts: list[str], htmls: list[str]) -> None:
    content_type = part.get_content_type()
    disposition = (part.get_content_disposition() or "").lower()
    filename = _filename(part)
    if disposition != "attachment" and filename is None:
        if content_type == "text/plain":
            texts.append(decode_text(part))
            return
        if content_type == "text/html":
            htmls.append(decode_text(part))
            return
        if content_type in ("message/delivery-status", "text/rfc822-headers"):
            return
    content = _content(part)
    parsed.parts.append(
        Part(
            filename=(filename or _default_name(content_type))[:255],
            content_type=content_type[:100],
            content=content,
            content_id=bare_id(_header(part, "Content-ID")),
            inline=disposition == "inline" or (disposition == "" and bool(part.get("Content-ID"))),
        )
    )


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - a garbled filename parameter
        return "attachment"
    return " ".join(name.split()) if name else None


def _default_name(content_type: str) -> str:
    if content_type == "text/calendar":
        return "invite.ics"
    if content_type == "message/rfc822":
        return "message.eml"
    return "attachment." + content_type.split("/")[-1]


def _content(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        payload = None
    if isinstance(payload, bytes):
        return payload
    inner = part.get_payload()
    if isinstance(inner, list):  # an attached message: keep it as bytes
        return b"\n".join(item.as_bytes() for item in inner if isinstance(item, Message))
    return str(inner).encode("utf-8", "replace")


def _read_report(report: Message, parsed: Parsed) -> None:
    """The failures a delivery status notification (RFC 3464) reports, and what it is about."""
    if report.get_param("report-type", "", header="content-type") != "delivery-status":
        return
    failures: list[Failure] = []
    for part in report.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            failures.extend(_failures(part))
        elif content_type in ("message/rfc822", "text/rfc822-headers"):
            parsed.reported_id = parsed.reported_id or _reported_id(part)
    parsed.report = failures


def _failures(part: Message) -> list[Failure]:
    blocks = part.get_payload()
    if not isinstance(blocks, list):
        return []
    failures = []
    for block in blocks:
        if not isinstance(block, Message):
            continue
        action = _header(block, "Action").lower()
        recipient = _header(block, "Final-Recipient") or _header(block, "Original-Recipient")
        if action != "failed" or not recipient:
            continue
        address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
        failures.append(
            Failure(address, _header(block, "Status"), _header(block, "Diagnostic-Code")[:250])
        )
    return failures


def _reported_id(part: Message) -> str | None:
    inner = part.get_payload()
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        return bare_id(_header(inner[0], "Message-ID"))
    found = re.search(r"(?im)^message-id:\s*(<[^>]+>)", decode_text(part))
    return bare_id(found.group(1)) if found else None


BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(p|div|li|tr|h[1-6]|blockquote)>")


def html_to_text(html: str) -> str:
    """The words of an HTML body, one block per line, for an email that sent no text part."""
    broken = BLOCK_END.sub("\n", html)
    stripped = nh3.clean(broken, tags=set(), clean_content_tags={"script", "style", "head"})
    lines = (" ".join(line.split()) for line in html_module.unescape(stripped).splitlines())
    return "\n".join(line for line in lines if line).strip()


def format_address(name: str | None, address: str) -> str:
    username, _, domain = address.partition("@")
    return str(Address(display_name=name or "", username=username, domain=domain))
