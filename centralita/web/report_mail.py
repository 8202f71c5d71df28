"""The weekly report email, in the recipient's language: key figures in the text, the week's
numbers by day attached as CSV and XLSX. Only the tenant's own aggregates go in, never agents'
names, and every figure comes from the same reports as the portal."""

from email.message import EmailMessage

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from sqlalchemy.ext.asyncio import AsyncSession

from centralita import i18n
from centralita.reporting import export, outcomes, service
from centralita.reporting.mail import delivery_window
from centralita.reporting.models import ReportDelivery
from centralita.tenancy.models import Tenant


def _percent(value: float | None, locale: str) -> str:
    return "—" if value is None else format_percent(value, "#,##0.0 %", locale=locale)


def _seconds(value: float | None, locale: str) -> str:
    return "—" if value is None else f"{format_decimal(round(value), locale=locale)} s"


async def compose_weekly(
    session: AsyncSession, tenant: Tenant, delivery: ReportDelivery
) -> EmailMessage:
    locale = delivery.locale if delivery.locale in i18n.LOCALES else tenant.default_locale
    gettext = i18n.TRANSLATIONS[locale].gettext
    win = delivery_window(tenant, delivery)
    week = await service.queue_report(session, win)
    before = await service.queue_report(session, win.previous())
    sla = await outcomes.sla_report(session, win)
    first = format_date(win.date_from, "long", locale=locale)
    last = format_date(win.date_to, "long", locale=locale)
    total, previous = week.total, before.total
    before_label = gettext("previous week")
    lines = [
        gettext("Service report of %(tenant)s, from %(first)s to %(last)s.")
        % {"tenant": tenant.name, "first": first, "last": last},
        "",
        " ".join(
            (
                gettext("Contacts") + ":",
                format_decimal(total.offered, locale=locale),
                f"({before_label}: {format_decimal(previous.offered, locale=locale)})",
            )
        ),
        " ".join(
            (
                gettext("Service level") + ":",
                _percent(total.service_level, locale),
                f"({before_label}: {_percent(previous.service_level, locale)})",
            )
        ),
        gettext("Abandonment") + ": " + _percent(total.abandonment_rate, locale),
        gettext("Average speed of answer") + ": " + _seconds(total.asa_seconds, locale),
        gettext("Average handle time") + ": " + _seconds(total.aht_seconds, locale),
        gettext("Ticket SLA compliance") + ": " + _percent(sla.compliance, locale),
        "",
    ]
    if week.note is not None:
        lines.append(gettext("No contacts in this period: every figure is zero."))
    lines.append(gettext("The attached files hold the week's figures by day."))
    message = EmailMessage()
    message["Subject"] = gettext("Weekly service report: %(tenant)s, %(first)s to %(last)s") % {
        "tenant": tenant.name,
        "first": first,
        "last": last,
    }
    message.set_content("\n".join(lines))
    table = await export.report_table(session, win, export.ReportName.INTERVALS, with_names=False)
    name = f"{tenant.slug}-{win.date_from}-{win.date_to}"
    message.add_attachment(
        export.to_csv(table).decode(), subtype="csv", charset="utf-8", filename=f"{name}.csv"
    )
    maintype, subtype = export.XLSX_TYPE.split("/")
    message.add_attachment(
        export.to_xlsx(table), maintype=maintype, subtype=subtype, filename=f"{name}.xlsx"
    )
    return message
