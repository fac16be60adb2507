"""Full and incremental extraction against a sandbox with latency (targets from the ingest issue).

Starts `intercom-pipeline sandbox` in its own process (150 ms latency, default rate limit),
loads everything into a fresh warehouse, moves the sandbox clock so that 1% of records change,
and loads again. Prints:
- calls per second while fetching conversation details / the rate-limit ceiling (target >= 0.9)
- rows per second, and this process's peak memory, overall and per phase (extract, normalize,
  load) of each run
- the incremental run's calls and time as fractions of the full run's (target calls <= 0.02)

    python bench/ingestion.py [--scale bench] [--latency-ms 150]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import dlt
import requests
from sandbox_process import start_sandbox

from intercom_pipeline.defs.resources import resources_from_environment
from intercom_pipeline.sources.intercom import RAW_TABLES
from intercom_pipeline.warehouse.load import IngestionResult, run_ingestion

DETAIL = "GET /conversations/{id}"
PHASES = ("extract", "normalize", "load")


class DetailRate:
    """Samples the sandbox's count of detail calls once a second."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            calls = requests.get(f"{self.base}/_sandbox/stats/summary", timeout=30).json()["calls"]
            self.samples.append((time.monotonic(), calls.get(DETAIL, 0)))
            self.stop.wait(1.0)

    def rate(self) -> float:
        """Calls per second between 10% and 90% of the detail calls (the steady state)."""
        total = self.samples[-1][1]
        inside = [(t, n) for t, n in self.samples if 0.1 * total <= n <= 0.9 * total]
        if len(inside) < 2:
            return 0.0
        (t0, n0), (t1, n1) = inside[0], inside[-1]
        return (n1 - n0) / (t1 - t0)


class PeakMemory:
    """This process's peak resident memory in every tenth of a second (Linux).

    Each sample reads the kernel's high-water mark (VmHWM) and resets it, so a sample is the
    exact peak of its interval, however short the spike; a phase's peak is the largest sample
    overlapping it.
    """

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, float]] = []  # (start, end, peak MB)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start = time.time()
        while True:
            stopping = self.stop.wait(0.1)
            end = time.time()
            self.samples.append((start, end, _high_water_mb()))
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            start = end
            if stopping:
                return

    def peak(self, start: float = 0.0, end: float = float("inf")) -> float:
        return max(mb for s, e, mb in self.samples if e >= start and s <= end)

    def phases(self, run: IngestionResult) -> str:
        """Peak per phase of a run, between the start and end times in its dlt trace."""
        trace = run.load_info.pipeline.last_trace
        peaks = {
            s.step: self.peak(s.started_at.timestamp(), s.finished_at.timestamp())
            for s in trace.steps
        }
        return ", ".join(f"{phase} {peaks[phase]:,.0f}" for phase in PHASES)


def _high_water_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found in /proc/self/status")


def _report(
    args: argparse.Namespace,
    ceiling: float,
    full: IngestionResult,
    incremental: IngestionResult,
    detail_rate: float,
    memory: PeakMemory,
) -> None:
    full_rows = sum(full.rows_loaded.values())
    print(
        f"scale={args.scale} latency={args.latency_ms:.0f} ms rate limit={args.rate_limit}/min "
        f"(ceiling {ceiling:.1f} calls/s)"
    )
    print(
        f"full run: {full.api['api_calls']:,} calls, {full_rows:,} rows in {full.seconds:.0f} s "
        f"= {full_rows / full.seconds:,.0f} rows/s; 429s {full.api['rate_limited']}, "
        f"retries {full.api['retries']}"
    )
    print(
        f"conversation details: {detail_rate:.1f} calls/s = {detail_rate / ceiling:.2f} of the "
        "ceiling (target >= 0.9)"
    )
    print(
        f"incremental run after 1% changed: {incremental.api['api_calls']:,} calls "
        f"({incremental.api['api_calls'] / full.api['api_calls']:.4f} of the full run, target "
        f"<= 0.02), {incremental.seconds:.1f} s ({incremental.seconds / full.seconds:.4f} of "
        "the full run's time)"
    )
    print(
        f"peak memory of the extracting process: {memory.peak():,.0f} MB (MB per phase, full run: "
        f"{memory.phases(full)}; incremental run: {memory.phases(incremental)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="bench")
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument("--rate-limit", type=int, default=10_000)
    args = parser.parse_args()
    sandbox, base, status = start_sandbox(
        "--scale",
        args.scale,
        "--latency-ms",
        str(args.latency_ms),
        "--rate-limit",
        str(args.rate_limit),
    )
    workdir = Path(tempfile.mkdtemp(prefix="intercom-bench-"))
    dlt.config["runtime.log_level"] = "ERROR"
    env = {
        "INTERCOM_BASE_URL": base,
        "INTERCOM_ACCESS_TOKEN": "sandbox-token",
        "DUCKDB_PATH": str(workdir / "warehouse.duckdb"),
    }
    try:
        resources = resources_from_environment(env, resolved=True)
        warehouse, intercom = resources["warehouse"].get(), resources["intercom"]
        ceiling = status["rate_limit_per_minute"] / 60

        memory = PeakMemory()
        memory.thread.start()
        sampler = DetailRate(base)
        sampler.thread.start()
        full = run_ingestion(warehouse, intercom.connect())
        sampler.stop.set()
        sampler.thread.join()

        ws = status["workspace"]
        one_percent = {
            "new_conversations": ws["conversations"] // 200,
            "replies": ws["conversations"] // 400,
            "closes": ws["conversations"] // 400,
            "contact_updates": ws["contacts"] // 100,
            "company_updates": ws["companies"] // 100,
        }
        requests.post(
            f"{base}/_sandbox/clock/advance",
            json={"seconds": 3600, "activity": one_percent},
            timeout=600,
        ).raise_for_status()
        # The incremental run: what changed since the last run (companies are read whole by the
        # scroll once a day, and deletions are reconciled daily: both are left to that schedule).
        incremental_tables = [t for t in RAW_TABLES if t not in ("companies", "deletions")]
        incremental = run_ingestion(warehouse, intercom.connect(), incremental_tables)
        memory.stop.set()
        memory.thread.join()
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)

    _report(args, ceiling, full, incremental, sampler.rate(), memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
