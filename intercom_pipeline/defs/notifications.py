"""Failure notifications in Dagster: a failed run sends its reason and fix, once per cause.

`notify_on_failure` takes the failed run's error as the project raised it (it names the reason
and the fix) and sends it, unless the job's last notice was for the same cause;
`clear_on_success` forgets that cause when the job succeeds, so its next failure is news again.
The causes are kept in the Dagster instance's key-value store (SQLite or PostgreSQL, as the
instance is), which every daemon and host shares. Nothing is sent when no channel is configured.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from intercom_pipeline.operations.notify import (
    DEFAULT_SMTP_PORT,
    NotifyError,
    NotifySettings,
    deliver,
    error_text,
    failure_cause,
    failure_message,
    notify_settings,
    recovered_message,
    without_secrets,
)

# Resource field -> the environment variable that sets it.
NOTIFY_VARIABLES = {
    "smtp_host": "SMTP_HOST",
    "smtp_port": "SMTP_PORT",
    "smtp_username": "SMTP_USERNAME",
    "smtp_password": "SMTP_PASSWORD",
    "smtp_from": "SMTP_FROM",
    "smtp_starttls": "SMTP_STARTTLS",
    "email_to": "NOTIFY_EMAIL_TO",
    "webhook_url": "NOTIFY_WEBHOOK_URL",
    "webserver_url": "DAGSTER_WEBSERVER_URL",
}
CAUSE_KEY_PREFIX = "intercom_pipeline/notified_cause/"


class NotificationsResource(dg.ConfigurableResource):
    """Where failure notices go: email (SMTP_*, NOTIFY_EMAIL_TO) and/or a chat webhook."""

    smtp_host: str = Field(default="", description="SMTP_HOST: the mail server (unset: no email)")
    smtp_port: str = Field(
        default="", description=f"SMTP_PORT (unset: {DEFAULT_SMTP_PORT}; 465: TLS from the start)"
    )
    smtp_username: str = Field(default="", description="SMTP_USERNAME: the login, if any")
    smtp_password: str = Field(default="", description="SMTP_PASSWORD")
    smtp_from: str = Field(
        default="", description="SMTP_FROM: the sender (unset: SMTP_USERNAME, if an address)"
    )
    smtp_starttls: str = Field(default="", description="SMTP_STARTTLS: true (default) or false")
    email_to: str = Field(default="", description="NOTIFY_EMAIL_TO: addresses, comma separated")
    webhook_url: str = Field(
        default="", description="NOTIFY_WEBHOOK_URL: a Slack-compatible incoming webhook"
    )
    webserver_url: str = Field(
        default="", description="DAGSTER_WEBSERVER_URL: the UI's address, for a link to the run"
    )

    def settings(self) -> NotifySettings:
        """Validated settings; a channel set up by half names the variable to set."""
        return notify_settings(
            {variable: getattr(self, field) for field, variable in NOTIFY_VARIABLES.items()}
        )


def failure_text(context: dg.RunFailureSensorContext) -> str:
    """The error that failed the run: the first failed step's, as the project raised it.

    Dagster and dlt wrap it (`Error occurred while executing op`, `Pipeline execution failed`);
    the outermost error of the project's own is the one that explains, else the root cause.
    """
    steps = context.get_step_failure_events()
    data = (steps[0] if steps else context.failure_event).event_specific_data
    error = getattr(data, "error", None)
    return error_text(error) if error is not None else context.failure_event.message or ""


def _cause_key(job_name: str) -> str:
    return CAUSE_KEY_PREFIX + job_name


@dg.run_failure_sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def notify_on_failure(
    context: dg.RunFailureSensorContext, notifications: NotificationsResource
) -> None:
    """Sends a failed run's reason and fix by email and/or webhook, once per job and cause.

    The cause is remembered once a channel delivered the notice; a channel that failed is named
    in this sensor's error.
    """
    settings = notifications.settings()
    if not settings.channels:
        return
    run, storage = context.dagster_run, context.instance.run_storage
    error = without_secrets(failure_text(context))
    cause, key = failure_cause(error), _cause_key(run.job_name)
    if storage.get_cursor_values({key}).get(key) == cause:
        context.log.info(f"{run.job_name} failed again for the notified cause: {cause}")
        return
    subject, body = failure_message(
        run.job_name, run.run_id, error, notifications.webserver_url or None
    )
    errors = deliver(settings, subject, body)
    if len(errors) < settings.channels:
        storage.set_cursor_values({key: cause})
    if errors:
        raise NotifyError(" ".join(errors))


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def clear_on_success(
    context: dg.RunStatusSensorContext, notifications: NotificationsResource
) -> None:
    """Forgets the cause a job notified when it succeeds, and says it recovered."""
    run, storage = context.dagster_run, context.instance.run_storage
    key = _cause_key(run.job_name)
    cause = storage.get_cursor_values({key}).get(key)
    if not cause:
        return
    storage.set_cursor_values({key: ""})  # the store has no delete: empty means none
    settings = notifications.settings()
    if settings.channels:
        message = recovered_message(
            run.job_name, run.run_id, cause, notifications.webserver_url or None
        )
        if errors := deliver(settings, *message):
            raise NotifyError(" ".join(errors))


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(sensors=[notify_on_failure, clear_on_success])
