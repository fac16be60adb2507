"""Failure notifications: an email and/or a chat message per cause, with the reason and the fix.

The pipeline's errors already say what went wrong and what to do (a rejected token names
INTERCOM_ACCESS_TOKEN); a notification passes the error on as it is. Whether a failure is news
is decided by its cause (`failure_cause`): the error's first line without what changes from run
to run (ids, numbers, times, durations), so a revoked token failing every hour is one cause.
No Dagster here: `defs/notifications.py` reads the failed run and remembers the causes sent.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import requests

from intercom_pipeline.settings import ConfigurationError, Secret

DEFAULT_SMTP_PORT = 587  # submission, upgraded to TLS by STARTTLS
SMTPS_PORT = 465  # TLS from the first byte: STARTTLS does not apply
SMTP_TIMEOUT_SECONDS = 30
WEBHOOK_TIMEOUT_SECONDS = 10
SUBJECT_PREFIX = "[intercom-pipeline]"
MAX_CAUSE_CHARS = 300
NO_SECRET = Secret("")
_ADDRESS = re.compile(r"[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+")
# What differs between two runs failing for one reason, most specific first.
_VARYING = (
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", "<time>"),
    (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<id>"),
    (r"\b0x[0-9a-f]+\b", "<id>"),
    (r"\b(?=[a-z0-9]*\d[a-z0-9]*\d)(?=[a-z0-9]*[a-z])[a-z0-9]{10,}\b", "<id>"),
    (r"\b\d+(\.\d+)?\s?(ms|s|secs?|seconds?|mins?|minutes?|h|hours?)\b", "<duration>"),
    (r"\d{4,}(\.\d+)?", "<n>"),
)


class NotifyError(RuntimeError):
    """A notification was not delivered; the message names the server, never a secret."""


@dataclass(frozen=True)
class NotifySettings:
    smtp_host: str = ""
    smtp_port: int = DEFAULT_SMTP_PORT
    smtp_username: str = ""
    smtp_password: Secret = NO_SECRET
    smtp_from: str = ""
    smtp_starttls: bool = True
    email_to: tuple[str, ...] = ()
    webhook_url: Secret = NO_SECRET  # a Slack webhook's address is its credential

    @property
    def channels(self) -> int:
        """How many ways a notification goes out (0: notifications are off)."""
        return bool(self.email_to) + bool(self.webhook_url)


def notify_settings(env: Mapping[str, str] | None = None) -> NotifySettings:
    """Read SMTP_* and NOTIFY_*; a channel set up by half raises ConfigurationError saying how."""
    env = os.environ if env is None else env
    webhook = env.get("NOTIFY_WEBHOOK_URL", "").strip()
    parts = urlsplit(webhook)
    if webhook and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise ConfigurationError(
            "NOTIFY_WEBHOOK_URL is not an http(s):// address: set it to the chat's incoming "
            "webhook (Slack: https://hooks.slack.com/services/...). Its value is not shown."
        )
    return NotifySettings(**_email_settings(env), webhook_url=Secret(webhook))


def _email_settings(env: Mapping[str, str]) -> dict[str, object]:
    """The SMTP_* fields for NotifySettings; none when NOTIFY_EMAIL_TO and SMTP_HOST are unset."""
    to = tuple(a.strip() for a in env.get("NOTIFY_EMAIL_TO", "").split(",") if a.strip())
    host = env.get("SMTP_HOST", "").strip()
    if not to and not host:
        return {}
    if not host:
        raise ConfigurationError(
            "NOTIFY_EMAIL_TO is set but SMTP_HOST is not: set SMTP_HOST to your mail server "
            "(and SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD as it needs), or unset NOTIFY_EMAIL_TO."
        )
    if not to:
        raise ConfigurationError(
            "SMTP_HOST is set but NOTIFY_EMAIL_TO is not: set NOTIFY_EMAIL_TO to the addresses "
            "to notify (comma separated), or unset SMTP_HOST."
        )
    if bad := [a for a in to if not _ADDRESS.fullmatch(a)]:
        raise ConfigurationError(
            f"NOTIFY_EMAIL_TO has {bad[0]!r}: use email addresses separated by commas."
        )
    username, password = env.get("SMTP_USERNAME", "").strip(), env.get("SMTP_PASSWORD", "")
    if bool(username) != bool(password):
        have, missing = ("SMTP_USERNAME", "SMTP_PASSWORD")[:: 1 if username else -1]
        raise ConfigurationError(
            f"{have} is set but {missing} is not: set both for a server that asks for a login, "
            "or neither."
        )
    sender = env.get("SMTP_FROM", "").strip() or (username if "@" in username else "")
    if not _ADDRESS.fullmatch(sender):
        raise ConfigurationError(
            f"SMTP_FROM={sender!r} is not an email address: set it to the address notifications "
            "come from (for example dagster@example.com)."
        )
    return {
        "smtp_host": host,
        "smtp_port": _port(env.get("SMTP_PORT", "").strip()),
        "smtp_username": username,
        "smtp_password": Secret(password),
        "smtp_from": sender,
        "smtp_starttls": _flag("SMTP_STARTTLS", env.get("SMTP_STARTTLS", "")),
        "email_to": to,
    }


def _port(raw: str) -> int:
    if not raw:
        return DEFAULT_SMTP_PORT
    if not (raw.isascii() and raw.isdigit() and 0 < int(raw) < 65536):
        raise ConfigurationError(
            f"SMTP_PORT={raw!r}: use the mail server's port (587 with STARTTLS, 465 for TLS)."
        )
    return int(raw)


def _flag(variable: str, raw: str) -> bool:
    value = raw.strip().lower() or "true"
    if value not in ("true", "false"):
        raise ConfigurationError(f"{variable}={value!r}: use true (the default) or false.")
    return value == "true"


def failure_cause(error_text: str) -> str:
    """The error's reason as a stable key: one line, without what changes from run to run."""
    lines = error_text.strip().splitlines()
    cause = " ".join(lines[0].split()) if lines else ""
    for pattern, replacement in _VARYING:
        cause = re.sub(pattern, replacement, cause, flags=re.IGNORECASE)
    return cause[:MAX_CAUSE_CHARS]


