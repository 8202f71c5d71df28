"""Imports every domain's models so ``Base.metadata`` knows all tables (for Alembic and tests)."""

from centralita.api import models as api_models
from centralita.customers import models as customers_models
from centralita.db.base import Base
from centralita.events import models as events_models
from centralita.identity import models as identity_models
from centralita.interactions import models as interactions_models
from centralita.jobs import models as jobs_models
from centralita.knowledge import models as knowledge_models
from centralita.routing import models as routing_models
from centralita.sla import models as sla_models
from centralita.tenancy import models as tenancy_models
from centralita.tickets import models as tickets_models

MODEL_MODULES = (
    tenancy_models,
    identity_models,
    events_models,
    api_models,
    customers_models,
    interactions_models,
    jobs_models,
    routing_models,
    sla_models,
    tickets_models,
    knowledge_models,
)

metadata = Base.metadata
