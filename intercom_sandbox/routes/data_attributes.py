"""Data attributes: GET /data_attributes, and POST /data_attributes for a custom attribute."""

from __future__ import annotations

import re
from typing import Any

from intercom_sandbox import render
from intercom_sandbox.errors import ApiError
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.model import DataAttribute
from intercom_sandbox.routes.common import RouteSpec
from intercom_sandbox.state import ApiState

ATTRIBUTE_NAME = re.compile(r"^[\w\- $€£¥]+$")
ATTRIBUTE_TYPES = ("string", "integer", "float", "boolean", "datetime", "date", "options")


def list_data_attributes(state: ApiState, request: Request) -> Response:
    model = request.query.get("model")
    if model == "conversation":
        raise ApiError(
            422,
            "parameter_invalid",
            "model=conversation is no longer supported. Use GET /conversations/attributes instead",
        )
    if model not in (None, "contact", "company"):
        raise ApiError(400, "parameter_invalid", f"model must be contact or company, got {model!r}")
    archived = request.query.get("include_archived") == "true"
    data = [
        render.data_attribute(a)
        for a in state.ws.data_attributes
        if (model is None or a.model == model) and (archived or not a.archived)
    ]
    return Response(200, {"type": "list", "data": data})


def create_data_attribute(state: ApiState, request: Request) -> Response:
    """POST /data_attributes: checked as Intercom checks it; an `options` type is a string."""
    ws = state.ws
    body = request.json_object()
    name, model, data_type = body.get("name"), body.get("model"), body.get("data_type")
    _check_definition(name, model, data_type)
    options = _options(body.get("options")) if data_type == "options" else []
    if any(a.model == model and a.name == name for a in ws.data_attributes):
        raise ApiError(
            400,
            "parameter_invalid",
            f"You already have '{name}' in your {model} data. To save this as new {model} data, use a different name.",
        )
    attribute = DataAttribute(
        model=model,
        name=name,
        full_name=f"custom_attributes.{name}",
        label=name,
        description=str(body.get("description") or ""),
        data_type="string" if data_type == "options" else data_type,
        custom=True,
        created_at=ws.now,
        updated_at=ws.now,
        id=max((a.id or 0) for a in ws.data_attributes) + 1,
        options=options,
        messenger_writable=bool(body.get("messenger_writable", False)),
        admin_id=ws.admins[0].id,
    )
    ws.data_attributes.append(attribute)
    ws.changed()
    return Response(200, render.data_attribute(attribute))


def _check_definition(name: Any, model: Any, data_type: Any) -> None:
    if model not in ("contact", "company"):
        raise ApiError(
            400,
            "parameter_invalid",
            "The Data Attribute model field must be either contact or company",
        )
    if not isinstance(name, str) or not name.strip() or not ATTRIBUTE_NAME.match(name):
        raise ApiError(
            400,
            "parameter_invalid",
            "Your name for this attribute must only contain alphanumeric characters, currency symbols, and hyphens",
        )
    if data_type not in ATTRIBUTE_TYPES:
        raise ApiError(400, "parameter_invalid", "Data Type isn't an option")


def _options(raw: Any) -> list[str]:
    """The values of an `options` attribute: `{"value": ...}` objects or plain values."""
    if not isinstance(raw, list) or len(raw) < 2:
        raise ApiError(
            400,
            "parameter_invalid",
            'options needs at least 2 entries like {"value": "..."}',
        )
    return [str(o.get("value")) if isinstance(o, dict) else str(o) for o in raw]


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/data_attributes", "data_attributes", list_data_attributes),
    ("POST", r"/data_attributes", "data_attributes", create_data_attribute),
)
