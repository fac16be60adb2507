"""`intercom-pipeline`: the command-line entry point.

intercom-pipeline sandbox [--port 8765 --seed 1 --scale demo]   serve the Intercom sandbox
intercom-pipeline demo [--push]                                  run the main job end to end
intercom-pipeline ingest [TABLE ...]                             load raw tables without Dagster
intercom-pipeline config                                         show the effective settings
intercom-pipeline webhook [--host 127.0.0.1 --port 8766]         receive Intercom webhooks
intercom-pipeline lake-import FILE                               copy a warehouse file into the lake
intercom-pipeline auth check                                     verify the token; resume the syncs
intercom-pipeline status                                         last syncs, next ones, pauses
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from intercom_pipeline import demo as demo_runner
from intercom_pipeline.settings import ConfigurationError
from intercom_pipeline.sources.intercom.client import IntercomError
from intercom_pipeline.sources.intercom.tables import TABLE_NAME_WIDTH

if TYPE_CHECKING:
    import dagster as dg


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intercom-pipeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo_runner.add_sandbox_arguments(
        commands.add_parser("sandbox", help="serve a local Intercom sandbox (REST API v2.16)")
    )
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
    lake_import = commands.add_parser(
        "lake-import",
        help="copy a DuckDB warehouse file into the (new, empty) lake WAREHOUSE=ducklake names",
    )
    lake_import.add_argument("file", help="the warehouse file, e.g. data/intercom.duckdb")
    auth = commands.add_parser("auth", help="the Intercom access token")
    auth.add_argument(
        "action",
        choices=["check"],
        help="check: ask Intercom (GET /me) whether it accepts the token; if so, resume the "
        "schedules a rejected token paused (in the Dagster instance at DAGSTER_HOME)",
    )
    commands.add_parser(
        "status",
        help="the last sync of each module, each schedule's next one and any pause with its "
        "reason (from the Dagster instance at DAGSTER_HOME)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "sandbox":
            return demo_runner.serve_sandbox(args)
        if args.command == "demo":
            return demo_runner.run_demo(args.push)
        if args.command == "ingest":
            return _ingest(args.tables, args.lookback_seconds, args.accept_mass_deletions)
        if args.command == "webhook":
            return _webhook(args)
        if args.command == "lake-import":
            return _lake_import(args.file)
        if args.command == "auth":
            return _auth_check()
        if args.command == "status":
            return _status()
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


def _lake_import(file: str) -> int:
    """Move from the file mode to the lake: everything the file holds, into an empty lake."""
    from pathlib import Path

    from intercom_pipeline.defs.resources import resources_from_environment
    from intercom_pipeline.warehouse import Lake
    from intercom_pipeline.warehouse.ducklake import import_file

    lake = resources_from_environment(resolved=True)["warehouse"].get()
    if not isinstance(lake, Lake):
        raise ConfigurationError(
            "lake-import copies into the lake: set WAREHOUSE=ducklake, DUCKLAKE_CATALOG and "
            "DUCKLAKE_DATA_PATH first."
        )
    tables = import_file(lake, Path(file).resolve())
    print(f"Imported {file} into the {lake.describe()}:")
    for schema, count in tables.items():
        print(f"  {schema:<24}{count:>5} tables and views")
    return 0


def _auth_check() -> int:
    """Verify the token of every workspace with GET /me, then resume what a rejection paused.

    A rejected token raises the client's IntercomAuthError (main() prints it, exit 2); the token
    itself is never printed.
    """
    from intercom_pipeline.defs.resources import resources_from_environment

    for workspace in resources_from_environment(resolved=True)["intercom"].connect():
        if not workspace.client.settings.access_token:
            raise ConfigurationError(
                f"workspace {workspace.name}: no access token to check; set INTERCOM_ACCESS_TOKEN "
                "(or INTERCOM_<NAME>_ACCESS_TOKEN for each of INTERCOM_WORKSPACES)."
            )
        app = workspace.client.request("GET", "/me").get("app") or {}
        print(
            f"workspace {workspace.name}: token accepted by {app.get('name', '?')} "
            f"(app {app.get('id_code', '?')})"
        )
    return _resume_token_pauses()


def _dagster_instance(consequence: str, command: str) -> dg.DagsterInstance | None:
    """The Dagster instance at DAGSTER_HOME (a relative path taken from here); None, said why.

    Dagster itself wants an absolute path; the Makefile's `.dagster_home` is relative to the
    project, so `DAGSTER_HOME=.dagster_home` works here too.
    """
    import dagster as dg

    raw = os.environ.get("DAGSTER_HOME", "").strip()
    home = Path(raw).expanduser().resolve() if raw else None
    if home is None or not home.is_dir():
        where = f"DAGSTER_HOME={raw!r} is no folder" if raw else "DAGSTER_HOME is not set"
        print(
            f"{where}{consequence}: set it to the folder of the Dagster instance the daemon "
            f"uses (the one holding dagster.yaml) and run `intercom-pipeline {command}` again."
        )
        return None
    return dg.DagsterInstance.from_config(str(home))


def _resume_token_pauses() -> int:
    """Resume the schedules paused for a rejected token in the instance at DAGSTER_HOME."""
    instance = _dagster_instance(", so no paused schedule was resumed", "auth check")
    if instance is None:
        return 0
    from intercom_pipeline.defs.schedules import schedule_jobs
    from intercom_pipeline.operations.pause import TOKEN_REJECTED, read_pauses, resume_schedules

    with instance:
        store = instance.run_storage
        paused = read_pauses(store, schedule_jobs())
        resumed = sorted(s for s, pause in paused.items() if pause.reason == TOKEN_REJECTED)
        resume_schedules(store, resumed)
    for schedule in resumed:
        pause = paused[schedule]
        print(f"resumed {schedule} (paused since {pause.since} by run {pause.run_id})")
    if not resumed:
        print("no schedule was paused for a rejected token")
    for schedule in sorted(set(paused) - set(resumed)):
        print(f"still paused: {paused[schedule].skip_message()}")
    return 0


def _status() -> int:
    """Print each module's last sync and each schedule's next tick or pause, from DAGSTER_HOME."""
    instance = _dagster_instance("", "status")
    if instance is None:
        return 0
    from intercom_pipeline.defs.operations import status_report
    from intercom_pipeline.defs.resources import resources_from_environment

    days = resources_from_environment(resolved=True)["operations"].history_days()
    with instance:
        print(status_report(instance, days))
    return 0
    import dagster as dg

    from intercom_pipeline.defs.operations import status_report
    from intercom_pipeline.defs.resources import resources_from_environment

    days = resources_from_environment(resolved=True)["operations"].history_days()
    with dg.DagsterInstance.get() as instance:
        print(status_report(instance, days))
    return 0


def _ingest(tables: list[str], lookback: int | None, accept_mass_deletions: bool) -> int:
    """Load raw tables from the configured workspace with dlt alone.

    A table loads with its whole family (a parent and its children); with
    INTERCOM_ON_TYPE_CHANGE=stop, a type change this run brought exits 1, naming it.
    """
    from dlt.pipeline.exceptions import PipelineStepFailed

    from intercom_pipeline.defs.resources import resources_from_environment
    from intercom_pipeline.settings import lookback_seconds, stop_on_type_change
    from intercom_pipeline.sources.intercom import RAW_TABLES
    from intercom_pipeline.sources.intercom.selection import setup_selection
    from intercom_pipeline.warehouse.load import CoreTypeChanged, run_ingestion
    from intercom_pipeline.warehouse.quality import TypeChanged

    unknown = sorted(set(tables) - set(RAW_TABLES))
    if unknown:
        raise ConfigurationError(f"unknown tables {unknown}; choose from {', '.join(RAW_TABLES)}")
    enabled = setup_selection().tables
    if off := sorted(set(tables) - set(enabled)):
        raise ConfigurationError(
            f"{', '.join(off)}: their module is off (INTERCOM_MODULES); add it to load them"
        )
    if lookback is not None and lookback < 0:
        raise ConfigurationError(f"--lookback-seconds {lookback}: use 0 or more seconds")
    resources = resources_from_environment(resolved=True)
    try:
        result = run_ingestion(
            resources["warehouse"].get(),
            resources["intercom"].connect(),
            tables or list(enabled),
            stop_on_type_change=stop_on_type_change(),
            accept_mass_deletions=accept_mass_deletions,
            excluded_fields=resources["intercom"].excluded_fields(),
            lookback_seconds=lookback_seconds() if lookback is None else lookback,
            progress_log=_console,
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
        print(f"  {table:<{TABLE_NAME_WIDTH}} {rows:>8}")
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


def _console(line: str) -> None:
    """Progress lines, on stderr so the table of rows on stdout stays clean."""
    print(line, file=sys.stderr, flush=True)


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
    from intercom_pipeline.sources.intercom.selection import setup_selection

    resources = resources_from_environment(resolved=True)
    settings = resources["intercom"].settings()[0]
    store = resources["warehouse"].get()
    warehouse = store.settings
    print(
        f"INTERCOM_ACCESS_TOKEN  {'set (hidden)' if settings.access_token else 'not set: the embedded sandbox is used'}"
    )
    print(f"INTERCOM_REGION        {settings.region}")
    print(f"INTERCOM_BASE_URL      {settings.base_url}")
    print(f"INTERCOM_API_VERSION   {settings.api_version}")
    print(f"INTERCOM_LOOKBACK_SECONDS {lookback_seconds()} (contacts: at least a day)")
    chosen = setup_selection()
    off = f" (off: {', '.join(chosen.modules_off)})" if chosen.modules_off else ""
    print(f"INTERCOM_MODULES       {', '.join(chosen.modules)}{off}")
    print(f"INTERCOM_EXCLUDE_FIELDS {', '.join(chosen.excluded_fields) or '(none)'}")
    mode = "ducklake" if warehouse.lake else "duckdb"
    print(f"WAREHOUSE              {mode}: {store.describe()}")
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
