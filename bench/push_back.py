"""The push back at scale (targets from the push-back issue).

Starts `intercom-pipeline sandbox --scale bench` in its own process (150 ms latency, default rate
limit), writes a warehouse whose `contact_survey_profile` names 100,000 of its contacts with new
survey values, pushes, then pushes again with nothing changed. Prints, from what the sandbox
received (GET /_sandbox/stats/summary), not from the client's counters:
- writes that got through per second in the steady state / the rate-limit ceiling (target >= 0.9),
  and the calls answered 429 (not counted as writes)
- the unchanged rerun's writes (target 0)

    python bench/push_back.py [--contacts 100000] [--latency-ms 150] [--scale bench]
    python bench/push_back.py --scale tiny --contacts 50 --latency-ms 0   # a smoke run
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import requests
from sandbox_process import CallRate, start_sandbox

from intercom_pipeline.activation.push_back.push import push_survey_results
from intercom_pipeline.activation.push_back.settings import PushSettings
from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import connect
from intercom_pipeline.warehouse import Warehouse
from intercom_sandbox.generator import build_workspace


class WriteRate(CallRate):
    """Samples the writes the sandbox received (past the rate limit) once a second."""

    def __init__(self, base: str) -> None:
        super().__init__(base, "writes")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), {"writes": sandbox_stats(self.base)["write_count"]}))
            self._stop.wait(1.0)


def sandbox_stats(base: str) -> dict:
    return requests.get(f"{base}/_sandbox/stats/summary", timeout=60).json()


def write_profiles(warehouse: Path, contacts: int, seed: int, scale: str) -> None:
    """A warehouse with the marts the push reads: `contacts` profiles, no sends or responses."""
    workspace = build_workspace(seed, scale)
    ids = [c.id for c in workspace.visible_contacts()][:contacts]
    app_id = workspace.app_id
    del workspace
    rng = random.Random(seed)
    rows = [
        (app_id, contact_id, s, "promoter" if s >= 9 else "passive" if s >= 7 else "detractor")
        for contact_id, s in ((i, rng.randint(0, 10)) for i in ids)
    ]
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create schema analytics")
        conn.execute(
            "create table analytics.contact_survey_profile (workspace_id varchar,"
            " contact_id varchar, last_score integer, last_category varchar,"
            " last_metric varchar default 'NPS', last_comment varchar default 'thanks')"
        )
        conn.executemany(
            "insert into analytics.contact_survey_profile"
            " (workspace_id, contact_id, last_score, last_category) values (?, ?, ?, ?)",
            rows,
        )
        conn.execute(
            "create table analytics.survey_sends (workspace_id varchar, contact_id varchar,"
            " send_key varchar, metric varchar, conversation_id varchar, sent_at timestamp)"
        )
        conn.execute(
            "create table analytics.survey_responses (workspace_id varchar, contact_id varchar,"
            " response_key varchar, metric varchar, score integer, category varchar,"
            " comment varchar, conversation_id varchar, responded_at timestamp)"
        )
        conn.execute(
            "create table analytics.survey_response_quarantine"
            " (response_key varchar, rejection_code varchar, rejection_reason varchar)"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument("--rate-limit", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=PushSettings().workers)
    parser.add_argument("--scale", default="bench", choices=("tiny", "demo", "bench"))
    args = parser.parse_args()
    sandbox, base, status = start_sandbox(
        "--scale",
        args.scale,
        "--latency-ms",
        str(args.latency_ms),
        "--rate-limit",
        str(args.rate_limit),
    )
    path = Path(tempfile.mkdtemp(prefix="intercom-push-bench-")) / "warehouse.duckdb"
    try:
        write_profiles(path, args.contacts, seed=1, scale=args.scale)
        warehouse = Warehouse.at(path)
        settings = intercom_settings(
            {"INTERCOM_BASE_URL": base, "INTERCOM_ACCESS_TOKEN": "sandbox-token"}
        )
        ceiling = status["rate_limit_per_minute"] / 60
        sampler = WriteRate(base)
        sampler.start()
        started = time.monotonic()
        first = push_survey_results(
            warehouse, connect([settings]), PushSettings(workers=args.workers)
        )
        seconds = time.monotonic() - started
        sampler.finish()
        pushed = sandbox_stats(base)
        requests.post(f"{base}/_sandbox/stats/reset", timeout=60).raise_for_status()
        rerun = push_survey_results(warehouse, connect([settings]), PushSettings())
        rerun_writes = sandbox_stats(base)["write_count"]
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    rate = sampler.rate()
    print(
        f"{args.contacts:,} changed contacts, {args.workers} workers, latency {args.latency_ms:.0f} ms, rate limit "
        f"{args.rate_limit}/min (ceiling {ceiling:.1f} calls/s)"
    )
    print(
        f"push: {first.sent:,} sent, {first.failed} failed in {seconds:.0f} s; the sandbox "
        f"received {pushed['write_count']:,} writes and answered {pushed['rate_limited']:,} "
        f"calls with 429; writes {rate:.1f}/s = {rate / ceiling:.2f} of the ceiling "
        "(target >= 0.9)"
    )
    print(
        f"unchanged rerun: the sandbox received {rerun_writes} writes, {rerun.unchanged:,} "
        "unchanged (target 0 writes)"
    )
    print(f"peak memory of the pushing process: {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
