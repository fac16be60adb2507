"""The errors the Intercom client raises; no HTTP here, so any module may import them."""

from __future__ import annotations


class IntercomError(RuntimeError):
    """A request Intercom answered with an error the client will not retry."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        code: str | None = None,
        link: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.link = link  # the Link header: a merged contact's canonical address (410)


class IntercomAuthError(IntercomError):
    """401: the token is missing, invalid or revoked, or belongs to another region."""


class IntercomPermissionError(IntercomError):
    """403: the token lacks a permission or the workspace's plan lacks the module."""


class PaginationLoop(IntercomError):
    """A paginated walk the server would never end; never retried, never restarted."""


class NotIntercom(IntercomError):
    """The base URL answers, but not as Intercom's API does (an HTML page, for one)."""
