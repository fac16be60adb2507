"""A small job for test_dagster_on_postgres.py: three ops that each record their process id.

It lives in a module of its own so that the multiprocess executor's child processes (and a code
location) can import it by name, as a run worker on another host would import the project.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

STEPS = ("extract", "transform", "publish")


class PidFolder(dg.ConfigurableResource):
    """Where each op writes `<op name>.pid`."""

    folder: str

    def record(self, step: str) -> int:
        pid = os.getpid()
        (Path(self.folder) / f"{step}.pid").write_text(str(pid))
        return pid


@dg.op
def extract(pids: PidFolder) -> int:
    return pids.record("extract")


@dg.op
def transform(pids: PidFolder, upstream: int) -> int:
    return pids.record("transform")


@dg.op
def publish(pids: PidFolder, upstream: int) -> int:
    return pids.record("publish")


@dg.job(
    executor_def=dg.multiprocess_executor, resource_defs={"pids": PidFolder.configure_at_launch()}
)
def pid_job() -> None:
    # A chain, so the outputs travel between processes through the instance's storage too.
    publish(transform(extract()))


pid_schedule = dg.ScheduleDefinition(name="pid_schedule", job=pid_job, cron_schedule="0 3 * * *")

defs = dg.Definitions(jobs=[pid_job], schedules=[pid_schedule])
