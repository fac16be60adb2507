"""`intercom-pipeline`: the command-line entry point.

intercom-pipeline sandbox [--port 8765 --seed 1 --scale demo]   serve the Intercom sandbox
intercom-pipeline demo [--push]                                  run the main job end to end
intercom-pipeline ingest [TABLE ...]                             load raw tables without Dagster
intercom-pipeline config                                         show the effective settings
intercom-pipeline webhook [--host 127.0.0.1 --port 8766]         receive Intercom webhooks
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from typing import TYPE_CHECKING, Any

from intercom_pipeline.settings import ConfigurationError, IntercomSettings
from intercom_pipeline.sources.intercom.client import IntercomError
from intercom_sandbox import DEFAULT_TOKEN, Faults, RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.generator import SCALES
from intercom_sandbox.survey_feed import write_demo_survey_feed

if TYPE_CHECKING:
    import dagster as dg

    from intercom_pipeline.warehouse import Warehouse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="intercom-pipeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("sandbox", help="serve a local Intercom sandbox (REST API v2.16)")
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

    demo = commands.add_parser(
        "demo", help="run the main job on the configured workspace (the sandbox by default)"
    )
    demo.add_argument(
        "--push",
        action="store_true",
        help="on a workspace you configured, also write to it: the push back, the audience "
        "syncs and the surveys on close (the embedded sandbox always receives them)",
    )
    ingest = commands.add_parser("ingest", help="load raw tables without Dagster (default: all)")
    ingest.add_argument("tables", nargs="*", metavar="TABLE", help="raw tables to load")
    ingest.add_argument(
        "--lookback-seconds",
        type=int,
        help="overlap of incremental conversation and ticket reads "
        "(default: INTERCOM_LOOKBACK_SECONDS, else 600; contacts keep at least a day)",
    )
    ingest.add_argument(
        "--accept-mass-deletions",
        action="store_true",
        help="for this run only, mark every contact and company missing from Intercom deleted, "
        "however many (after a genuine mass deletion the reconciliation refused)",
    )
    commands.add_parser("config", help="print the effective configuration (the token masked)")
    webhook = commands.add_parser(
        "webhook", help="receive Intercom webhook notifications into the survey spool"
    )
    webhook.add_argument("--host", default="127.0.0.1")
    webhook.add_argument("--port", type=int, default=8766)

    args = parser.parse_args(argv)
    try:
        if args.command == "sandbox":
            return _serve(args)
        if args.command == "demo":
            return _demo(args.push)
        if args.command == "ingest":
            return _ingest(args.tables, args.lookback_seconds, args.accept_mass_deletions)
        if args.command == "webhook":
            return _webhook(args)
        return _show_config()
    except _user_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors shown as one line with their fix.

    The warehouse's is imported only once something failed: its package loads DuckDB, and the
    webhook receiver (this entry point) must never load it (nor Dagster, which the commands that
    need it import themselves).
    """
    from intercom_pipeline.warehouse import WarehouseError

    return (ConfigurationError, IntercomError, WarehouseError)


