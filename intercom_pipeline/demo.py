"""The demo, and the Intercom sandbox served on its own (`intercom-pipeline sandbox`).

The demo runs the whole graph in one process, on an embedded sandbox unless a workspace is
configured. This is the only module of the pipeline that imports the sandbox.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from typing import TYPE_CHECKING, Any, TextIO

from intercom_pipeline.settings import IntercomSettings
from intercom_sandbox import DEFAULT_TOKEN, Faults, RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.generator import SCALES
from intercom_sandbox.survey_feed import write_demo_survey_feed

if TYPE_CHECKING:
    import dagster as dg

    from intercom_pipeline.warehouse import Warehouse

DEMO_JOB = "intercom_build_all"
# The console's name for the step of an asset group; the dbt models are "dbt", whatever their group.
STEP_NAMES = {
    "intercom_raw": "ingest",
    "survey_feed": "survey feed",
    "surveys_on_close": "surveys on close",
    "audiences": "audiences",
    "push_back": "push back",
    "operations": "sync history",
    "serving": "publish",
}


def add_sandbox_arguments(serve: argparse.ArgumentParser) -> None:
    """The options of `intercom-pipeline sandbox`: the workspace, the limits and the faults."""
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--seed", type=int, default=1, help="same seed, same workspace (default 1)")
    serve.add_argument("--scale", choices=sorted(SCALES), default="demo")
    serve.add_argument(
        "--token",
        default=DEFAULT_TOKEN,
        help=f"the bearer token it accepts (default {DEFAULT_TOKEN})",
    )
    serve.add_argument(
        "--rate-limit", type=int, default=10_000, help="calls a minute (default 10000)"
    )
    serve.add_argument("--latency-ms", type=float, default=0.0)
    serve.add_argument("--jitter-ms", type=float, default=0.0)
    serve.add_argument("--error-rate", type=float, default=0.0, help="share of 500/502/503 answers")
    serve.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped connections")
    serve.add_argument("--truncate-rate", type=float, default=0.0, help="share of truncated bodies")
    serve.add_argument(
        "--clock",
        choices=("fixed", "wall"),
        default="fixed",
        help="fixed: history ends 2026-11-01 and only POST /_sandbox/clock/advance moves it; "
        "wall: history ends now and the workspace follows the machine's clock (default fixed)",
    )
    serve.add_argument(
        "--activity-speed",
        type=float,
        default=1.0,
        help="with --clock wall, busy hours of activity per hour that passes (default 1)",
    )


def serve_sandbox(args: argparse.Namespace) -> int:
    """Serve the sandbox until Ctrl-C or SIGTERM."""
    faults = Faults(
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        truncate_rate=args.truncate_rate,
    )
    try:
        config = SandboxConfig(
            seed=args.seed,
            scale=args.scale,
            token=args.token,
            rate_limit_per_minute=args.rate_limit,
            faults=faults,
            clock=args.clock,
            activity_speed=args.activity_speed,
        )
    except ValueError as exc:  # a negative --activity-speed
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    running = RunningSandbox(Sandbox(config), args.host, args.port)
    summary = running.sandbox.workspace.summary()
    print(
        f"Intercom sandbox (seed {args.seed}, scale {args.scale}, clock {args.clock}) ready in {time.monotonic() - started:.1f}s at {running.base_url}"
    )
    print(
        f"  {summary['contacts']} contacts, {summary['companies']} companies, {summary['conversations']} conversations, "
        f"{summary['conversation_parts']} parts, {summary['tickets']} tickets"
    )
    print(
        f"  export INTERCOM_BASE_URL={running.base_url} INTERCOM_ACCESS_TOKEN=<the --token value>"
    )
    print(f"  control API: {running.base_url}/_sandbox/status   (Ctrl-C stops)")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    running.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        running.stop()
    return 0


@contextmanager
def _workspace(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The configured workspace, or an embedded sandbox when none is configured.

    Yields a label and the resources to run with: for the sandbox, an Intercom resource pointing
    at it for the duration, and the survey feed folder receives the demo's survey answers (some
    name their contact by email only, so they are matched by email unless the user said not to).
    """
    from intercom_pipeline.defs.resources import (
        IntercomResource,
        IntercomWorkspaceConfig,
        SurveyFeedResource,
    )

    settings = resources["intercom"].settings()[0]
    if _is_configured(settings):
        yield f"{settings.base_url} (region {settings.region})", resources
        return
    sandbox = Sandbox(SandboxConfig(seed=1, scale="demo"))
    write_demo_survey_feed(sandbox.workspace, resources["survey_feed"].path())
    with RunningSandbox(sandbox) as running:
        demo = {
            **resources,
            "intercom": IntercomResource(
                workspaces=[
                    IntercomWorkspaceConfig(base_url=running.base_url, access_token=DEFAULT_TOKEN)
                ]
            ),
        }
        if "SURVEY_MATCH_BY_EMAIL" not in os.environ:
            demo["survey_feed"] = SurveyFeedResource(
                folder=resources["survey_feed"].folder, match_by_email=True
            )
        yield f"the embedded Intercom sandbox at {running.base_url} (seed 1, demo scale)", demo


