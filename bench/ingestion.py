"""Full and incremental extraction against a sandbox with latency, at the rate-limit floor.

Per scale (`--scales tiny,demo,bench`, default bench) it starts `intercom-pipeline sandbox` in its
own process (150 ms latency, the default rate limit), loads everything into a fresh warehouse,
moves the sandbox clock so that 1% of records change, and loads again. For the full run it prints

- per endpoint: calls, when they ran (seconds from the start), calls/s / ceiling while they ran
- per dlt step (extract, normalize, load): seconds, calls, calls/s / ceiling, peak memory
- the run: calls, seconds, 429s, retries, the floor (calls / ceiling) and the run's ratio to it
  (targets: <= 1.2 at bench scale, <= 1.5 at demo scale)

then the incremental run's calls and time as fractions of the full run's (calls target <= 0.02),
and at the end one line per scale (peak memory target: flat as the workspace grows).

    .venv/bin/python bench/ingestion.py [--scales tiny,demo,bench] [--latency-ms 150]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import requests
from sandbox_process import CallSampler, start_sandbox

from intercom_pipeline.defs.resources import resources_from_environment
from intercom_pipeline.sources.intercom import RAW_TABLES
from intercom_pipeline.warehouse.load import IngestionResult, run_ingestion

STEPS = ("extract", "normalize", "load")
CONTROL = "/_sandbox"  # the benchmark's own calls to the sandbox, not the pipeline's


class PeakMemory:
    """This process's peak resident memory in every tenth of a second (Linux).

    Each sample reads the kernel's high-water mark (VmHWM) and resets it, so a sample is the
    exact peak of its interval, however short the spike; a step's peak is the largest sample
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


def _high_water_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found in /proc/self/status")


@dataclass
class ScaleResult:
    scale: str
    calls: int
    seconds: float
    floor_ratio: float
    peak_mb: float


def _step_times(run: IngestionResult) -> dict[str, tuple[float, float]]:
    """dlt step -> (start, end) as Unix times, from the run's trace."""
    trace = run.load_info.pipeline.last_trace
    return {
        s.step: (s.started_at.timestamp(), s.finished_at.timestamp())
        for s in trace.steps
        if s.step in STEPS
    }


def _report_full(
    full: IngestionResult,
    started: float,
    ceiling: float,
    calls: CallSampler,
    memory: PeakMemory,
) -> None:
    print("  per endpoint                                  calls    from      to  calls/s/ceiling")
    for endpoint, (first, last, count) in calls.windows().items():
        if endpoint.startswith(("GET " + CONTROL, "POST " + CONTROL, "PUT " + CONTROL)):
            continue
        rate = count / max(last - first, 1.0)
        print(
            f"    {endpoint:<42} {count:>8,} {first - started:>7.0f} {last - started:>7.0f}"
            f"  {rate / ceiling:>5.2f}"
        )
    print("  per step     seconds     calls  calls/s/ceiling  peak MB")
    for step, (start, end) in _step_times(full).items():
        seconds = end - start
        count = calls.calls_between(start, end)
        print(
            f"    {step:<10} {seconds:>8.1f} {count:>9,}  {count / max(seconds, 1e-9) / ceiling:>15.2f}"
            f"  {memory.peak(start, end):>7,.0f}"
        )
    made = full.api["api_calls"]
    floor = made / ceiling
    print(
        f"  full run: {made:,} calls, {sum(full.rows_loaded.values()):,} rows in "
        f"{full.seconds:.0f} s; 429s {full.api['rate_limited']}, retries {full.api['retries']}; "
        f"floor {floor:.0f} s (calls / {ceiling:.1f} calls/s): {full.seconds / floor:.2f}x the floor"
    )


def _report_incremental(full: IngestionResult, incremental: IngestionResult) -> None:
    print(
        f"  incremental run after 1% changed: {incremental.api['api_calls']:,} calls "
        f"({incremental.api['api_calls'] / full.api['api_calls']:.4f} of the full run, target "
        f"<= 0.02), {incremental.seconds:.1f} s ({incremental.seconds / full.seconds:.4f} of "
        "the full run's time)"
    )


def _one_percent(ws: dict[str, Any]) -> dict[str, int]:
    return {
        "new_conversations": ws["conversations"] // 200,
        "replies": ws["conversations"] // 400,
        "closes": ws["conversations"] // 400,
        "contact_updates": ws["contacts"] // 100,
        "company_updates": ws["companies"] // 100,
    }


def run_scale(scale: str, args: argparse.Namespace) -> ScaleResult:
    """Full run, 1% change, incremental run against a fresh sandbox at `scale`; reports both."""
    sandbox, base, status = start_sandbox(
        "--scale", scale, "--latency-ms", str(args.latency_ms), "--rate-limit", str(args.rate_limit)
    )
    workdir = Path(tempfile.mkdtemp(prefix="intercom-bench-"))
    env = {
        "INTERCOM_BASE_URL": base,
        "INTERCOM_ACCESS_TOKEN": "sandbox-token",
        "DUCKDB_PATH": str(workdir / "warehouse.duckdb"),
    }
    ceiling = status["rate_limit_per_minute"] / 60
    print(
        f"scale={scale} latency={args.latency_ms:.0f} ms rate limit={args.rate_limit}/min "
        f"(ceiling {ceiling:.1f} calls/s)"
    )
    try:
        resources = resources_from_environment(env, resolved=True)
        warehouse, intercom = resources["warehouse"].get(), resources["intercom"]
        memory, calls = PeakMemory(), CallSampler(base)
        memory.thread.start()
        calls.start()
        started = time.time()
        full = run_ingestion(warehouse, intercom.connect())
        calls.finish()
        requests.post(
            f"{base}{CONTROL}/clock/advance",
            json={"seconds": 3600, "activity": _one_percent(status["workspace"])},
            timeout=600,
        ).raise_for_status()
        # The hourly tables: companies are read whole daily, deletions reconciled daily.
        hourly = [t for t in RAW_TABLES if t not in ("companies", "deletions")]
        incremental = run_ingestion(warehouse, intercom.connect(), hourly)
        memory.stop.set()
        memory.thread.join()
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    _report_full(full, started, ceiling, calls, memory)
    _report_incremental(full, incremental)
    made = full.api["api_calls"]
    return ScaleResult(scale, made, full.seconds, full.seconds * ceiling / made, memory.peak())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="bench")
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument("--rate-limit", type=int, default=10_000)
    args = parser.parse_args()
    dlt.config["runtime.log_level"] = "ERROR"
    results = [run_scale(scale, args) for scale in args.scales.split(",")]
    print("scale      calls  seconds  x floor  peak MB (whole process, both runs)")
    for r in results:
        print(
            f"{r.scale:<6} {r.calls:>9,} {r.seconds:>8.0f} {r.floor_ratio:>8.2f} {r.peak_mb:>8,.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
