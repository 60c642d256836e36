"""Domain errors. Each carries a stable machine code; the web layer turns codes into messages."""


class DomainError(Exception):
    """Base class: `code` is stable (used by the API and for translated messages)."""

    code = "error"
    status = 400

    def __init__(self, code: str | None = None, detail: str = "", **params: object) -> None:
        self.code = code or self.code
        self.detail = detail
        self.params = params
        super().__init__(f"{self.code}: {detail}" if detail else self.code)


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Invalid(DomainError):
    code = "invalid"
    status = 400


class Conflict(DomainError):
    code = "conflict"
    status = 409


class LimitReached(DomainError):
    code = "limit_reached"
    status = 429


class OutOfScope(DomainError):
    """A region-scoped account aimed at an object outside its region (checked inside the
    transaction that would change it)."""

    code = "out_of_scope"
    status = 403
