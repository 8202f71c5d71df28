"""The visitor token: who the visitor is and which conversation is theirs, signed by the app.

The widget keeps it (in the page's storage) and presents it when it reconnects; nothing else
identifies a visitor, so it is signed with the app's secret and bound to one tenant.
"""

import uuid
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "centralita.chat.visitor"
# A visitor returning within this time is recognised as the same person.
MAX_AGE_SECONDS = 90 * 24 * 3600


@dataclass(frozen=True)
class Visitor:
    tenant_id: uuid.UUID
    visitor_id: str
    conversation_ref: str | None

    def sign(self, secret: str) -> str:
        payload = {"t": str(self.tenant_id), "v": self.visitor_id, "c": self.conversation_ref}
        return URLSafeTimedSerializer(secret, salt=SALT).dumps(payload)


def verified(token: str, secret: str, tenant_id: uuid.UUID) -> Visitor | None:
    """The visitor a token names, or None if it is forged, expired or another tenant's."""
    try:
        payload = URLSafeTimedSerializer(secret, salt=SALT).loads(token, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("t") != str(tenant_id):
        return None
    visitor, conversation = payload.get("v"), payload.get("c")
    if not isinstance(visitor, str) or not isinstance(conversation, str | None):
        return None
    return Visitor(tenant_id, visitor, conversation)
