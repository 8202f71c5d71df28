import uuid
from datetime import datetime

from centralita.schemas import Read


class AuditEntryOut(Read):
    id: uuid.UUID
    at: datetime
    actor_label: str
    actor_user_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, object] | None
    after: dict[str, object] | None
