"""How the graph keeps itself up to date: the API syncs run on schedules, the rest follows.

Schedules (`schedules.py`) only read Intercom. Every model, the BI copy and the push back carry
`FOLLOW_UPSTREAMS`, and the sensor below materializes them as soon as what they read changed,
in the same run when one sync updates several of them. The audience syncs are left out on
purpose: each writes to Intercom, so only its own schedule or a click runs it.
"""

from datetime import timedelta

import dagster as dg

# Built once when missing and everything it reads is there (a new deployment: the seeds at the
# first tick, each model after the first sync of its tables); not again after a failed run, which
# the next update upstream retries.
BUILD_WHEN_MISSING = (
    dg.AutomationCondition.missing()
    & ~dg.AutomationCondition.any_deps_missing()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
    & ~dg.AutomationCondition.execution_failed()
).with_label("missing, with every upstream present")
# Rebuilt when anything upstream was updated, once nothing upstream is missing or still running.
FOLLOW_UPSTREAMS = dg.AutomationCondition.eager() | BUILD_WHEN_MISSING
# Marts follow the hourly sync: late after two hours, failing after a day without a build.
MART_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26), warn_window=timedelta(hours=2)
)
SENSOR = "follow_upstreams"


@dg.definitions
def defs() -> dg.Definitions:
    sensor = dg.AutomationConditionSensorDefinition(
        SENSOR,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Builds the models, the BI copy and the push back after each sync.",
    )
    return dg.Definitions(sensors=[sensor])
