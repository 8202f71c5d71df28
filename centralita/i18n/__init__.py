"""Translations (es, en) compiled in memory from the .po catalogues, and locale negotiation.

Every package marks its user-facing text with ``gettext_noop`` or ``_`` and one pair of
catalogues holds it all, so every domain can translate without depending on the web pages.

The catalogues in ``locales/`` are the only source: they are compiled when this module is imported,
so no ``.mo`` files are committed and no build step runs. To find new messages::

    pybabel extract -F centralita/i18n/babel.cfg -k gettext_noop -o /tmp/messages.pot .
    pybabel update -i /tmp/messages.pot -d centralita/i18n/locales --no-fuzzy-matching
"""

from datetime import datetime
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

LOCALES = ("es", "en")
LOCALE_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"


def gettext_noop(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where it is shown."""
    return message


def _compile(locale: str) -> Translations:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


TRANSLATIONS: dict[str, Translations] = {locale: _compile(locale) for locale in LOCALES}


def negotiate(accept_language: str) -> str | None:
    """The best supported locale for an ``Accept-Language`` header, honouring its q-values."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = tag.split("-")[0].strip().lower()
        if language in LOCALES and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


def language_name(code: str, locale: str) -> str:
    """``es`` as "Español" for a Spanish reader and "Spanish" for an English one."""
    name = Locale.parse(code).get_display_name(locale) or code
    return name[:1].upper() + name[1:]


def format_moment(moment: datetime, locale: str, time_zone: str, style: str = "medium") -> str:
    return format_datetime(moment, style, tzinfo=ZoneInfo(time_zone), locale=locale)


def format_day(moment: datetime, locale: str, time_zone: str, style: str = "long") -> str:
    return format_date(moment.astimezone(ZoneInfo(time_zone)).date(), style, locale=locale)


def format_clock(moment: datetime, locale: str, time_zone: str) -> str:
    return format_time(moment, "short", tzinfo=ZoneInfo(time_zone), locale=locale)


def format_number(value: int, locale: str) -> str:
    return format_decimal(value, locale=locale)


def format_share(value: float | None, locale: str) -> str:
    """A 0-1 share as a whole percentage ("87 %" in Spanish, "87%" in English); "—" if unknown."""
    return "—" if value is None else format_percent(value, locale=locale)


def format_duration(seconds: float | None) -> str:
    """Seconds as m:ss (or h:mm:ss), the way contact-center screens show waits and handle times."""
    if seconds is None:
        return "—"
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
