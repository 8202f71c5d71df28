"""Every report as a table, written as CSV or XLSX.

CSV follows RFC 4180 through the csv module, with a byte-order mark so spreadsheets read UTF-8. A
text cell a spreadsheet would read as a formula (starting with =, +, -, @, a tab or a carriage
return) gets a leading apostrophe in CSV; in XLSX it is stored as a string cell, never a formula.
Customer-typed text (contact reasons) reaches exports, so this is the line that keeps it inert.
"""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.reporting import outcomes, service
from centralita.reporting.schemas import QueueRow
from centralita.reporting.service import Window

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUEUE_COLUMNS = tuple(QueueRow.model_fields)

Cell = str | int | float | date | datetime | None


class ReportName(StrEnum):
    INTERVALS = "intervals"
    QUEUES = "queues"
    AGENTS = "agents"
    SLA = "sla"
    REASONS = "reasons"
    FCR = "fcr"
    COST = "cost"


class FileFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


@dataclass(frozen=True)
class Table:
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]


def neutralise(cell: str) -> str:
    # The same rule as tickets' CSV export; not imported, since tickets builds on reporting.
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def _queue_cells(row: QueueRow) -> list[Cell]:
    return [getattr(row, name) for name in QUEUE_COLUMNS]


async def report_table(
    session: AsyncSession,
    win: Window,
    report: ReportName,
    *,
    with_names: bool,
    queue: str | None = None,
    channel: str | None = None,
) -> Table:
    """The report as a table; ``queue`` and ``channel`` narrow the intervals report, as on the
    page it is exported from."""
    header: tuple[str, ...]
    rows: list[list[Cell]]
    if report == ReportName.INTERVALS:
        intervals = await service.queue_report(session, win, queue, channel)
        rows = [[r.start, *_queue_cells(r)] for r in intervals.rows]
        return Table("intervals", ("start", *QUEUE_COLUMNS), rows)
    if report == ReportName.QUEUES:
        sliced = await service.slice_report(session, win)
        rows = [[r.queue, r.channel, *_queue_cells(r)] for r in sliced.rows]
        return Table("queues", ("queue", "channel", *QUEUE_COLUMNS), rows)
    if report == ReportName.AGENTS:
        agents = await service.agent_report(session, win, with_names=with_names)
        header = ("agent_id", "agent_name", "handled", "aht_seconds", "handle_hours", "transfers")
        rows = [
            [
                str(r.agent_user_id),
                r.agent_name,
                r.handled,
                r.aht_seconds,
                r.handle_hours,
                r.transfers,
            ]
            for r in agents.rows
        ]
        return Table("agents", header, rows)
    if report == ReportName.SLA:
        sla = await outcomes.sla_report(session, win)
        header = ("policy", "priority", "target", "met", "breached", "compliance")
        rows = [[r.policy, r.priority, r.kind, r.met, r.breached, r.compliance] for r in sla.rows]
        return Table("sla", header, rows)
    if report == ReportName.FCR:
        fcr = await outcomes.fcr_report(session, win)
        header = ("window_days", "contacts", "resolved_first_time", "repeat_contacts", "fcr_rate")
        row: list[Cell] = [
            fcr.window_days,
            fcr.contacts,
            fcr.resolved_first_time,
            fcr.repeat_contacts,
        ]
        return Table("fcr", header, [[*row, fcr.fcr_rate]])
    if report == ReportName.COST:
        cost = await outcomes.cost_report(session, win)
        header = ("currency", "cost_per_agent_hour", "handle_hours", "contacts", "cost_per_contact")
        cost_row: list[Cell] = [
            cost.currency,
            cost.cost_per_agent_hour,
            cost.handle_hours,
            cost.contacts,
        ]
        return Table("cost", header, [[*cost_row, cost.cost_per_contact]])
    reasons = await outcomes.reasons_report(session, win)
    header = ("topic", "contacts", "previous_contacts", "change")
    rows = [[r.topic, r.contacts, r.previous_contacts, r.change] for r in reasons.rows]
    return Table("reasons", header, rows)


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(value) if isinstance(value, str) else str(value)


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.header)
    writer.writerows([_text(value) for value in row] for row in table.rows)
    return ("\ufeff" + buffer.getvalue()).encode()


def to_xlsx(table: Table) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(table.title)
    sheet.append(list(table.header))
    for row in table.rows:
        cells = []
        for value in row:
            # Spreadsheets hold no zone: local times are written as shown in the report.
            plain = value.replace(tzinfo=None) if isinstance(value, datetime) else value
            cell = WriteOnlyCell(sheet, value=plain)
            if isinstance(value, str):
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def render(table: Table, file_format: FileFormat) -> tuple[bytes, str]:
    if file_format == FileFormat.XLSX:
        return to_xlsx(table), XLSX_TYPE
    return to_csv(table), "text/csv; charset=utf-8"
