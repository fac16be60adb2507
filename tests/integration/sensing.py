"""A run's end as the Dagster daemon would hear it: the run status sensor for it, called."""

from __future__ import annotations

from typing import Any

import dagster as dg


def sensed(
    instance: dg.DagsterInstance,
    result: dg.ExecuteInProcessResult,
    on_success: Any,
    on_failure: Any,
    **context: Any,
) -> Any:
    """Call `on_success` or `on_failure` (as the run ended) for `result`; what it returned."""
    if result.success:
        sensor, event = on_success, result.get_run_success_event()
    else:
        sensor, event = on_failure, result.get_run_failure_event()
    return sensor(
        dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=event,
            **context,
        )
    )
