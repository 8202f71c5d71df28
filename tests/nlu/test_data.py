"""Training CSV files: every bad row is told by its line, good files give examples."""

import pytest

from centralita.nlu.classifier import Example
from centralita.nlu.data import BadTrainingFile, read_examples


def test_a_good_file_with_locales_gives_its_examples() -> None:
    content = (
        "\ufefftext,intent,locale\nHe perdido la tarjeta,lost_card,es\n\n"
        '"Lost, my card",lost_card,\n'
    )

    assert read_examples(content) == [
        Example("He perdido la tarjeta", "lost_card", "es"),
        Example("Lost, my card", "lost_card", None),
    ]


def test_every_bad_row_is_reported_with_its_line() -> None:
    content = (
        "text,intent,locale\n"
        "ok,card,es\n"
        ",card,es\n"
        "only one column\n"
        "fine,,en\n"
        "hola,card,fr\n" + "x" * 1001 + ",card,es\n"
    )

    with pytest.raises(BadTrainingFile) as raised:
        read_examples(content)

    assert [(e.line, e.message) for e in raised.value.errors] == [
        (3, "the text is empty"),
        (4, "expected 3 columns, found 1"),
        (5, "the intent is empty"),
        (6, "unknown locale 'fr' (es or en)"),
        (7, "the text is longer than 1000 characters"),
    ]


@pytest.mark.parametrize("content", ["", "phrase,label\nhola,greet\n", "text,intent\n\n"])
def test_a_file_without_the_header_or_rows_is_refused(content: str) -> None:
    with pytest.raises(BadTrainingFile) as raised:
        read_examples(content)

    assert len(raised.value.errors) == 1
