"""Domain errors. Each carries its HTTP status; one handler renders them as problem+json."""

from dataclasses import dataclass, field


@dataclass
class FieldError:
    """One invalid input: ``field`` is a dotted path into the request (``body.phone``)."""

    field: str
    message: str


@dataclass
class DomainError(Exception):
    detail: str
    status: int = 400
    title: str = "Bad request"
    code: str = "bad-request"
    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return self.detail


class NotFound(DomainError):
    def __init__(self, detail: str = "Not found") -> None:
        super().__init__(detail, 404, "Not found", "not-found")


class Conflict(DomainError):
    def __init__(self, detail: str, code: str = "conflict") -> None:
        super().__init__(detail, 409, "Conflict", code)


class InvalidInput(DomainError):
    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail, 422, "Invalid input", "validation-error", errors or [])

    @classmethod
    def on_field(cls, field_path: str, message: str) -> "InvalidInput":
        return cls(message, [FieldError(field_path, message)])


class Unauthorized(DomainError):
    def __init__(self, detail: str = "Authentication required") -> None:
        super().__init__(detail, 401, "Unauthorized", "unauthorized")


class Forbidden(DomainError):
    def __init__(self, detail: str = "You may not do this") -> None:
        super().__init__(detail, 403, "Forbidden", "forbidden")


class RateLimited(DomainError):
    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail, 429, "Too many requests", "rate-limited")
        self.retry_after_s = retry_after_s
