"""RFC 9457 ``application/problem+json`` for every error the API returns."""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from centralita.errors import DomainError, FieldError, RateLimited

PROBLEM_TYPE_BASE = "https://centralita.dev/problems/"
MEDIA_TYPE = "application/problem+json"
API_PREFIX = "/api/"


def problem_response(
    status: int,
    title: str,
    detail: str,
    code: str,
    instance: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = [
            {"field": e.field, "pointer": _json_pointer(e.field), "detail": e.message}
            for e in errors
        ]
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _json_pointer(field_path: str) -> str:
    parts = field_path.split(".")
    if parts and parts[0] == "body":
        parts = parts[1:]
    return "#/" + "/".join(parts)


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error.get("loc", ()))
        errors.append(FieldError(path or "body", str(error.get("msg", "invalid"))))
    return errors


HtmlErrorPage = Callable[[Request, Exception], Awaitable[Response]]


def install(app: FastAPI, html_error_page: HtmlErrorPage | None = None) -> None:
    """Render errors as problem+json; outside ``/api``, HTTP errors such as an unknown URL get
    ``html_error_page`` instead when one is given, since a person in a browser asked."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        headers = None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return problem_response(
            exc.status, exc.title, exc.detail, exc.code, request.url.path, exc.errors, headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return problem_response(
            422, "Invalid input", detail, "validation-error", request.url.path, errors
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if html_error_page is not None and not request.url.path.startswith(API_PREFIX):
            return await html_error_page(request, exc)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem_response(
            exc.status_code,
            title,
            str(exc.detail),
            title.lower().replace(" ", "-"),
            request.url.path,
            headers=getattr(exc, "headers", None),
        )
