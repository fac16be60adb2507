"""The help center's content: help centers, collections and articles, read whole every run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from intercom_pipeline.sources.intercom import helpers
from intercom_pipeline.sources.intercom.hints import merged
from intercom_pipeline.sources.intercom.reading import per_workspace
from intercom_pipeline.sources.intercom.settings import PAGE_SIZE
from intercom_pipeline.sources.intercom.workspace import Workspace


def resources(connected: list[Workspace]) -> list[DltResource]:
    """The help center tables' resources."""
    return [
        dlt.resource(per_workspace(connected, help_centers), **merged("help_centers", "id")),
        dlt.resource(per_workspace(connected, collections), **merged("collections", "id")),
        dlt.resource(per_workspace(connected, articles), **merged("articles", "id")),
    ]


def help_centers(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
    """Help centers (GET /help_center/help_centers)."""
    body = ws.client.request("GET", "/help_center/help_centers")
    yield [helpers.shape("help_centers", h, ws.workspace_id) for h in body["data"]]


def collections(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
    """Help center collections and sections (GET /help_center/collections)."""
    yield [
        helpers.shape("collections", c, ws.workspace_id)
        for c in ws.client.numbered_pages("/help_center/collections", per_page=PAGE_SIZE)
    ]


def articles(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
    """Help center articles (GET /articles)."""
    yield [
        helpers.shape("articles", a, ws.workspace_id)
        for a in ws.client.numbered_pages("/articles", per_page=PAGE_SIZE)
    ]