def failure_message(job: str, run_id: str, error_text: str, ui_url: str | None) -> tuple[str, str]:
    """Subject and body: the job, the error as raised (its reason and fix), the run."""
    reason = error_text.strip() or "The run failed without an error message: see its logs."
    subject = f"{SUBJECT_PREFIX} {job} failed: {_shorten(reason.splitlines()[0], 120)}"
    lines = [f"The Dagster job {job} failed.", "", reason, "", f"Run: {run_id}"]
    if ui_url:
        lines.append(f"Logs: {ui_url.rstrip('/')}/runs/{run_id}")
    lines += ["", "Later failures of this job for the same reason send nothing until it succeeds."]
    return subject, "\n".join(lines)


def recovered_message(job: str, run_id: str, cause: str, ui_url: str | None) -> tuple[str, str]:
    """Subject and body saying a job that notified a failure succeeds again."""
    lines = [f"The Dagster job {job} succeeded (run {run_id}).", "", f"It had failed: {cause}"]
    if ui_url:
        lines.append(f"Run: {ui_url.rstrip('/')}/runs/{run_id}")
    return f"{SUBJECT_PREFIX} {job} recovered", "\n".join(lines)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


_SECRET_VARIABLE = re.compile(r"(TOKEN|PASSWORD|SECRET|SECRET_ACCESS_KEY|WEBHOOK_URL)$")


def error_text(error: Any) -> str:
    """The error that explains a failure: the outermost of the project's own, else the root.

    `error` is Dagster's serialized error (`message`, `cause`): Dagster and dlt wrap ours
    (`Error occurred while executing op`, `Pipeline execution failed`). The class keeps its
    name, not its module.
    """
    chain = [error]
    while chain[-1].cause is not None:
        chain.append(chain[-1].cause)
    ours = [e for e in chain if e.message.startswith("intercom_pipeline.")]
    message = (ours or chain[-1:])[0].message.strip()
    return re.sub(r"^[\w.]+\.(\w+): ", r"\1: ", message)


def without_secrets(text: str) -> str:
    """`text` without the value of any variable that holds a secret (tokens, passwords, ...)."""
    return redact(text, [v for name, v in os.environ.items() if _SECRET_VARIABLE.search(name)])


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret value (6 characters or more) replaced by ****."""
    for secret in sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True):
        text = text.replace(secret, "****")
    return text


def deliver(settings: NotifySettings, subject: str, body: str) -> list[str]:
    """Sends to every configured channel; the errors of those that failed (the rest still get it)."""
    sends: list[Callable[[], None]] = []
    if settings.email_to:
        sends.append(lambda: send_email(settings, subject, body))
    if settings.webhook_url:
        sends.append(lambda: send_webhook(settings, f"{subject}\n\n{body}"))
    errors = []
    for send in sends:
        try:
            send()
        except NotifyError as exc:
            errors.append(str(exc))
    return errors


def send_email(settings: NotifySettings, subject: str, body: str) -> None:
    """One plain-text email to NOTIFY_EMAIL_TO through the SMTP server."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(settings.email_to)
    message.set_content(body)
    server = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with _connect(settings) as smtp:
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password.reveal())
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise NotifyError(
            f"The notification email was not sent through the SMTP server {server}: "
            f"{type(exc).__name__}: {exc}. Check SMTP_HOST, SMTP_PORT, SMTP_STARTTLS and the "
            "login (SMTP_USERNAME, SMTP_PASSWORD)."
        ) from exc


def _connect(settings: NotifySettings) -> smtplib.SMTP:
    """A connection to the server, encrypted unless SMTP_STARTTLS=false on a plain port."""
    host, port = settings.smtp_host, settings.smtp_port
    if port == SMTPS_PORT:
        context = ssl.create_default_context()
        return smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
    smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS)
    if settings.smtp_starttls:
        try:
            smtp.starttls(context=ssl.create_default_context())
        except BaseException:
            smtp.close()
            raise
    return smtp


def send_webhook(settings: NotifySettings, text: str) -> None:
    """POST {"text": ...}, the message Slack's incoming webhooks (and compatible chats) take."""
    url = settings.webhook_url.reveal()
    host = urlsplit(url).hostname
    failed = ""
    try:
        response = requests.post(url, json={"text": text}, timeout=WEBHOOK_TIMEOUT_SECONDS)
    except requests.RequestException as exc:  # its message quotes the address: not kept
        failed = type(exc).__name__
    else:
        if response.ok:
            return
        failed = f"HTTP {response.status_code} {_shorten(response.text, 200)}"
    raise NotifyError(
        f"The notification was not posted to the webhook at {host}: {failed}. Check "
        "NOTIFY_WEBHOOK_URL (a removed or revoked webhook answers 404 or 403)."
    )