def _is_configured(settings: IntercomSettings) -> bool:
    """Whether the user named a workspace (a token or an address), rather than the sandbox."""
    return bool(settings.access_token) or settings.uses_custom_base_url


def demo_left_out(settings: IntercomSettings, push: bool) -> dg.AssetSelection | None:
    """What the demo leaves out of `intercom_build_all`: None for nothing.

    The embedded sandbox receives every write. A workspace the user configured may be a real
    one with real customers: the assets that write to it (the push back, the audience syncs'
    tags, the surveys on close) run only when `--push` asks for them.
    """
    if push or not _is_configured(settings):
        return None
    import dagster as dg

    from intercom_pipeline.defs.audiences import AUDIENCE_ASSETS
    from intercom_pipeline.defs.reverse_etl import PUSH_ASSET
    from intercom_pipeline.defs.surveys import survey_requests

    return dg.AssetSelection.assets(PUSH_ASSET, survey_requests) | AUDIENCE_ASSETS


def run_demo(push: bool) -> int:
    """Run everything through Dagster (ingest, models, BI copy); print rows and headline metrics.

    Each step's wall time is printed as it finishes, and the times of the whole demo at the end.
    On a workspace the user configured, what writes to Intercom runs only with `push`.
    """
    started = time.monotonic()
    from intercom_pipeline.definitions import build_definitions
    from intercom_pipeline.defs.resources import resources_from_environment
    from intercom_pipeline.defs.reverse_etl import PUSH_ASSET

    configured = resources_from_environment(resolved=True)
    warehouse = configured["warehouse"].get()
    settings = configured["intercom"].settings()[0]
    left_out = demo_left_out(settings, push)
    sandbox_started = time.monotonic()
    with _workspace(configured) as (label, resources):
        timings = (
            {} if _is_configured(settings) else {"sandbox": time.monotonic() - sandbox_started}
        )
        print(f"Workspace: {label}")
        print(f"Warehouse: {warehouse.describe()}")
        print(f"Survey feed: {resources['survey_feed'].path()}")
        loaded = build_definitions(resources)
        clock = StepClock(step_names(loaded), sys.stdout)
        timings["start-up"] = time.monotonic() - started - sum(timings.values())
        run_started = time.monotonic()
        result = _build_all(loaded, left_out, clock)
        if result is None:
            return 1
        timings.update(clock.seconds)
        timings["Dagster"] = time.monotonic() - run_started - sum(clock.seconds.values())
        _print_tables(warehouse, result)
        pushed = (
            None
            if left_out is not None
            else next(m.metadata for m in result.asset_materializations_for_node(PUSH_ASSET))
        )
    _print_metrics(warehouse)
    if pushed is not None:
        print_push_report(warehouse, pushed)
    print(timings_line(timings, time.monotonic() - started))
    return 0


