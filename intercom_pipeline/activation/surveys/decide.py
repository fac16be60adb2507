"""Whether a closed conversation gets a survey: the suppression rules, as one pure function."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from intercom_pipeline.activation.surveys.conversations import Closure, ConversationFacts
from intercom_pipeline.activation.surveys.settings import SurveySettings

SEND, WAIT, DO_NOT_SEND = "send", "wait", "do_not_send"


@dataclass(frozen=True)
class History:
    """What the request log knows about this conversation and its customer."""

    conversation_surveyed: bool  # a survey already went out for this conversation
    contact_last_surveyed_at: datetime | None
    contact_unsubscribed_in_audience: bool = False  # an audience marked them unsubscribed
    in_audience: bool | None = None  # None: SURVEY_AUDIENCE is not set


@dataclass(frozen=True)
class Decision:
    status: str  # send, wait or do_not_send
    code: str | None = None  # a stable reason code (log.REASON_CODES), for grouping in reports
    reason: str | None = None  # the same, for a person, with the details (dates, tags)


def decide(
    closure: Closure,
    facts: ConversationFacts,
    history: History,
    settings: SurveySettings,
    now: datetime,
) -> Decision:
    """The first rule that applies, in the order a support lead would explain them."""
    if facts.contact_id is None:
        return Decision(DO_NOT_SEND, "no_contact", "no customer in the conversation")
    if facts.contact_unsubscribed or history.contact_unsubscribed_in_audience:
        return Decision(DO_NOT_SEND, "unsubscribed", "the customer unsubscribed")
    if history.in_audience is False:
        return Decision(
            DO_NOT_SEND,
            "not_in_audience",
            f"the customer is not in the audience {settings.audience}",
        )
    if facts.channel not in settings.channels:
        return Decision(
            DO_NOT_SEND, "channel_off", f"channel {facts.channel or 'unknown'} is switched off"
        )
    if facts.assignee_is_bot:
        return Decision(DO_NOT_SEND, "bot_assignee", "the assignee at closure is a bot")
    tagged = sorted(facts.tags & set(settings.suppress_tags))
    if tagged:
        return Decision(DO_NOT_SEND, "suppression_tag", f"tagged {', '.join(tagged)}")
    if history.conversation_surveyed:
        return Decision(DO_NOT_SEND, "already_surveyed", "the conversation was already surveyed")
    since = history.contact_last_surveyed_at
    if since is not None and now - since < timedelta(days=settings.suppression_days):
        return Decision(
            DO_NOT_SEND,
            "recently_surveyed",
            f"the customer was surveyed on {since:%Y-%m-%d} "
            f"(suppression period {settings.suppression_days} days)",
        )
    due = datetime.fromtimestamp(closure.closed_at, UTC).replace(tzinfo=None) + timedelta(
        minutes=settings.delay_minutes.get(facts.channel, 0)
    )
    reopened = facts.state != "closed" or (facts.last_close_at or 0) > closure.closed_at
    if reopened:
        return Decision(DO_NOT_SEND, "reopened", "reopened after it was closed")
    if now < due:
        return Decision(WAIT, "channel_delay", f"channel delay until {due:%Y-%m-%d %H:%M} UTC")
    return Decision(SEND)
