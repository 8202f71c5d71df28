"""A campaign's target list from an uploaded CSV: row by row, with a report of what was refused.

The header names the columns (``phone``, ``email``, ``name``, ``language``, ``time_zone``,
``sms_consent``, ``email_consent``; other columns become template values). Each physical line is
decoded as UTF-8, else Windows-1252, else Latin-1 (a spreadsheet export mixes them), and a row that
needed a fallback is taken with a note. A cell a spreadsheet would run as a formula is neutralised
(a leading apostrophe) and noted. A row is refused, with its reasons, when it has the wrong number
of cells, an invalid phone or email, neither, an unknown time zone or language, an unreadable
consent value, or a customer already in the campaign; every other row is imported. Progress
(bytes and rows read) is reported every ``PROGRESS_ROWS`` rows.
"""

import csv
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.campaigns.consent import set_consent
from centralita.campaigns.models import (
    Campaign,
    CampaignContact,
    CampaignImport,
    CampaignStatus,
    ConsentSource,
    ContactChannel,
    ContactStatus,
)
from centralita.campaigns.service import get_campaign
from centralita.customers.models import Customer, CustomerIdentity, IdentityKind
from centralita.customers.service import (
    IdentityRules,
    find_by_identity,
    find_or_create,
    fold,
    normalise_email,
    normalise_phone,
)
from centralita.db.base import new_id, utcnow
from centralita.errors import Conflict, InvalidInput
from centralita.events.service import Actor, record_audit
from centralita.tenancy.models import Tenant

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_CELL = 500
MAX_REPORTED = 1000
PROGRESS_ROWS = 500
KNOWN = {"phone", "email", "name", "language", "time_zone", "sms_consent", "email_consent"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
YES = {"yes", "y", "si", "sí", "s", "true", "1", "x"}
NO = {"no", "n", "false", "0", ""}

Progress = Callable[[CampaignImport], Awaitable[None]]


@dataclass
class _Lines:
    """Physical lines of the upload, decoded one by one; remembers which needed a fallback."""

    data: bytes
    read_bytes: int = 0
    fallbacks: dict[int, str] = field(default_factory=dict)
    number: int = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self.data.splitlines(keepends=True):
            self.number += 1
            self.read_bytes += len(raw)
            if self.number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                try:
                    line, encoding = raw.decode("cp1252"), "Windows-1252"
                except UnicodeDecodeError:
                    line, encoding = raw.decode("latin-1"), "Latin-1"
                self.fallbacks[self.number] = encoding
                yield line


def _neutralised(value: str) -> str:
    return "'" + value


def _looks_like_formula(column: str, value: str) -> bool:
    if not value.startswith(FORMULA_STARTS):
        return False
    # "+34 612 ..." is how phone numbers are written, not a formula.
    return not (column == "phone" and value[1:].replace(" ", "").replace("-", "").isdigit())


def _yes_no(value: str) -> bool | None:
    folded = value.strip().casefold()
    if folded in YES:
        return True
    if folded in NO:
        return False
    raise ValueError(f"{value!r} is not yes or no")


@dataclass
class _Row:
    phone: str | None
    email: str | None
    name: str | None
    language: str | None
    time_zone: str | None
    consent: dict[ContactChannel, bool]
    variables: dict[str, str]


def _parse(cells: dict[str, str], rules: IdentityRules) -> tuple[_Row | None, list[str]]:
    errors: list[str] = []
    phone = email = None
    if cells.get("phone"):
        try:
            phone = normalise_phone(cells["phone"], rules.default_region)
        except ValueError as exc:
            errors.append(f"phone: {exc}")
    if cells.get("email"):
        try:
            email = normalise_email(cells["email"])
        except ValueError as exc:
            errors.append(f"email: {exc}")
    if not cells.get("phone") and not cells.get("email"):
        errors.append("the row has neither a phone nor an email")
    language = cells.get("language") or None
    if language is not None and not (
        2 <= len(language) <= 5 and language.replace("-", "").isalpha()
    ):
        errors.append(f"language: {language!r} is not a language code such as es or en")
    time_zone = cells.get("time_zone") or None
    if time_zone is not None:
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(f"time_zone: {time_zone!r} is not a time zone such as Europe/Madrid")
    consent: dict[ContactChannel, bool] = {}
    for channel in (ContactChannel.SMS, ContactChannel.EMAIL):
        column = f"{channel.value}_consent"
        if cells.get(column):
            try:
                decided = _yes_no(cells[column])
            except ValueError as exc:
                errors.append(f"{column}: {exc}")
            else:
                if decided is not None:
                    consent[channel] = decided
    for column, value in cells.items():
        if len(value) > MAX_CELL:
            errors.append(f"{column}: longer than {MAX_CELL} characters")
    if errors:
        return None, errors
    variables = {k: v for k, v in cells.items() if k not in KNOWN}
    if cells.get("name"):
        variables["name"] = cells["name"]
    name = cells.get("name") or None
    return _Row(phone, email, name, language, time_zone, consent, variables), []


async def _customer(session: AsyncSession, tenant: Tenant, row: _Row) -> tuple[Customer, list[str]]:
    """The customer the row names (by phone, else email), created with its details if new."""
    notes: list[str] = []
    kind, value = (IdentityKind.PHONE, row.phone) if row.phone else (IdentityKind.EMAIL, row.email)
    assert value is not None  # _parse refuses a row with neither
    resolved = await find_or_create(session, tenant.id, kind, value, row.name)
    customer = resolved.customer
    if resolved.created:
        customer.language, customer.time_zone = row.language, row.time_zone
        if row.name:
            customer.search_name = fold(row.name)
    if row.phone and row.email:
        holder = await find_by_identity(session, IdentityKind.EMAIL, row.email)
        if holder is None:
            session.add(
                CustomerIdentity(
                    tenant_id=tenant.id,
                    customer_id=customer.id,
                    kind=IdentityKind.EMAIL,
                    value=row.email,
                )
            )
        elif holder.id != customer.id:
            notes.append("the email belongs to another customer; it was not added")
    return customer, notes


async def import_targets(
    session: AsyncSession,
    actor: Actor,
    tenant: Tenant,
    campaign_id: uuid.UUID,
    filename: str,
    data: bytes,
    rules: IdentityRules,
    progress: Progress | None = None,
) -> CampaignImport:
    campaign = await get_campaign(session, campaign_id, lock=True)
    _check_can_import(campaign)
    lines = _Lines(data)
    reader = csv.reader(lines)
    try:
        header = [h.strip().casefold().replace(" ", "_") for h in next(reader)]
    except (StopIteration, csv.Error):
        raise InvalidInput.on_field("body", "The file is empty or not CSV") from None
    if "phone" not in header and "email" not in header:
        raise InvalidInput.on_field("body", "The header needs a phone or an email column")
    record = CampaignImport(
        tenant_id=tenant.id,
        id=new_id(),
        campaign_id=campaign.id,
        filename=filename[:200],
        total_bytes=len(data),
        row_errors=[],
        row_notes=[],
    )
    session.add(record)
    await session.flush()
    seen = set(
        (
            await session.execute(
                select(CampaignContact.customer_id).where(
                    CampaignContact.campaign_id == campaign.id
                )
            )
        ).scalars()
    )
    errors: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    last_line = lines.number
    now = utcnow()
    while True:
        try:
            cells_list = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append({"row": reader.line_num, "errors": [f"unreadable CSV: {exc}"]})
            record.rows_read += 1
            continue
        row_number = reader.line_num
        row_lines = range(last_line + 1, lines.number + 1)
        last_line = lines.number
        if not any(cell.strip() for cell in cells_list):
            continue
        record.rows_read += 1
        row_notes = [f"read as {lines.fallbacks[n]}" for n in row_lines if n in lines.fallbacks][:1]
        if len(cells_list) != len(header):
            errors.append(
                {
                    "row": row_number,
                    "errors": [f"expected {len(header)} cells, found {len(cells_list)}"],
                }
            )
            continue
        cells: dict[str, str] = {}
        for column, raw in zip(header, cells_list, strict=True):
            value = raw.strip()
            if _looks_like_formula(column, value):
                row_notes.append(f"{column}: a formula-looking cell was neutralised")
                value = _neutralised(value)
            cells[column] = value
        parsed, problems = _parse(cells, rules)
        if parsed is None:
            errors.append({"row": row_number, "errors": problems})
            continue
        customer, extra = await _customer(session, tenant, parsed)
        if customer.id in seen:
            errors.append(
                {"row": row_number, "errors": ["this customer is already in the campaign"]}
            )
            continue
        seen.add(customer.id)
        for channel, granted in parsed.consent.items():
            await set_consent(
                session,
                actor,
                customer,
                channel,
                granted=granted,
                source=ConsentSource.CSV,
                detail=f"{filename[:150]} row {row_number}",
            )
        session.add(
            CampaignContact(
                tenant_id=tenant.id,
                id=new_id(),
                campaign_id=campaign.id,
                customer_id=customer.id,
                status=ContactStatus.QUEUED,
                due_at=now,
                variables=parsed.variables
                | ({"language": parsed.language} if parsed.language else {}),
            )
        )
        record.rows_imported += 1
        if row_notes or extra:
            notes.append({"row": row_number, "notes": row_notes + extra})
        if progress is not None and record.rows_read % PROGRESS_ROWS == 0:
            _report(record, lines, errors, notes)
            await session.flush()
            await progress(record)
    _report(record, lines, errors, notes)
    record.finished = True
    record_audit(
        session,
        tenant.id,
        actor,
        "campaign.targets_imported",
        ("campaign", campaign.id),
        after={
            "file": record.filename,
            "imported": record.rows_imported,
            "rejected": record.rows_rejected,
        },
    )
    await session.flush()
    return record


def _report(
    record: CampaignImport, lines: _Lines, errors: list[dict[str, Any]], notes: list[dict[str, Any]]
) -> None:
    record.read_bytes = lines.read_bytes
    record.rows_rejected = len(errors)
    # New lists, so the JSON columns are seen as changed.
    record.row_errors = list(errors[:MAX_REPORTED])
    record.row_notes = list(notes[:MAX_REPORTED])


def _check_can_import(campaign: Campaign) -> None:
    if campaign.segment_query is not None:
        raise Conflict("This campaign targets a segment; it takes no CSV", "campaign-has-segment")
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
        raise Conflict("Pause the campaign before adding targets", "campaign-running")


async def imports_of(session: AsyncSession, campaign_id: uuid.UUID) -> list[CampaignImport]:
    await get_campaign(session, campaign_id)
    query = select(CampaignImport).where(CampaignImport.campaign_id == campaign_id)
    return list((await session.execute(query.order_by(CampaignImport.created_at.desc()))).scalars())