def _serve(args: argparse.Namespace) -> int:
    faults = Faults(
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        truncate_rate=args.truncate_rate,
    )
    config = SandboxConfig(
        seed=args.seed,
        scale=args.scale,
        token=args.token,
        rate_limit_per_minute=args.rate_limit,
        faults=faults,
    )
    started = time.monotonic()
    running = RunningSandbox(Sandbox(config), args.host, args.port)
    summary = running.sandbox.workspace.summary()
    print(
        f"Intercom sandbox (seed {args.seed}, scale {args.scale}) ready in {time.monotonic() - started:.1f}s at {running.base_url}"
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


def _webhook(args: argparse.Namespace) -> int:
    """Serve the webhook receiver until Ctrl-C or SIGTERM; the secret is never printed."""
    from intercom_pipeline.activation.surveys.webhook import (
        WebhookSpool,
        make_server,
        webhook_secret,
        webhook_spool_dir,
    )

    spool = WebhookSpool(webhook_spool_dir())
    server = make_server(args.host, args.port, webhook_secret(), spool)
    host, port = server.server_address[:2]
    print(f"Intercom webhook receiver at http://{host}:{port}/   (Ctrl-C stops)")
    print(f"  spool: {spool.folder}")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
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


def _demo(push: bool) -> int:
    """Run everything through Dagster (ingest, models, BI copy); print rows and headline metrics.

    On a workspace the user configured, what writes to Intercom runs only with `push`.
    """
    import dagster as dg

    from intercom_pipeline.definitions import build_definitions
    from intercom_pipeline.defs.resources import resources_from_environment
    from intercom_pipeline.defs.reverse_etl import PUSH_ASSET
    from intercom_pipeline.warehouse.load import table_counts
    from intercom_pipeline.warehouse.metrics import headline_metrics

    configured = resources_from_environment(resolved=True)
    warehouse = configured["warehouse"].get()
    left_out = demo_left_out(configured["intercom"].settings()[0], push)
    with _workspace(configured) as (label, resources):
        print(f"Workspace: {label}")
        print(f"Warehouse: {warehouse.path}")
        print(f"Survey feed: {resources['survey_feed'].path()}")
        started = time.monotonic()
        loaded = build_definitions(resources)
        job = loaded.resolve_job_def("intercom_build_all")
        selection = None
        if left_out is not None:
            graph = loaded.resolve_asset_graph()
            names = sorted(k.to_user_string() for k in left_out.resolve(graph))
            print(
                f"Not run, as they write to the workspace: {', '.join(names)}. "
                "`intercom-pipeline demo --push` runs them too."
            )
            selection = list((dg.AssetSelection.all() - left_out).resolve(graph))
        instance = (
            dg.DagsterInstance.get()
            if os.environ.get("DAGSTER_HOME")
            else dg.DagsterInstance.ephemeral()
        )
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        dbt_output = io.StringIO()  # dbt's event stream, which the Dagster UI keeps as logs
        with redirect_stdout(dbt_output):
            result = job.execute_in_process(
                instance=instance,
                run_config=quiet,
                raise_on_error=False,
                asset_selection=selection,
            )
        if not result.success:
            print(dbt_output.getvalue()[-4000:], file=sys.stderr)
            failure = next((e for e in result.all_events if e.is_step_failure), None)
            reason = (
                failure.step_failure_data.error.message
                if failure and failure.step_failure_data.error
                else "see the run log"
            )
            print(f"error: the build failed: {reason.strip()}", file=sys.stderr)
            return 1
        rows_loaded = {
            m.asset_key.path[-1]: m.metadata["rows_loaded"].value
            for m in result.asset_materializations_for_node("intercom_raw")
        }
        print(
            f"Built in {time.monotonic() - started:.1f}s. Raw tables "
            "(rows loaded this run / rows in the table):"
        )
        for table, total in table_counts(warehouse).items():
            print(f"  {table:<22} {rows_loaded.get(table, 0):>8} {total:>8}")
        pushed = (
            None
            if left_out is not None
            else next(m.metadata for m in result.asset_materializations_for_node(PUSH_ASSET))
        )
    serving = warehouse.settings.serving_path
    print("Headline metrics (analytics schema):")
    for name, value in headline_metrics(serving).items():
        print(f"  {name:<38} {value}")
    print(f"BI tools: open {serving} read-only (e.g. duckdb -readonly {serving})")
    if pushed is not None:
        _print_push_report(warehouse, pushed)
    return 0


def _print_push_report(warehouse: Warehouse, pushed: dict[str, Any]) -> None:
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


def _ingest(tables: list[str], lookback: int | None, accept_mass_deletions: bool) -> int:
    """Load raw tables from the configured workspace with dlt alone.

    A table loads with its whole family (a parent and its children); with
    INTERCOM_ON_TYPE_CHANGE=stop, a type change this run brought exits 1, naming it.
    """
    from dlt.pipeline.exceptions import PipelineStepFailed

    from intercom_pipeline.defs.resources import resources_from_environment
    from intercom_pipeline.settings import lookback_seconds, stop_on_type_change
    from intercom_pipeline.sources.intercom import RAW_TABLES
    from intercom_pipeline.warehouse.load import CoreTypeChanged, run_ingestion
    from intercom_pipeline.warehouse.quality import TypeChanged

    unknown = sorted(set(tables) - set(RAW_TABLES))
    if unknown:
        raise ConfigurationError(f"unknown tables {unknown}; choose from {', '.join(RAW_TABLES)}")
    if lookback is not None and lookback < 0:
        raise ConfigurationError(f"--lookback-seconds {lookback}: use 0 or more seconds")
    resources = resources_from_environment(resolved=True)
    try:
        result = run_ingestion(
            resources["warehouse"].get(),
            resources["intercom"].connect(),
            tables or None,
            stop_on_type_change=stop_on_type_change(),
            accept_mass_deletions=accept_mass_deletions,
            lookback_seconds=lookback_seconds() if lookback is None else lookback,
        )
    except (TypeChanged, CoreTypeChanged) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except PipelineStepFailed as exc:
        cause = _intercom_cause(exc)
        if cause is None:
            raise
        raise cause from None  # main() prints it: what Intercom said and what to do
    for table, rows in result.rows_loaded.items():
        print(f"  {table:<22} {rows:>8}")
    for workspace, missing in result.modules_unavailable.items():
        print(f"  skipped {', '.join(missing)}: workspace {workspace}'s plan does not include it")
    for workspace, refused in result.deletions_refused.items():
        for table, counts in refused.items():
            print(
                f"  deletions refused: {counts['missing']} of the {counts['stored']} {table} "
                f"stored for workspace {workspace} are missing from Intercom; none marked "
                "(--accept-mass-deletions accepts them for one run)"
            )
    print(
        f"{result.api.get('api_calls', 0)} API calls, {result.api.get('rate_limited', 0)} rate-limited, "
        f"{result.api.get('retries', 0)} retried, in {result.seconds:.1f}s"
    )
    return 0


def _intercom_cause(exc: BaseException) -> IntercomError | None:
    """The Intercom error behind a failed dlt step, if one is (dlt wraps it twice)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, IntercomError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _show_config() -> int:
    """Print the effective settings (secrets hidden); a bad value exits 2 with the fix."""
    from intercom_pipeline.activation.audiences.config import audiences_file
    from intercom_pipeline.activation.push_back.settings import push_settings
    from intercom_pipeline.activation.surveys.settings import survey_settings
    from intercom_pipeline.defs.resources import resources_from_environment
    from intercom_pipeline.settings import lookback_seconds

    resources = resources_from_environment(resolved=True)
    settings = resources["intercom"].settings()[0]
    warehouse = resources["warehouse"].get().settings
    print(
        f"INTERCOM_ACCESS_TOKEN  {'set (hidden)' if settings.access_token else 'not set: the embedded sandbox is used'}"
    )
    print(f"INTERCOM_REGION        {settings.region}")
    print(f"INTERCOM_BASE_URL      {settings.base_url}")
    print(f"INTERCOM_API_VERSION   {settings.api_version}")
    print(f"INTERCOM_LOOKBACK_SECONDS {lookback_seconds()} (contacts: at least a day)")
    print(f"DUCKDB_PATH            {warehouse.path}")
    print(f"DUCKDB_SERVING_DIR     {warehouse.serving_dir}")
    print(
        f"DUCKDB_MEMORY_LIMIT    {warehouse.memory_limit} (loading: {warehouse.load_memory_limit})"
    )
    print(f"DUCKDB_LOCK_TIMEOUT_SECONDS {warehouse.lock_timeout_seconds:.0f}")
    print(f"DUCKDB_SERVING_STORAGE_VERSION {warehouse.serving_storage_version}")
    print(f"SURVEY_FEED_DIR        {resources['survey_feed'].path()}")
    print(f"SURVEY_MATCH_BY_EMAIL  {str(resources['survey_feed'].match_by_email).lower()}")
    push, surveys = push_settings(), survey_settings()
    print(f"INTERCOM_PUSH_MODE     {push.mode}")
    print(f"SURVEY_MODE            {surveys.mode} (channels {', '.join(surveys.channels)})")
    print(f"AUDIENCES_FILE         {audiences_file()}")
    print(f"DAGSTER_HOME           {os.environ.get('DAGSTER_HOME', '(unset)')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
