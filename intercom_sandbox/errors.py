"""The one exception the sandbox's handlers raise: it becomes Intercom's `error.list` response."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar


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


class _HasId(Protocol):
    @property
    def id(self) -> object: ...


T = TypeVar("T")
WithId = TypeVar("WithId", bound=_HasId)


def found_or_404(
    found: T | None, message: str = "Resource Not Found", code: str = "not_found"
) -> T:
    """`found`, or Intercom's 404 when the id in the path named nothing."""
    if found is None:
        raise not_found(message, code)
    return found


def with_id(items: Iterable[WithId], wanted: str) -> WithId | None:
    """The item whose id (as text) is `wanted`, from a list the workspace keeps no index of."""
    return next((item for item in items if str(item.id) == wanted), None)
