import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from centralita.api.deps import Paging, TenantContext, require
from centralita.campaigns import consent, service, targets
from centralita.campaigns.models import (
    CampaignImport,
    ConsentSource,
    ContactStatus,
)
from centralita.campaigns.schemas import (
    CampaignCreate,
    CampaignOut,
    ConsentIn,
    ConsentOut,
    ContactOut,
    ImportOut,
    ResultsOut,
)
from centralita.campaigns.texts import CAMPAIGN_STATES, CONTACT_STATES, FIX, IMPORTED
from centralita.config import Settings
from centralita.customers.service import IdentityRules, get_customer
from centralita.db.scoping import use_system_scope
from centralita.errors import DomainError, NotFound
from centralita.i18n import TRANSLATIONS
from centralita.identity.permissions import Permission
from centralita.web.desk import SCRIPT_TEXTS, tenant_for
from centralita.web.pages import AnyPage, SignedInPage, page_router, render, requested_locale

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}", tags=["campaigns"])
pages = page_router()

CampaignsManage = Annotated[TenantContext, Depends(require(Permission.CAMPAIGNS_MANAGE))]
CustomersRead = Annotated[TenantContext, Depends(require(Permission.CUSTOMERS_READ))]
CustomersWrite = Annotated[TenantContext, Depends(require(Permission.CUSTOMERS_WRITE))]

CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
    }
}
# The page holds a capability in its URL: nothing loads from elsewhere and no referrer leaks it.
PAGE_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "referrer-policy": "no-referrer",
}


class UploadTooLarge(DomainError):
    def __init__(self) -> None:
        limit = targets.MAX_UPLOAD_BYTES // (1024 * 1024)
        super().__init__(
            f"The file is larger than {limit} MB", 413, "Content Too Large", "too-large"
        )


def links(settings: Settings) -> consent.UnsubscribeLinks:
    return consent.UnsubscribeLinks(settings.secret_key, settings.public_url)


@router.get("/campaigns", response_model=list[CampaignOut])
async def list_campaigns(ctx: CampaignsManage) -> list[CampaignOut]:
    return [CampaignOut.model_validate(c) for c in await service.list_campaigns(ctx.session)]


