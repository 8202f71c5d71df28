"""Keyset pagination with opaque cursors, for every list the API returns.

The cursor encodes the sort key of the last row returned, so pages stay stable while rows are
added, and a page costs an index range scan however deep the client goes.
"""

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from centralita.errors import InvalidInput

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass
class Slice(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _encode(values: list[Any]) -> str:
    raw = json.dumps([str(v) if not isinstance(v, int | float) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    invalid = InvalidInput.on_field("query.cursor", "Invalid or expired cursor")
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(values, list) or len(values) != len(columns):
        raise invalid
    typed: list[Any] = []
    for column, value in zip(columns, values, strict=True):
        python_type = column.type.python_type
        try:
            if python_type is datetime:
                typed.append(datetime.fromisoformat(value))
            elif python_type is uuid.UUID:
                typed.append(uuid.UUID(value))
            else:
                typed.append(python_type(value))
        except (TypeError, ValueError):
            raise invalid from None
    return typed


async def paginate(
    session: AsyncSession,
    query: Select[Any],
    order: Sequence[InstrumentedAttribute[Any]],
    *,
    cursor: str | None,
    limit: int = DEFAULT_LIMIT,
    descending: bool = True,
) -> Slice[Any]:
    """One page of ``query`` (one entity) sorted by ``order``, whose last column is unique."""
    if cursor:
        after = _decode(cursor, order)
        key = tuple_(*order)
        query = query.where(key < tuple_(*after) if descending else key > tuple_(*after))
    query = query.order_by(*(c.desc() if descending else c.asc() for c in order))
    rows = list((await session.execute(query.limit(limit + 1))).scalars())
    if len(rows) <= limit:
        return Slice(rows, None)
    rows = rows[:limit]
    return Slice(rows, _encode([getattr(rows[-1], c.key) for c in order]))
