"""The connected workspaces: a client each, and what the current run found about each."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import dlt

from intercom_pipeline.settings import IntercomSettings, Secret
from intercom_pipeline.sources.intercom.client import IntercomClient


@dataclass
class Workspace:
    """One Intercom workspace: its client, its app id (asked of GET /me once).

    Also what the current run found about it (see `start_run`).
    """

    client: IntercomClient
    name: str = "default"
    # Tables skipped because the workspace's plan lacks their module (403 api_plan_restricted).
    modules_unavailable: set[str] = field(default_factory=set)
    # Tables whose deletions were refused as implausible: table -> {"missing", "stored"}.
    deletions_refused: dict[str, dict[str, int]] = field(default_factory=dict)
    # Marker rows yielded per link table (`helpers.with_parent_markers`): never stored.
    parent_markers: Counter[str] = field(default_factory=Counter)

    @cached_property
    def workspace_id(self) -> str:
        return str(self.client.request("GET", "/me")["app"]["id_code"])

    def start_run(self) -> None:
        """Forget what an earlier run found: each run reports its own."""
        self.modules_unavailable.clear()
        self.deletions_refused.clear()
        self.parent_markers.clear()


def connect(workspaces: list[IntercomSettings], **client_options: Any) -> list[Workspace]:
    """Clients for the configured workspaces (the token may also come from dlt secrets)."""
    connected = []
    for configured in workspaces:
        settings = configured
        if not settings.access_token and settings.name == "default":
            token = dlt.secrets.get("sources.intercom.access_token")
            if token:
                settings = replace(settings, access_token=Secret(token))
        connected.append(Workspace(IntercomClient(settings, **client_options), settings.name))
    return connected


def workspace_of(connected: list[Workspace], workspace_id: str) -> Workspace:
    """The connected workspace a row came from, by the row's `workspace_id`."""
    return next(ws for ws in connected if ws.workspace_id == workspace_id)