@router.post("/campaigns", status_code=201, response_model=CampaignOut)
async def create_campaign(data: CampaignCreate, ctx: CampaignsManage) -> CampaignOut:
    campaign = await service.create_campaign(ctx.session, ctx.actor, ctx.tenant_id, data)
    return CampaignOut.model_validate(campaign)


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
async def get_campaign(campaign_id: uuid.UUID, ctx: CampaignsManage) -> CampaignOut:
    return CampaignOut.model_validate(await service.get_campaign(ctx.session, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/targets",
    status_code=201,
    response_model=ImportOut,
    openapi_extra=CSV_BODY,
    description="Upload the target list as CSV (the request body). Good rows are imported; "
    "the answer lists each refused row with its reasons. While it runs, the import's progress "
    "(bytes and rows read) shows in GET .../imports.",
)
async def upload_targets(
    campaign_id: uuid.UUID,
    request: Request,
    ctx: CampaignsManage,
    filename: Annotated[str, Query(min_length=1, max_length=200)] = "targets.csv",
) -> ImportOut:
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > targets.MAX_UPLOAD_BYTES:
            raise UploadTooLarge()
    settings: Settings = request.app.state.settings

    async def committed(record: CampaignImport) -> None:
        # Progress is seen by other requests (the page's progress bar) as the import goes.
        await ctx.session.commit()

    record = await targets.import_targets(
        ctx.session,
        ctx.actor,
        ctx.tenant,
        campaign_id,
        filename,
        bytes(data),
        IdentityRules.for_tenant(ctx.tenant, settings.secret_key),
        committed,
    )
    return ImportOut.model_validate(record)


@router.get("/campaigns/{campaign_id}/imports", response_model=list[ImportOut])
async def list_imports(campaign_id: uuid.UUID, ctx: CampaignsManage) -> list[ImportOut]:
    return [ImportOut.model_validate(i) for i in await targets.imports_of(ctx.session, campaign_id)]


@router.post("/campaigns/{campaign_id}/start", response_model=CampaignOut)
async def start_campaign(campaign_id: uuid.UUID, ctx: CampaignsManage) -> CampaignOut:
    campaign = await service.start_campaign(ctx.session, ctx.actor, campaign_id)
    return CampaignOut.model_validate(campaign)


@router.post("/campaigns/{campaign_id}/pause", response_model=CampaignOut)
async def pause_campaign(campaign_id: uuid.UUID, ctx: CampaignsManage) -> CampaignOut:
    campaign = await service.pause_campaign(ctx.session, ctx.actor, campaign_id)
    return CampaignOut.model_validate(campaign)


@router.get("/campaigns/{campaign_id}/results", response_model=ResultsOut)
async def campaign_results(
    campaign_id: uuid.UUID,
    ctx: CampaignsManage,
    paging: Paging,
    status: ContactStatus | None = None,
) -> ResultsOut:
    found = await service.results(
        ctx.session, campaign_id, status=status, cursor=paging.cursor, limit=paging.limit
    )
    return ResultsOut(
        campaign=CampaignOut.model_validate(found.campaign),
        totals=found.totals,
        skipped_by_reason=found.skipped_by_reason,
        contacts=[ContactOut.model_validate(c) for c in found.contacts.items],
        next_cursor=found.contacts.next_cursor,
    )


@router.get("/customers/{customer_id}/consents", response_model=list[ConsentOut])
async def list_consents(customer_id: uuid.UUID, ctx: CustomersRead) -> list[ConsentOut]:
    customer = await get_customer(ctx.session, customer_id)
    return [
        ConsentOut.model_validate(c) for c in await consent.consents_of(ctx.session, customer.id)
    ]


@router.put("/customers/{customer_id}/consents", response_model=ConsentOut)
async def record_consent(
    customer_id: uuid.UUID, data: ConsentIn, ctx: CustomersWrite
) -> ConsentOut:
    customer = await get_customer(ctx.session, customer_id)
    row = await consent.set_consent(
        ctx.session,
        ctx.actor,
        customer,
        data.channel,
        granted=data.granted,
        source=ConsentSource.API,
        detail=data.detail,
    )
    return ConsentOut.model_validate(row)


# --- the administrators' page ------------------------------------------------------------------


@pages.get("/admin/campaigns")
async def campaigns_page(
    page: SignedInPage, tenant: Annotated[str, Query(min_length=1, max_length=100)]
) -> Response:
    found = await tenant_for(page, tenant, Permission.CAMPAIGNS_MANAGE)
    campaigns = await service.list_campaigns(page.session)
    text = TRANSLATIONS[page.locale].gettext
    script_texts = {
        "error": text(SCRIPT_TEXTS["error"]),
        "fix": text(FIX),
        "imported": text(IMPORTED),
        "states": {str(k): text(v) for k, v in CAMPAIGN_STATES.items()},
        "statuses": {str(k): text(v) for k, v in CONTACT_STATES.items()},
    }
    await use_system_scope(page.session)
    return page.render(
        "campaigns.html",
        {
            "tenant": found,
            "campaigns": campaigns,
            "status_names": CAMPAIGN_STATES,
            "script_texts": script_texts,
        },
    )


# --- the customer's unsubscribe page and RFC 8058 one-click ------------------------------------


def _page(page: AnyPage, state: str, status: int = 200) -> HTMLResponse:
    locale = requested_locale(page.request) or page.locale
    context = {"state": state, "action": page.request.url.path}
    return render(
        page.request,
        page.settings,
        locale,
        "unsubscribe.html",
        context,
        status_code=status,
        headers=PAGE_HEADERS,
    )


@pages.get("/u/{tenant_slug}/{token}")
async def unsubscribe_page(tenant_slug: str, token: str, page: AnyPage) -> HTMLResponse:
    """Asks before it acts: mail scanners follow links, and a GET must change nothing."""
    try:
        await consent.check_link(page.session, links(page.settings), tenant_slug, token)
    except NotFound:
        return _page(page, "invalid", 404)
    return _page(page, "ask")


@pages.post("/u/{tenant_slug}/{token}")
async def unsubscribe(tenant_slug: str, token: str, page: AnyPage) -> HTMLResponse:
    """The page's button, and the mail client's one-click POST (``List-Unsubscribe=One-Click``)."""
    form = await page.request.form()
    one_click = form.get("List-Unsubscribe") == "One-Click"
    try:
        await consent.unsubscribe(
            page.session, links(page.settings), tenant_slug, token, one_click=one_click
        )
    except NotFound:
        return _page(page, "invalid", 404)
    return _page(page, "done")
