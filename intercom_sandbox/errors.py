"""The one exception the sandbox's handlers raise: it becomes Intercom's `error.list` response."""

from __future__ import annotations


class ApiError(Exception):
    """An Intercom error response: HTTP status, `errors[].code`, message and extra headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def not_found(message: str = "Resource Not Found", code: str = "not_found") -> ApiError:
    return ApiError(404, code, message)
