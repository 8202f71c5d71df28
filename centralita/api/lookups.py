"""Per-process memory, for a few seconds, of who a bearer token is and which tenant a slug names.

Every API request needs both before it does any work; read from the database each time, the two
lookups (and the second round of row-level-security settings they force) cost more than an
ingest's own writes. So each process remembers them for :data:`LOOKUP_TTL_S`:

* a token revoked, or a tenant changed, **through this process** takes effect at once (the routes
  that do so call :meth:`Lookups.forget_tokens` / :meth:`Lookups.forget_tenant`);
* **through another process** (or directly in the database), within :data:`LOOKUP_TTL_S`.

Only successful lookups are remembered: an unknown token or slug is read again every time.
"""

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from centralita.identity.service import Principal
from centralita.tenancy.models import Tenant
from centralita.tenancy.service import get_tenant_by_slug

LOOKUP_TTL_S = 5.0
# Far above any real installation's tokens and tenants; past it everything is forgotten at once
# rather than tracking which entry is oldest.
MAX_ENTRIES = 10_000

_TENANT_COLUMNS = tuple(attr.key for attr in sa_inspect(Tenant).column_attrs)

V = TypeVar("V")


@dataclass
class _Remembered(Generic[V]):
    entries: dict[str, tuple[float, V]] = field(default_factory=dict)

    def get(self, key: str) -> V | None:
        found = self.entries.get(key)
        if found is None:
            return None
        expires, value = found
        if time.monotonic() >= expires:
            del self.entries[key]
            return None
        return value

    def put(self, key: str, value: V) -> None:
        if len(self.entries) >= MAX_ENTRIES:
            self.entries.clear()
        self.entries[key] = (time.monotonic() + LOOKUP_TTL_S, value)


def _token_key(secret: str) -> str:
    # The secret itself is not kept, even in memory.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class Lookups:
    _principals: _Remembered[Principal] = field(default_factory=_Remembered)
    _tenants: _Remembered[dict[str, Any]] = field(default_factory=_Remembered)

    def principal(self, secret: str) -> Principal | None:
        return self._principals.get(_token_key(secret))

    def remember_principal(self, secret: str, principal: Principal) -> None:
        self._principals.put(_token_key(secret), principal)

    def forget_tokens(self) -> None:
        self._principals.entries.clear()

    async def tenant_by_slug(self, session: AsyncSession, slug: str) -> Tenant | None:
        """The active tenant with this slug, as a clean instance of ``session`` (so a change to it
        is flushed as usual), read from the database only when not remembered."""
        values = self._tenants.get(slug)
        if values is None:
            tenant = await get_tenant_by_slug(session, slug)
            if tenant is not None:
                self._tenants.put(slug, {name: getattr(tenant, name) for name in _TENANT_COLUMNS})
            return tenant
        remembered = Tenant(**values)
        # As if just loaded: no pending changes, so joining the session writes nothing.
        make_transient_to_detached(remembered)
        return await session.merge(remembered, load=False)

    def forget_tenant(self, slug: str) -> None:
        self._tenants.entries.pop(slug, None)
