"""`intercom-pipeline`: the command-line entry point.

intercom-pipeline sandbox [--port 8765 --seed 1 --scale demo]   serve the Intercom sandbox
intercom-pipeline demo                                           run the main job end to end
intercom-pipeline config                                         show the effective settings
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from intercom_pipeline.sandbox import DEFAULT_TOKEN, Faults, RunningSandbox, Sandbox, SandboxConfig
from intercom_pipeline.sandbox.generator import SCALES
from intercom_pipeline.settings import (
    ConfigurationError,
    IntercomSettings,
    Secret,
    duckdb_path,
    intercom_settings,
)
from intercom_pipeline.sources.intercom.client import IntercomClient, IntercomError


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

    commands.add_parser(
        "demo", help="run the main job on the configured workspace (the sandbox by default)"
    )
    commands.add_parser("config", help="print the effective configuration (the token masked)")

    args = parser.parse_args(argv)
    try:
        if args.command == "sandbox":
            return _serve(args)
        if args.command == "demo":
            return _demo()
        return _show_config()
    except (ConfigurationError, IntercomError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


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


@contextmanager
def _workspace() -> Iterator[tuple[IntercomSettings, str]]:
    """The configured workspace, or an embedded sandbox when none is configured."""
    settings = intercom_settings()
    if settings.access_token or settings.uses_custom_base_url:
        yield settings, f"{settings.base_url} (region {settings.region})"
        return
    with RunningSandbox(Sandbox(SandboxConfig(seed=1, scale="demo"))) as running:
        sandbox = replace(settings, base_url=running.base_url, access_token=Secret(DEFAULT_TOKEN))
        yield sandbox, f"the embedded Intercom sandbox at {running.base_url} (seed 1, demo scale)"


def _demo() -> int:
    with _workspace() as (settings, label):
        print(f"Workspace: {label}")
        client = IntercomClient(settings)
        started = time.monotonic()
        counts = {
            "admins": sum(1 for _ in client.request("GET", "/admins")["admins"]),
            "teams": len(client.request("GET", "/teams")["teams"]),
            "tags": len(client.request("GET", "/tags")["data"]),
            "segments": len(client.request("GET", "/segments")["segments"]),
            "data_attributes": sum(
                len(client.request("GET", "/data_attributes", params={"model": m})["data"])
                for m in ("contact", "company")
            ),
            "help_centers": len(client.request("GET", "/help_center/help_centers")["data"]),
            "collections": sum(1 for _ in client.numbered_pages("/help_center/collections")),
            "articles": sum(1 for _ in client.numbered_pages("/articles")),
            "companies": sum(1 for _ in client.scroll()),
            "contacts": sum(1 for _ in client.cursor_list("/contacts", "data")),
            "conversations": sum(1 for _ in client.cursor_list("/conversations", "conversations")),
            "tickets": sum(
                1
                for _ in client.search(
                    "/tickets/search",
                    {"field": "created_at", "operator": ">", "value": 0},
                    "tickets",
                )
            ),
        }
        print(f"Walked every module in {time.monotonic() - started:.1f}s:")
        for module, count in counts.items():
            print(f"  {module:<16} {count:>7}")
        print(f"Warehouse (DUCKDB_PATH): {duckdb_path()}")
    return 0


def _show_config() -> int:
    settings = intercom_settings()
    print(
        f"INTERCOM_ACCESS_TOKEN  {'set (hidden)' if settings.access_token else 'not set: the embedded sandbox is used'}"
    )
    print(f"INTERCOM_REGION        {settings.region}")
    print(f"INTERCOM_BASE_URL      {settings.base_url}")
    print(f"INTERCOM_API_VERSION   {settings.api_version}")
    print(f"DUCKDB_PATH            {duckdb_path()}")
    print(f"DAGSTER_HOME           {os.environ.get('DAGSTER_HOME', '(unset)')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
