import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from centralita import i18n
from centralita.api.deps import Paging, TenantContext, require
from centralita.config import Settings
from centralita.errors import InvalidInput, NotFound
from centralita.identity.permissions import Permission
from centralita.interactions.models import Channel
from centralita.routing.service import list_queues
from centralita.schemas import Page
from centralita.surveys import answers, service
from centralita.surveys.schemas import ResponseOut, ResultsOut, SurveyCreate, SurveyOut
from centralita.surveys.texts import INVITATION_SUBJECT
from centralita.web.admin import open_section, render_section
from centralita.web.pages import AnyPage, SignedInPage, page_router, render, requested_locale

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}", tags=["surveys"])
pages = page_router()

SurveysRead = Annotated[TenantContext, Depends(require(Permission.REPORTS_READ))]
SurveysManage = Annotated[TenantContext, Depends(require(Permission.SURVEYS_MANAGE))]

# The form page holds a capability in its URL: nothing loads from elsewhere, nothing runs, the
# address is never sent on as a referrer, and the form posts only back here.
FORM_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "referrer-policy": "no-referrer",
}


def links(settings: Settings) -> service.SurveyLinks:
    return service.SurveyLinks(settings.secret_key, settings.public_url)


@router.get("/surveys", response_model=list[SurveyOut])
async def list_surveys(ctx: SurveysManage) -> list[SurveyOut]:
    """In the order they are tried: a contact gets the first active survey that follows it."""
    return [SurveyOut.model_validate(s) for s in await service.list_surveys(ctx.session)]


@router.post("/surveys", status_code=201, response_model=SurveyOut)
async def create_survey(data: SurveyCreate, ctx: SurveysManage) -> SurveyOut:
    survey = await service.create_survey(ctx.session, ctx.actor, ctx.tenant_id, data)
    return SurveyOut.model_validate(survey)


@router.get("/surveys/{survey_id}", response_model=SurveyOut)
async def get_survey(survey_id: uuid.UUID, ctx: SurveysManage) -> SurveyOut:
    return SurveyOut.model_validate(await service.get_survey(ctx.session, survey_id))


@router.put("/surveys/{survey_id}", response_model=SurveyOut)
async def replace_survey(survey_id: uuid.UUID, data: SurveyCreate, ctx: SurveysManage) -> SurveyOut:
    survey = await service.replace_survey(ctx.session, ctx.actor, survey_id, data)
    return SurveyOut.model_validate(survey)


@router.delete("/surveys/{survey_id}", status_code=204)
async def delete_survey(survey_id: uuid.UUID, ctx: SurveysManage) -> Response:
    await service.delete_survey(ctx.session, ctx.actor, survey_id)
    return Response(status_code=204)


