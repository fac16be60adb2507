"""What transport faults cost a full sync (target from issue 15: at most twice the clean time).

Starts `intercom-pipeline sandbox` in its own process twice with the same seed: clean, then
answering a share of calls with a 5xx, dropping a share of connections and cutting a share of
bodies short (default 10%, 5%, 5%). Loads each into a fresh warehouse with the ingestion API, as
`intercom-pipeline ingest` does, and prints for each run its seconds per dlt step, calls,
retries, and the endpoints whose calls ended last (what the run waited for); then the faulty
run's retries per endpoint, the ratio of the times (target <= 2.0), and whether every raw table
got the same rows both times.

    .venv/bin/python bench/faults.py [--scale demo] [--seed 1] [--error-rate 0.1]
        [--drop-rate 0.05] [--truncate-rate 0.05] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed
from sandbox_process import CallSampler, start_sandbox

from intercom_pipeline.defs.resources import resources_from_environment
from intercom_pipeline.sources.intercom.errors import IntercomError
from intercom_pipeline.warehouse.load import IngestionResult, run_ingestion, table_counts

TARGET_RATIO = 2.0
LAST_ENDPOINTS = 3  # the endpoints shown per run, by when their last call was made


@dataclass(frozen=True)
class Sync:
    """One full sync: its result, the client's counts per endpoint, when each endpoint's calls
    ran (seconds from the start), and the rows per raw table."""

    result: IngestionResult
    endpoints: dict[str, dict[str, int]]
    windows: dict[str, tuple[float, float, int]]
    rows: dict[str, int]


class SyncFailed(RuntimeError):
    """A sync that stopped: faults beyond what the client retries."""


def full_sync(sandbox_args: list[str]) -> Sync:
    """A full sync of a fresh sandbox started with `sandbox_args` into a fresh warehouse."""
    sandbox, base, _ = start_sandbox(*sandbox_args)
    workdir = Path(tempfile.mkdtemp(prefix="intercom-bench-faults-"))
    env = {
        "INTERCOM_BASE_URL": base,
        "INTERCOM_ACCESS_TOKEN": "sandbox-token",
        "DUCKDB_PATH": str(workdir / "warehouse.duckdb"),
    }
    sampler = CallSampler(base)
    sampler.start()
    started = time.time()
    try:
        resources = resources_from_environment(env, resolved=True)
        warehouse, workspaces = resources["warehouse"].get(), resources["intercom"].connect()
        result = run_ingestion(warehouse, workspaces)
    except PipelineStepFailed as failed:
        raise SyncFailed(f"failed after {time.time() - started:.0f} s: {_cause(failed)}") from None
    finally:
        sampler.finish()
        sandbox.terminate()
        sandbox.wait(timeout=30)
    return Sync(
        result,
        {path: counts for ws in workspaces for path, counts in ws.client.endpoint_stats.items()},
        {e: (a - started, b - started, n) for e, (a, b, n) in sampler.windows().items()},
        table_counts(warehouse),
    )


def _cause(failed: BaseException) -> BaseException:
    """The Intercom error behind a failed step (dlt wraps it, sometimes in an error of its own
    raised while closing the other resources), else the failure itself."""
    seen: BaseException | None = failed
    while seen is not None:
        if isinstance(seen, IntercomError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return failed


def _describe(name: str, sync: Sync) -> str:
    result = sync.result
    steps = ", ".join(
        f"{s.step} {(s.finished_at - s.started_at).total_seconds():.1f} s"
        for s in result.load_info.pipeline.last_trace.steps
        if s.step != "run"
    )
    last = sorted(sync.windows.items(), key=lambda item: item[1][1])[-LAST_ENDPOINTS:]
    ended = "; ".join(f"{e} {a:.0f}-{b:.0f} s ({n:,} calls)" for e, (a, b, n) in reversed(last))
    return (
        f"{name:>6}: {result.seconds:6.1f} s ({steps}), {result.api['api_calls']:,} calls, "
        f"{result.api['retries']:,} retries, {result.api['rate_limited']} x 429\n"
        f"        ended last: {ended}"
    )


def _report(clean: Sync, faulty: Sync) -> bool:
    """Print the comparison; whether the rows are the same."""
    retried = sorted(
        ((c["retries"], path, c["api_calls"]) for path, c in faulty.endpoints.items()),
        reverse=True,
    )
    print(
        "retries per endpoint (faulty run): "
        + ", ".join(f"{path} {n:,} of {calls:,} calls" for n, path, calls in retried if n)
    )
    ratio = faulty.result.seconds / clean.result.seconds
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"faulty / clean: {ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")
    differing = {
        t: (n, faulty.rows.get(t)) for t, n in clean.rows.items() if faulty.rows.get(t) != n
    }
    if differing:
        print(f"rows DIFFER per table (clean, faulty): {differing}")
    else:
        print(f"rows per table equal: {len(clean.rows)} tables, {sum(clean.rows.values()):,} rows")
    return not differing


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="demo")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--error-rate", type=float, default=0.1)
    parser.add_argument("--drop-rate", type=float, default=0.05)
    parser.add_argument("--truncate-rate", type=float, default=0.05)
    parser.add_argument("--latency-ms", type=float, default=0)
    args = parser.parse_args()
    dlt.config["runtime.log_level"] = "ERROR"
    print(
        f"scale={args.scale} seed={args.seed} latency={args.latency_ms:.0f} ms; faults: "
        f"{args.error_rate:.0%} 5xx, {args.drop_rate:.0%} dropped connections, "
        f"{args.truncate_rate:.0%} truncated bodies",
        flush=True,
    )
    common = ["--scale", args.scale, "--seed", str(args.seed), "--latency-ms", str(args.latency_ms)]
    faults = ["--error-rate", str(args.error_rate), "--drop-rate", str(args.drop_rate)]
    faults += ["--truncate-rate", str(args.truncate_rate)]
    runs: dict[str, Sync] = {}
    for name, sandbox_args in (("clean", common), ("faulty", [*common, *faults])):
        try:
            runs[name] = full_sync(sandbox_args)
        except SyncFailed as failed:
            print(f"{name:>6}: {failed}")
            return 1
        print(_describe(name, runs[name]), flush=True)
    return 0 if _report(runs["clean"], runs["faulty"]) else 1


if __name__ == "__main__":
    sys.exit(main())
