import uuid
from datetime import datetime
from typing import Self
from zoneinfo import available_timezones

import holidays
from pydantic import Field, field_validator, model_validator

from centralita.schemas import Locale, Read, Strict

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


def _check_zone(value: str | None) -> str | None:
    if value is not None and value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r}")
    return value


class TenantCreate(Strict):
    slug: str = Field(pattern=SLUG_PATTERN, max_length=63)
    name: str = Field(min_length=1, max_length=200)
    default_locale: Locale = "es"
    time_zone: str = Field(default="Europe/Madrid", max_length=64)
    country: str = Field(default="ES", min_length=2, max_length=2)
    subdivision: str | None = Field(default=None, max_length=10)

    _zone = field_validator("time_zone")(_check_zone)

    @model_validator(mode="after")
    def _known_calendar(self) -> Self:
        self.country = self.country.upper()
        supported = holidays.list_supported_countries()
        if self.country not in supported:
            raise ValueError(f"no public-holiday calendar for country {self.country!r}")
        if self.subdivision is not None and self.subdivision not in supported[self.country]:
            raise ValueError(f"unknown subdivision {self.subdivision!r} of {self.country}")
        return self


class TenantUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    default_locale: Locale | None = None
    time_zone: str | None = Field(default=None, max_length=64)

    _zone = field_validator("time_zone")(_check_zone)


class TenantOut(Read):
    id: uuid.UUID
    slug: str
    name: str
    default_locale: str
    time_zone: str
    country: str
    subdivision: str | None
    created_at: datetime
