"""Routes a request to its Intercom operation, free of any HTTP server.

`Router.handle(request)` finds the operation among the `ROUTES` of the modules in `routes/`,
refuses it when its Intercom module is plan-restricted, and runs it under the workspace lock.
Transport concerns (authentication, the version header, rate limits, faults) live in `server.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from intercom_sandbox.errors import ApiError, not_found
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.routes import (
    admins,
    companies,
    contacts,
    conversations,
    data_attributes,
    events,
    help_center,
    messages,
    segments,
    tags,
    teams,
    tickets,
)
from intercom_sandbox.routes.common import Handler
from intercom_sandbox.state import ApiState
from intercom_sandbox.workspace import Workspace

ROUTE_MODULES = (
    admins,
    teams,
    tags,
    segments,
    data_attributes,
    help_center,
    companies,
    contacts,
    conversations,
    tickets,
    events,
    messages,
)


@dataclass(frozen=True)
class Route:
    """One operation: the method and path it answers, and its handler."""

    method: str
    path: str  # the pattern as declared, e.g. /contacts/(?P<id>[^/]+)
    module: str  # the Intercom module, which a plan may restrict
    handler: Handler
    regex: re.Pattern[str]  # the pattern, a trailing slash allowed


class Router:
    """The operations the sandbox serves, each as in the v2.16 spec, over one `ApiState`."""

    def __init__(self, workspace: Workspace, scroll_expiry_seconds: float = 60.0) -> None:
        self.state = ApiState(workspace, scroll_expiry_seconds)
        self.routes = [
            Route(method, path, module, handler, re.compile(path + r"/?"))
            for route_module in ROUTE_MODULES
            for method, path, module, handler in route_module.ROUTES
        ]

    def modules(self) -> set[str]:
        """The Intercom modules the routes belong to: what `restricted_modules` may name."""
        return {route.module for route in self.routes}

    def route(self, method: str, path: str) -> tuple[Route, re.Match[str]] | None:
        """The route for a method and path, and its match; None for an unknown path."""
        allowed = False
        for route in self.routes:
            match = route.regex.fullmatch(path)
            if match:
                if route.method == method:
                    return route, match
                allowed = True
        if allowed:  # Intercom answers an unsupported method with 404
            raise not_found("Resource Not Found")
        return None

    def handle(self, request: Request) -> Response:
        found = self.route(request.method, request.path)
        if found is None:
            raise not_found("Resource Not Found")
        route, match = found
        if route.module in self.state.restricted_modules:
            raise ApiError(403, "api_plan_restricted", "Active subscription needed.")
        with self.state.ws.lock:
            return route.handler(self.state, replace(request, params=match.groupdict()))
