"""The catalogues are complete: every message of every package has a Spanish and an English text."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from centralita import i18n

I18N_DIR = Path(i18n.__file__).parent
PACKAGE_DIR = I18N_DIR.parent
METHOD_MAP = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def _source_messages() -> set[str]:
    keywords = {**DEFAULT_KEYWORDS, "gettext_noop": None}
    return {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(PACKAGE_DIR), METHOD_MAP, OPTIONS, keywords
        )
    }


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_catalogue_translates_every_message_and_nothing_else(locale: str) -> None:
    path = I18N_DIR / "locales" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    entries = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}

    assert set(entries) == _source_messages()
    for message in entries.values():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), message.id
        assert not message.fuzzy, message.id


def test_spanish_is_compiled_in_memory() -> None:
    assert i18n.TRANSLATIONS["es"].gettext("Sign in") == "Iniciar sesión"
    assert i18n.TRANSLATIONS["en"].gettext("Sign in") == "Sign in"
    assert not list(I18N_DIR.glob("locales/**/*.mo"))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-US,en;q=0.9", "en"),
        ("es-ES", "es"),
        ("fr-FR, en;q=0.4, es;q=0.8", "es"),
        ("de, fr", None),
        ("en;q=0, es;q=0.1", "es"),
        ("", None),
        ("en;q=abc", None),
    ],
)
def test_accept_language_negotiation(header: str, expected: str | None) -> None:
    assert i18n.negotiate(header) == expected


def test_dates_follow_the_reader_and_the_tenant_zone() -> None:
    moment = datetime(2025, 3, 4, 23, 30, tzinfo=UTC)

    assert i18n.format_day(moment, "es", "Europe/Madrid") == "5 de marzo de 2025"
    assert i18n.format_day(moment, "en", "America/New_York") == "March 4, 2025"
    assert i18n.format_clock(moment, "es", "Europe/Madrid") == "0:30"
    assert i18n.format_moment(moment, "es", "Europe/Madrid", "short") == "5/3/25, 0:30"
    assert i18n.format_number(12345, "es") == "12.345"
    assert i18n.format_number(12345, "en") == "12,345"
    assert i18n.language_name("es", "en") == "Spanish"
    assert i18n.language_name("en", "es") == "Inglés"
