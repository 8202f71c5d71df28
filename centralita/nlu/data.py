"""Labelled examples from CSV (``text,intent[,locale]``), with an error per bad row."""

import csv
import io
from dataclasses import dataclass

from centralita.nlu.classifier import Example

MAX_TEXT = 1000
MAX_INTENT = 100
MAX_ROWS = 100_000
LOCALES = frozenset({"es", "en"})


@dataclass(frozen=True)
class RowError:
    # 1-based line in the file, the header being line 1.
    line: int
    message: str


class BadTrainingFile(ValueError):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} bad row(s)")
        self.errors = errors


def read_examples(content: str) -> list[Example]:
    """Every row of the CSV, or BadTrainingFile listing each bad row (the first 100)."""
    reader = csv.reader(io.StringIO(content.lstrip("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:2] != ["text", "intent"] or header[2:] not in ([], ["locale"]):
        raise BadTrainingFile([RowError(1, "the header must be text,intent or text,intent,locale")])
    examples: list[Example] = []
    errors: list[RowError] = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        problem = _problem(row, len(header))
        if problem:
            errors.append(RowError(line, problem))
        else:
            locale = row[2].strip().lower() if len(row) > 2 else ""
            examples.append(Example(row[0].strip(), row[1].strip(), locale or None))
        if len(examples) + len(errors) > MAX_ROWS:
            errors.append(RowError(line, f"at most {MAX_ROWS} rows"))
            break
    if errors:
        raise BadTrainingFile(errors[:100])
    if not examples:
        raise BadTrainingFile([RowError(2, "the file holds no examples")])
    return examples


def _problem(row: list[str], columns: int) -> str | None:
    if len(row) != columns:
        return f"expected {columns} columns, found {len(row)}"
    text, intent = row[0].strip(), row[1].strip()
    if not text:
        return "the text is empty"
    if len(text) > MAX_TEXT:
        return f"the text is longer than {MAX_TEXT} characters"
    if not intent:
        return "the intent is empty"
    if len(intent) > MAX_INTENT:
        return f"the intent is longer than {MAX_INTENT} characters"
    if columns > 2 and row[2].strip() and row[2].strip().lower() not in LOCALES:
        return f"unknown locale {row[2].strip()!r} (es or en)"
    return None
