"""Surveys on close in Dagster.

The request-log asset, a sensor that sees closures within a minute (search and webhooks), and a
schedule that decides the closures whose channel delay has ended.
"""

import dagster as dg

from intercom_pipeline.activation.surveys.run import Notified, process_closures
from intercom_pipeline.activation.surveys.settings import SurveySettings, survey_settings
from intercom_pipeline.activation.surveys.webhook import WebhookSpool, webhook_spool_dir
from intercom_pipeline.defs.resources import IntercomResource, WarehouseResource
from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import Workspace
from intercom_pipeline.sources.intercom.client import IntercomClient
from intercom_pipeline.sources.intercom.selection import setup_selection

SURVEY_JOB = "surveys_on_close_job"


@dg.asset(
    key=["surveys", "survey_requests"],
    group_name="surveys_on_close",
    kinds={"intercom", "duckdb"},
)
def survey_requests(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, intercom: IntercomResource
) -> dg.MaterializeResult:
    """Surveys when conversations close, with suppression rules and a request log.

    Every closure seen (search and webhooks) is logged, decided by the suppression rules, and
    sent (production) or built and validated (test).
    """
    settings = survey_settings()
    workspaces = intercom.connect()
    spool = WebhookSpool(webhook_spool_dir())
    notified = {  # unusable notifications are moved to the spool's rejected/ folder
        path: Notified(c.app_id or workspaces[0].workspace_id, c.conversation_id, c.created_at)
        for path, c in spool.closed_conversations()
    }
    outcome = process_closures(
        warehouse.get(context.log),
        workspaces,
        settings,
        webhook_closures=list(notified.values()),
        test_client=_test_client(settings),
    )
    retry = set(outcome.retry_notifications)
    for path, note in notified.items():
        if note not in retry:
            spool.done(path)  # recorded in the log: the spool may forget it
    if retry:
        context.log.warning(f"{len(retry)} webhook notifications kept in the spool to retry")
    context.log.info(f"mode {settings.mode}: {dict(outcome.statuses)}")
    reasons = "\n".join(f"| {r} | {n} |" for r, n in outcome.reasons.most_common())
    return dg.MaterializeResult(
        metadata={
            "mode": settings.mode,
            "new_closures": dg.MetadataValue.int(outcome.new_closures),
            **{
                status: dg.MetadataValue.int(outcome.statuses.get(status, 0))
                for status in ("sent", "test", "do_not_send", "invalid", "unknown", "pending")
            },
            "reasons": dg.MetadataValue.md(
                "| reason code | requests |\n|---|---|\n" + reasons if reasons else "none"
            ),
        }
    )


def _test_client(settings: SurveySettings) -> IntercomClient | None:
    """Where test mode sends requests to be validated: SURVEY_TEST_SANDBOX_URL, if set.

    It authenticates with SURVEY_TEST_SANDBOX_TOKEN only: a workspace's token never leaves for
    the sandbox.
    """
    if settings.is_production or not settings.test_sandbox_url:
        return None
    sandbox = intercom_settings(
        {
            "INTERCOM_BASE_URL": settings.test_sandbox_url,
            "INTERCOM_ACCESS_TOKEN": settings.test_sandbox_token.reveal(),
        }
    )
    return IntercomClient(sandbox)


@dg.sensor(
    job_name=SURVEY_JOB,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def conversation_closed_sensor(
    context: dg.SensorEvaluationContext, intercom: IntercomResource
) -> dg.SensorResult:
    """Starts the surveys job when a conversation closed or a webhook arrived.

    It asks Intercom for the latest closed conversation and reads the webhook spool; it writes
    nothing (the job is the warehouse's one writer).
    """
    spooled = WebhookSpool(webhook_spool_dir()).pending()
    latest = max((_latest_closed(ws) for ws in intercom.connect()), default=0)
    seen = int(context.cursor or 0)
    runs = []
    if spooled:
        runs.append(dg.RunRequest(run_key=f"webhook:{spooled[-1][0].name}"))
    elif latest > seen and context.cursor is not None:
        runs.append(dg.RunRequest(run_key=f"closed:{latest}"))
    return dg.SensorResult(run_requests=runs, cursor=str(max(latest, seen)))


def _latest_closed(ws: Workspace) -> int:
    """updated_at of the most recently updated closed conversation (0 if none)."""
    found = next(
        ws.client.search(
            "/conversations/search",
            {"field": "state", "operator": "=", "value": "closed"},
            "conversations",
            per_page=1,
            sort={"field": "updated_at", "order": "descending"},
        ),
        None,
    )
    return int(found["updated_at"]) if found else 0


@dg.definitions
def defs() -> dg.Definitions:
    if "conversations" not in setup_selection().modules:
        return dg.Definitions()  # surveys follow closed conversations (INTERCOM_MODULES)
    job = dg.define_asset_job(
        SURVEY_JOB,
        selection=[survey_requests],
        description="Log, decide and send the surveys of closed conversations.",
    )
    due = dg.ScheduleDefinition(
        name="surveys_on_close_due",
        job=job,
        cron_schedule="*/10 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Decides closures whose channel delay has ended.",
    )
    return dg.Definitions(
        assets=[survey_requests], jobs=[job], sensors=[conversation_closed_sensor], schedules=[due]
    )
