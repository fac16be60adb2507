"""The survey message: built from the settings' template, validated before anything is sent."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from intercom_pipeline.activation.surveys.conversations import ConversationFacts
from intercom_pipeline.activation.surveys.settings import SurveySettings


class InvalidRequest(ValueError):
    """The request cannot be sent as configured; the message says what to change."""


def build_message(facts: ConversationFacts, settings: SurveySettings) -> dict[str, Any]:
    """POST /messages body: on the channel the conversation began on, from the sender admin.

    Raises:
        InvalidRequest: no sender is configured, or a template has an unknown placeholder.
    """
    if not settings.sender_admin_id:
        raise InvalidRequest(
            "SURVEY_SENDER_ADMIN_ID is not set: give the id of the teammate the survey comes from"
        )
    values = {
        "conversation_id": facts.conversation_id,
        "contact_id": facts.contact_id or "",
        "contact_name": facts.contact_name or "there",
    }
    # The templates are the operator's HTML; the values come from customers (a name is whatever
    # they typed), so they are quoted in the link and escaped in the body.
    in_url = {key: quote(value, safe="") for key, value in values.items()}
    in_html = {key: html.escape(value) for key, value in values.items()}
    try:
        url = settings.survey_url.format(**in_url)
        body = settings.message.format(survey_url=html.escape(url), **in_html)
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidRequest(
            f"SURVEY_URL or SURVEY_MESSAGE has a placeholder that is not known ({exc}): use "
            "{conversation_id}, {contact_id}, {contact_name} and, in the message, {survey_url}"
        ) from None
    message: dict[str, Any] = {
        "message_type": "email" if facts.channel == "email" else "in_app",
        "body": body,
        "template": "plain",
        "from": {"type": "admin", "id": settings.sender_admin_id},
        "to": {"type": facts.contact_type or "user", "id": facts.contact_id},
    }
    if facts.channel == "email":
        message["subject"] = settings.subject
    return message