def timings_line(timings: Mapping[str, float], total: float) -> str:
    """The demo's times, part by part, and its total."""
    parts = [f"{name} {seconds:.1f} s" for name, seconds in timings.items()]
    return f"Timings: {', '.join(parts)}, total {total:.1f} s"


def step_names(loaded: dg.Definitions) -> dict[dg.AssetKey, str]:
    """Each asset's step name on the console: "dbt" for the models, else its group's name."""
    import dagster as dg

    graph = loaded.resolve_asset_graph()
    dbt = dg.AssetSelection.kind("dbt").resolve(graph)
    names = {}
    for key in graph.get_all_asset_keys():
        group = graph.get(key).group_name
        names[key] = "dbt" if key in dbt else STEP_NAMES.get(group, group)
    return names


class StepClock:
    """Times the run's steps from its events: a line as each finishes, and the seconds per name.

    A step is named after the assets it materializes (`step_names`), or "checks" when it only
    checks some. Consecutive steps of one name (the audiences, the checks) make one line.
    """

    def __init__(self, names: Mapping[dg.AssetKey, str], out: TextIO) -> None:
        self.names = names
        self.out = out  # the console: the build's own output is held back
        self.seconds: dict[str, float] = {}
        self._step_names: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self._line: tuple[str, float] = ("", 0.0)  # the name and seconds not printed yet

    def __call__(self, entry: dg.EventLogEntry) -> None:
        """Called with each event of the run as it is stored."""
        import dagster as dg

        event = entry.dagster_event
        if event is None or event.step_key is None:
            return
        step = event.step_key
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            self._step_names.setdefault(step, self.names[event.asset_key])
        elif event.event_type == dg.DagsterEventType.STEP_START:
            if self._line[0] != self._name(step):
                self.flush()
            self._started[step] = entry.timestamp
        elif event.is_step_success or event.is_step_failure:
            name, seconds = self._name(step), entry.timestamp - self._started.pop(step)
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds
            self._line = (name, self._line[1] + seconds)

    def flush(self) -> None:
        """Print the line of the last steps, if not yet printed."""
        name, seconds = self._line
        if name:
            print(f"  {name:<16} {seconds:6.1f} s", file=self.out, flush=True)
        self._line = ("", 0.0)

    def _name(self, step: str) -> str:
        return self._step_names.get(step, "checks")


@contextmanager
def _progress_on_console() -> Iterator[None]:
    """The ingestion's progress lines on stderr while the (quiet) build runs."""
    from intercom_pipeline.sources.intercom.progress import PROGRESS_LOGGER

    logger = logging.getLogger(PROGRESS_LOGGER)
    handler = logging.StreamHandler(sys.stderr)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _build_all(
    loaded: dg.Definitions, left_out: dg.AssetSelection | None, clock: StepClock
) -> dg.ExecuteInProcessResult | None:
    """Materialize the demo job (less `left_out`), then the sync history of that very run.

    The history of a run can only be read once the run has ended, so the job runs without the
    history's assets (the sync history, its marts, the BI copy and the dashboard), and a second,
    short run builds them, as the history sensor does after each sync in a deployment. None,
    with the reason shown, if either run fails.
    """
    import dagster as dg

    from intercom_pipeline.defs.operations import SETUP_EVENTS, SYNC_RUNS

    graph = loaded.resolve_asset_graph()
    job = loaded.resolve_job_def(DEMO_JOB)
    in_job = dg.AssetSelection.all().resolve(job.asset_layer.asset_graph)
    if left_out is not None:
        names = sorted(k.to_user_string() for k in left_out.resolve(graph))
        print(
            f"Not run, as they write to the workspace: {', '.join(names)}. "
            "`intercom-pipeline demo --push` runs them too."
        )
        in_job -= left_out.resolve(graph)
    history = dg.AssetSelection.assets(SYNC_RUNS, SETUP_EVENTS).downstream().resolve(graph)
    instance = (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else dg.DagsterInstance.ephemeral()
    )
    result = _execute(job, instance, sorted(in_job - history), clock)
    if result is None or not history:
        return result
    everything = loaded.resolve_implicit_global_asset_job_def()
    return result if _execute(everything, instance, sorted(history), clock) else None


