"""The request and response the operations exchange, free of any HTTP server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from intercom_sandbox.errors import ApiError

INTERCOM_BASE_URL = "https://api.intercom.io"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # The path's named parts (`{"id": ...}`), filled in by the router when a route matches.
    params: dict[str, str] = field(default_factory=dict)
    # Where the request was sent, for the URLs an answer gives (`pages.next` of some lists).
    base_url: str = INTERCOM_BASE_URL

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(
                400, "parameter_invalid", f"Request body is not valid JSON: {exc}"
            ) from exc

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise ApiError(400, "parameter_invalid", "Request body must be a JSON object")
        return body


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
