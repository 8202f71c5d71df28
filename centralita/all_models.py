"""Imports every domain's models so ``Base.metadata`` knows all tables (for Alembic and tests)."""

from centralita.api import models as api_models
from centralita.automation import models as automation_models
from centralita.callbacks import models as callbacks_models
from centralita.campaigns import models as campaigns_models
from centralita.channels import models as channels_models
from centralita.channels.email import models as email_models
from centralita.customers import models as customers_models
from centralita.db.base import Base
from centralita.events import models as events_models
from centralita.events import outbox  # noqa: F401 - records committed events durably
from centralita.identity import models as identity_models
from centralita.interactions import models as interactions_models
from centralita.jobs import models as jobs_models
from centralita.knowledge import models as knowledge_models
from centralita.lifecycle import models as lifecycle_models
from centralita.nlu import models as nlu_models
from centralita.outbound import models as outbound_models
from centralita.quality import models as quality_models
from centralita.reporting import models as reporting_models
from centralita.routing import models as routing_models
from centralita.sla import models as sla_models
from centralita.surveys import models as surveys_models
from centralita.tenancy import models as tenancy_models
from centralita.tickets import models as tickets_models
from centralita.webhooks import models as webhooks_models
from centralita.wfm import models as wfm_models

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
    channels_models,
    nlu_models,
    email_models,
    wfm_models,
    webhooks_models,
    outbound_models,
    callbacks_models,
    automation_models,
    surveys_models,
    reporting_models,
    quality_models,
    knowledge_models,
    lifecycle_models,
    campaigns_models,
)

metadata = Base.metadata