def _execute(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    selection: list[dg.AssetKey],
    clock: StepClock,
) -> dg.ExecuteInProcessResult | None:
    """Run `job` (its `selection`) quietly; None, with the reason shown, if it fails.

    dbt's event stream is held back (the Dagster UI keeps it as logs) and its tail printed only
    when the build fails. The clock hears every event of the run as it is stored, through
    `DagsterInstance.add_event_listener` (not in Dagster's API docs; Dagster's own external steps
    use it).
    """
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    run_id = str(uuid.uuid4())
    instance.add_event_listener(run_id, clock)
    dbt_output = io.StringIO()
    with redirect_stdout(dbt_output), _progress_on_console():
        result = job.execute_in_process(
            instance=instance,
            run_config=quiet,
            raise_on_error=False,
            asset_selection=selection,
            run_id=run_id,
        )
    clock.flush()
    if result.success:
        return result
    print(dbt_output.getvalue()[-4000:], file=sys.stderr)
    failure = next((e for e in result.all_events if e.is_step_failure), None)
    reason = (
        failure.step_failure_data.error.message
        if failure and failure.step_failure_data.error
        else "see the run log"
    )
    print(f"error: the build failed: {reason.strip()}", file=sys.stderr)
    return None


def _print_tables(warehouse: Warehouse, result: dg.ExecuteInProcessResult) -> None:
    from intercom_pipeline.sources.intercom.tables import TABLE_NAME_WIDTH
    from intercom_pipeline.warehouse.load import table_counts

    rows_loaded = {
        m.asset_key.path[-1]: m.metadata["rows_loaded"].value
        for m in result.asset_materializations_for_node("intercom_raw")
    }
    print("Raw tables (rows loaded this run / rows in the table):")
    for table, total in table_counts(warehouse).items():
        print(f"  {table:<{TABLE_NAME_WIDTH}} {rows_loaded.get(table, 0):>8} {total:>8}")


def _print_metrics(warehouse: Warehouse) -> None:
    from intercom_pipeline.warehouse.metrics import headline_metrics

    print("Headline metrics (analytics schema):")
    with warehouse.read() as conn:
        for name, value in headline_metrics(conn).items():
            print(f"  {name:<38} {value}")
    if warehouse.settings.lake is None:
        serving = warehouse.settings.serving_path
        print(f"BI tools: open {serving} read-only (e.g. duckdb -readonly {serving})")
    else:
        print(f"BI tools: attach the {warehouse.describe()} read-only (README, Scale-out)")
    dashboard = warehouse.settings.serving_path.parent / "dashboard" / "index.html"
    if dashboard.exists():
        print(f"Dashboard: open {dashboard} in a browser")


def print_push_report(warehouse: Warehouse, pushed: dict[str, Any]) -> None:
    """The push's counts and notes (its metadata), and its first failures (from the warehouse)."""
    from intercom_pipeline.activation.push_back.ledger import FAILURES, run_failures

    counts = ("sent", "unchanged", "skipped", "failed", "write_calls", "events_merged")
    sent, unchanged, skipped, failed, writes, merged = (pushed[k].value for k in counts)
    print(
        f"Pushed to Intercom (mode {pushed['mode'].value}): {sent} sent, {unchanged} unchanged, "
        f"{skipped} skipped, {failed} failed, in {writes} write calls; {merged} events merged "
        "into another of the same contact, name and second"
    )
    if pushed["notes"].value != "none":
        print(pushed["notes"].value)
    if failed:
        print(f"First failures ({FAILURES} has them all):")
        for contact, item, reason in run_failures(warehouse, pushed["run_id"].value, limit=5):
            print(f"  {contact} ({item}): {reason}")
