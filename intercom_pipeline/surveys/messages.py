"""The survey message: built from the settings' template, validated before anything is sent."""

from __future__ import annotations

from typing import Any

from intercom_pipeline.surveys.conversations import ConversationFacts
from intercom_pipeline.surveys.settings import SurveySettings


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
        "contact_id": facts.contact_id,
        "contact_name": facts.contact_name or "there",
    }
    try:
        url = settings.survey_url.format(**values)
        body = settings.message.format(survey_url=url, **values)
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
