"""Survey-on-close settings from environment variables, validated once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from intercom_pipeline.activation.audiences.config import (
    SEGMENT_AUDIENCE_ID,
    audiences_file,
    load_audiences,
)
from intercom_pipeline.settings import ConfigurationError, Secret

CHANNELS = ("email", "chat")
DEFAULT_SUBJECT = "How did we do?"
DEFAULT_MESSAGE = (
    "<p>Hi {contact_name}, your conversation with us was closed. How satisfied were you?</p>"
    '<p><a href="{survey_url}">Rate us in one click</a></p>'
)
NO_TOKEN = Secret("")
DEFAULT_SURVEY_URL = (
    "https://surveys.example.com/csat?conversation={conversation_id}&contact={contact_id}"
)


@dataclass(frozen=True)
class SurveySettings:
    mode: str = "test"  # test: build, validate and record, never message a customer
    channels: tuple[str, ...] = CHANNELS
    delay_minutes: dict[str, int] = field(default_factory=lambda: {"email": 60, "chat": 30})
    suppression_days: int = 30
    suppress_tags: tuple[str, ...] = ("fraud", "dupe", "do_not_send_survey")
    sender_admin_id: str = ""
    survey_url: str = DEFAULT_SURVEY_URL
    subject: str = DEFAULT_SUBJECT
    message: str = DEFAULT_MESSAGE
    metric: str = "CSAT"
    audience: str = ""  # an audience id: only its active members are surveyed (empty: everyone)
    test_sandbox_url: str = ""  # in test mode, requests are also sent here to be validated
    test_sandbox_token: Secret = NO_TOKEN  # that sandbox's token, never a workspace's

    @property
    def is_production(self) -> bool:
        return self.mode == "production"


def survey_settings(environ: dict[str, str] | None = None) -> SurveySettings:
    """Read SURVEY_*; a bad value raises ConfigurationError naming the variable and the fix."""
    env = os.environ if environ is None else environ
    defaults = SurveySettings()
    mode = env.get("SURVEY_MODE", defaults.mode).strip().lower() or defaults.mode
    if mode not in ("test", "production"):
        raise ConfigurationError(f"SURVEY_MODE={mode!r}: use test (the default) or production")
    channels = tuple(
        c.strip().lower()
        for c in env.get("SURVEY_CHANNELS", ",".join(CHANNELS)).split(",")
        if c.strip()
    )
    unknown = sorted(set(channels) - set(CHANNELS))
    if unknown:
        raise ConfigurationError(
            f"SURVEY_CHANNELS has {unknown}: choose from {', '.join(CHANNELS)}"
        )
    delays = {
        channel: _whole(
            env, f"SURVEY_{channel.upper()}_DELAY_MINUTES", defaults.delay_minutes[channel]
        )
        for channel in CHANNELS
    }
    survey_url = env.get("SURVEY_URL", "").strip() or defaults.survey_url
    if "{conversation_id}" not in survey_url or "{contact_id}" not in survey_url:
        raise ConfigurationError(
            f"SURVEY_URL={survey_url!r} must carry {{conversation_id}} and {{contact_id}}, so "
            "each answer comes back with the conversation and contact it is about"
        )
    tags = env.get("SURVEY_SUPPRESS_TAGS")
    audience = env.get("SURVEY_AUDIENCE", "").strip()
    if audience:
        _check_audience(audience, env)
    sandbox_url = env.get("SURVEY_TEST_SANDBOX_URL", "").strip().rstrip("/")
    return SurveySettings(
        mode=mode,
        channels=channels,
        delay_minutes=delays,
        suppression_days=_whole(env, "SURVEY_SUPPRESSION_DAYS", defaults.suppression_days),
        suppress_tags=tuple(t.strip().lower() for t in tags.split(",") if t.strip())
        if tags is not None
        else defaults.suppress_tags,
        sender_admin_id=env.get("SURVEY_SENDER_ADMIN_ID", "").strip(),
        survey_url=survey_url,
        subject=env.get("SURVEY_SUBJECT", "").strip() or defaults.subject,
        message=env.get("SURVEY_MESSAGE", "").strip() or defaults.message,
        metric=env.get("SURVEY_METRIC", defaults.metric).strip().upper() or defaults.metric,
        audience=audience,
        test_sandbox_url=sandbox_url,
        test_sandbox_token=_sandbox_token(env) if sandbox_url else NO_TOKEN,
    )


def _check_audience(audience: str, env: os._Environ[str] | dict[str, str]) -> None:
    """SURVEY_AUDIENCE must name an audience, or nobody would ever be surveyed.

    An Intercom segment outside the file is an audience `segment_<its id>`, synced by the
    intercom_segments asset; which segments exist is known only after ingestion, so any such id
    is accepted.
    """
    if SEGMENT_AUDIENCE_ID.fullmatch(audience):
        return
    path = audiences_file(dict(env))
    known = [a.id for a in load_audiences(path)]
    if audience not in known:
        raise ConfigurationError(
            f"SURVEY_AUDIENCE={audience!r} is not an audience of {path} (known: "
            f"{', '.join(known)}, or segment_<Intercom segment id>): set it to one of those ids, "
            "or leave it empty to survey everyone"
        )


def _sandbox_token(env: os._Environ[str] | dict[str, str]) -> Secret:
    """SURVEY_TEST_SANDBOX_TOKEN: required with a sandbox URL, and never a workspace's token."""
    token = env.get("SURVEY_TEST_SANDBOX_TOKEN", "").strip()
    if not token:
        raise ConfigurationError(
            "SURVEY_TEST_SANDBOX_URL is set but SURVEY_TEST_SANDBOX_TOKEN is not: set it to the "
            "sandbox's own token (the workspace's INTERCOM_ACCESS_TOKEN is never sent there)"
        )
    workspace_tokens = {
        value.strip()
        for key, value in env.items()
        if key.startswith("INTERCOM_") and key.endswith("ACCESS_TOKEN")
    }
    if token in workspace_tokens:
        raise ConfigurationError(
            "SURVEY_TEST_SANDBOX_TOKEN is a workspace's access token: test mode must not send a "
            "real workspace's token to the sandbox; give the sandbox a token of its own"
        )
    return Secret(token)


def _whole(env: os._Environ[str] | dict[str, str], variable: str, default: int) -> int:
    raw = env.get(variable, str(default)).strip() or str(default)
    if not raw.isdigit():
        raise ConfigurationError(f"{variable}={raw!r}: a whole number (0 or more)")
    return int(raw)