@router.get("/survey-responses", response_model=Page[ResponseOut])
async def list_responses(
    ctx: SurveysRead,
    paging: Paging,
    customer_id: uuid.UUID | None = None,
    agent_id: uuid.UUID | None = None,
    queue: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[ResponseOut]:
    """Answers, newest first: a customer's (the 360's latest), an agent's or a queue's."""
    page = await answers.responses_page(
        ctx.session,
        customer_id=customer_id,
        agent_id=agent_id,
        queue=queue,
        cursor=paging.cursor,
        limit=paging.limit,
    )
    return Page(
        items=[ResponseOut.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/survey-results", response_model=ResultsOut)
async def survey_results(
    ctx: SurveysRead,
    since: datetime | None = None,
    agent_id: uuid.UUID | None = None,
    queue: Annotated[str | None, Query(max_length=100)] = None,
) -> ResultsOut:
    """CSAT and NPS as KPI.md defines them, per queue or agent if asked."""
    measured = await answers.results(ctx.session, since=since, agent_id=agent_id, queue=queue)
    return ResultsOut(**measured)


# --- the customer's form -----------------------------------------------------------------------


def _closed(page: AnyPage, locale: str, status: int, state: str) -> HTMLResponse:
    """The page for a link that cannot be answered (state "gone" or "invalid") or was ("thanks")."""
    return render(
        page.request,
        page.settings,
        locale,
        "survey_closed.html",
        {"state": state},
        status_code=status,
        headers=FORM_HEADERS,
    )


def _form(
    page: AnyPage,
    opened: answers.OpenInvitation,
    locale: str,
    form: dict[str, str],
    errors: set[str],
) -> HTMLResponse:
    survey = opened.survey
    text = i18n.TRANSLATIONS[locale].gettext

    def translated(labels: dict[str, str]) -> str:
        return labels.get(locale) or next(iter(labels.values()), "")

    questions = [
        {
            **q,
            "name": f"q_{q['key']}",
            "label": translated(q["label"]),
            "choices": [
                {"value": c["value"], "label": translated(c["label"])} for c in q["choices"]
            ],
        }
        for q in survey.questions
    ]
    return render(
        page.request,
        page.settings,
        locale,
        "survey.html",
        {
            "title": translated(survey.title) or text(INVITATION_SUBJECT),
            "survey": survey,
            "questions": questions,
            "action": page.request.url.path,
            "form": form,
            "errors": errors,
        },
        status_code=422 if errors else 200,
        headers=FORM_HEADERS,
    )


async def _open(page: AnyPage, tenant_slug: str, token: str, lock: bool) -> answers.OpenInvitation:
    return await answers.open_invitation(
        page.session, links(page.settings), tenant_slug, token, lock=lock
    )


@pages.get("/s/{tenant_slug}/{token}")
async def survey_form(tenant_slug: str, token: str, page: AnyPage) -> HTMLResponse:
    locale = requested_locale(page.request) or page.locale
    try:
        opened = await _open(page, tenant_slug, token, lock=False)
    except NotFound:
        return _closed(page, locale, 404, "invalid")
    except service.LinkGone:
        return _closed(page, locale, 410, "gone")
    locale = requested_locale(page.request) or opened.invitation.language
    return _form(page, opened, locale, {}, set())


@pages.post("/s/{tenant_slug}/{token}", response_model=None)
async def survey_answer(
    tenant_slug: str, token: str, page: AnyPage
) -> HTMLResponse | RedirectResponse:
    locale = requested_locale(page.request) or page.locale
    try:
        opened = await _open(page, tenant_slug, token, lock=True)
    except NotFound:
        return _closed(page, locale, 404, "invalid")
    except service.LinkGone:
        return _closed(page, locale, 410, "gone")
    locale = requested_locale(page.request) or opened.invitation.language
    raw = await page.request.form()
    form = {name: value for name, value in raw.items() if isinstance(value, str)}
    try:
        await answers.answer(page.session, opened, form, locale)
    except InvalidInput as exc:
        fields = {error.field.removeprefix("form.") for error in exc.errors}
        return _form(page, opened, locale, form, fields)
    return _closed(page, locale, 200, "thanks")


# --- the administration section --------------------------------------------------------------


@pages.get("/admin/surveys")
async def surveys_section(
    page: SignedInPage,
    tenant: Annotated[str, Query(max_length=100)],
    survey: uuid.UUID | None = None,
) -> Response:
    """The tenant's surveys in the order they are tried, and the form for a new one or for the
    one opened."""
    found, tenants = await open_section(page, tenant)
    surveys = await service.list_surveys(page.session)
    chosen = next((s for s in surveys if s.id == survey), None)
    if survey is not None and chosen is None:
        raise NotFound("Survey not found")
    queues = [view.queue.name for view in await list_queues(page.session)]
    return await render_section(
        page,
        found,
        tenants,
        "surveys",
        "admin_surveys.html",
        {
            "surveys": surveys,
            "chosen": chosen,
            "queue_names": queues,
            "channels": [c.value for c in Channel],
            "locales": i18n.LOCALES,
        },
    )
