"""The push back to Intercom as an asset downstream of the survey marts."""

import dagster as dg

from intercom_pipeline.activation.push_back.push import PushRefused, push_survey_results
from intercom_pipeline.activation.push_back.settings import push_settings
from intercom_pipeline.defs.automation import FOLLOW_UPSTREAMS
from intercom_pipeline.defs.keys import mart_key
from intercom_pipeline.defs.modules import keys_off, reads_on
from intercom_pipeline.defs.resources import IntercomResource, WarehouseResource
from intercom_pipeline.defs.transform import intercom_dbt_assets
from intercom_pipeline.sources.intercom.client import IntercomAuthError, IntercomPermissionError

PUSH_ASSET = "intercom_contact_survey_push"
EXPORT_ALL_JOB = "intercom_export_all_feedback"
READS = ("contact_survey_profile", "survey_sends", "survey_responses")
_HISTORY_PAGE = 20  # check executions read at a time, newest first


class SurveyPushConfig(dg.Config):
    """The schedules send what changed; the export-all job re-sends everything."""

    resend_all: bool = False  # every contact's current values, whatever was sent before
    force: bool = False  # run the export of all feedback again within a week


@dg.asset(
    name=PUSH_ASSET,
    group_name="push_back",
    deps=[mart_key(name) for name in READS],
    kinds={"intercom", "duckdb"},
    automation_condition=FOLLOW_UPSTREAMS,
)
def intercom_contact_survey_push(
    context: dg.AssetExecutionContext,
    config: SurveyPushConfig,
    warehouse: WarehouseResource,
    intercom: IntercomResource,
) -> dg.MaterializeResult:
    """Survey results onto Intercom contacts, sending only what changed since the last push.

    The latest score, comment and category become contact attributes; each survey sent and each
    answer becomes an event (ledger: reverse_etl.intercom_push_ledger).
    """
    failed = failed_checks(context)
    if failed:
        # dbt writes a model before testing it: the table holds what its checks rejected.
        raise dg.Failure(
            "Not pushed: the latest error-severity checks of the marts it reads failed: "
            f"{', '.join(failed)}. Fix the data and rebuild them, then push again."
        )
    try:
        report = push_survey_results(
            warehouse.get(context.log),
            intercom.connect(),
            push_settings(),
            resend_all=config.resend_all,
            force=config.force,
        )
    except (PushRefused, IntercomAuthError, IntercomPermissionError) as stopped:
        # The message says what to do (and never holds the token); the traceback adds nothing.
        raise dg.Failure(str(stopped)) from None
    for note in report.notes:
        context.log.info(note)
    if report.ambiguous:
        context.log.warning(
            f"{len(report.ambiguous)} survey answers name an email shared by several contacts:"
            " not written (see analytics.survey_response_quarantine)"
        )
    if report.failed:
        context.log.warning(
            f"{report.failed} writes failed; see reverse_etl.intercom_push_failures"
        )
    failures = "\n".join(
        f"| {contact} | {key} | {reason} |" for key, contact, reason in report.failures[:50]
    )
    return dg.MaterializeResult(
        metadata={
            "mode": report.mode,
            "resend_all": report.resend_all,
            "sent": dg.MetadataValue.int(report.sent),
            "unchanged": dg.MetadataValue.int(report.unchanged),
            "skipped": dg.MetadataValue.int(report.skipped),
            "failed": dg.MetadataValue.int(report.failed),
            "write_calls": dg.MetadataValue.int(report.write_calls),
            "ambiguous_emails": dg.MetadataValue.int(len(report.ambiguous)),
            "events_merged": dg.MetadataValue.int(report.events_merged),
            "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in report.notes) or "none"),
            "failures": dg.MetadataValue.md(
                "| contact | item | reason |\n|---|---|---|\n" + failures if failures else "none"
            ),
            "run_id": report.run_id,
        }
    )


def failed_checks(context: dg.AssetExecutionContext) -> list[str]:
    """The error-severity checks on the marts the push reads whose latest evaluation failed.

    Read from the instance, so a push in a run of its own (the export-all job, a materialization
    by hand) is blocked by the last build's checks as much as one in the same run. The checks
    are the marts' dbt tests.
    """
    reads = {mart_key(name) for name in READS}
    keys = [k for k in intercom_dbt_assets().check_keys if k.asset_key in reads]
    failed = []
    for key in sorted(keys, key=lambda k: k.to_user_string()):
        evaluation = latest_evaluation(context.instance, key)
        if (
            evaluation is not None
            and not evaluation.passed
            and evaluation.severity == dg.AssetCheckSeverity.ERROR
        ):
            failed.append(key.to_user_string())
    return failed


def latest_evaluation(
    instance: dg.DagsterInstance, key: dg.AssetCheckKey
) -> dg.AssetCheckEvaluation | None:
    """The check's latest evaluation, past executions planned but never evaluated (skipped).

    Dagster 1.13 has no public API for check results: this reads the instance's event log
    storage through `EventLogStorage.get_asset_check_execution_history`, an internal method,
    without its status filter (whose enum only dagster._core exports).
    """
    cursor = None
    while records := instance.event_log_storage.get_asset_check_execution_history(
        key, limit=_HISTORY_PAGE, cursor=cursor
    ):
        for record in records:
            event = record.event.dagster_event if record.event else None
            if event and isinstance(event.event_specific_data, dg.AssetCheckEvaluation):
                return event.event_specific_data
        cursor = records[-1].id
    return None


@dg.definitions
def defs() -> dg.Definitions:
    export_all = dg.define_asset_job(
        EXPORT_ALL_JOB,
        selection=[PUSH_ASSET],
        config={"ops": {PUSH_ASSET: {"config": {"resend_all": True, "force": False}}}},
        description=(
            "Re-send every contact's current survey values, e.g. after Intercom was unavailable. "
            "Once a week at most, unless run with force: true."
        ),
    )
    if not reads_on(intercom_contact_survey_push.dependency_keys, keys_off()):
        return dg.Definitions()  # a mart it reads is off with its module (INTERCOM_MODULES)
    return dg.Definitions(assets=[intercom_contact_survey_push], jobs=[export_all])
