"""Messages: POST /messages, an admin's in-app message or email to one contact."""

from __future__ import annotations

from typing import Any

from intercom_sandbox import render
from intercom_sandbox.errors import ApiError
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.model import Admin, Contact, Message
from intercom_sandbox.routes.common import RouteSpec, find_contact
from intercom_sandbox.state import ApiState
from intercom_sandbox.workspace import Workspace


def create_message(state: ApiState, request: Request) -> Response:
    """POST /messages: stored (no conversation yet) and answered as an `admin_message`."""
    ws = state.ws
    body = request.json_object()
    message_type = _checked_type(body)
    admin = _sender(ws, body)
    contact = _recipient(ws, body, message_type)
    message = Message(
        id=str(400_000_000 + len(ws.messages) + 1),
        message_type=message_type,
        created_at=ws.now,
        subject=body.get("subject"),
        body=str(body["body"]),
        admin_id=admin.id,
        contact_id=contact.id,
        conversation_id=None,
    )
    ws.messages.append(message)
    ws.changed()
    response: dict[str, Any] = {
        "type": "admin_message",
        "id": message.id,
        "created_at": message.created_at,
        "body": message.body,
        "message_type": "email" if message_type == "email" else "inapp",
        "owner": render.admin(admin),
    }
    if message.subject:
        response["subject"] = message.subject
    return Response(200, response)


def _checked_type(body: dict[str, Any]) -> str:
    """The message type, once the body has what that type needs."""
    message_type = body.get("message_type", "in_app")
    if message_type not in ("in_app", "email"):
        raise ApiError(
            400,
            "parameter_invalid",
            f"message_type must be in_app or email, got {message_type!r}",
        )
    if not body.get("body"):
        raise ApiError(400, "parameter_invalid", "Body is required")
    if message_type == "email" and not body.get("subject"):
        raise ApiError(422, "parameter_not_found", "No subject supplied for email message")
    return message_type


def _sender(ws: Workspace, body: dict[str, Any]) -> Admin:
    sender = body.get("from") or {}
    if (
        not isinstance(sender, dict)
        or sender.get("type") != "admin"
        or str(sender.get("id")) not in ws.admin_by_id
    ):
        raise ApiError(
            422,
            "parameter_invalid",
            'from must be {"type": "admin", "id": <an admin id of this workspace>}',
        )
    return ws.admin_by_id[str(sender["id"])]


def _recipient(ws: Workspace, body: dict[str, Any], message_type: str) -> Contact:
    """The one contact `to` names (an object, or a list of one); email needs a subscriber."""
    recipient = body.get("to") or {}
    if isinstance(recipient, list):
        recipient = recipient[0] if len(recipient) == 1 else {}
    if not isinstance(recipient, dict) or recipient.get("type") not in ("user", "lead", "contact"):
        raise ApiError(
            422, "parameter_invalid", 'to must be {"type": "user"|"lead", "id": <contact id>}'
        )
    contact = find_contact(ws, str(recipient.get("id")))
    if message_type == "email" and contact.unsubscribed_from_emails:
        raise ApiError(422, "parameter_invalid", "The recipient has unsubscribed from emails")
    return contact


ROUTES: tuple[RouteSpec, ...] = (("POST", r"/messages", "messages", create_message),)
