"""Start-up time and memory of the sandbox at bench scale (target: < 30 s, < 2 GB).

Starts `intercom-pipeline sandbox --scale bench` as a separate process, waits until it answers,
makes a few representative calls, and reads the process's peak resident memory (VmHWM).

    python bench/sandbox_startup.py [--scale bench] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import requests
from sandbox_process import start_sandbox

HEADERS = {
    "Authorization": "Bearer sandbox-token",
    "Accept": "application/json",
    "Intercom-Version": "2.16",
}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="bench")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    process, base, status = start_sandbox("--scale", args.scale, "--seed", str(args.seed))
    try:
        ready = time.monotonic() - started
        ws = status["workspace"]
        timings = {}
        for label, method, path, body in (
            (
                "conversations search, first page",
                "POST",
                "/conversations/search",
                {
                    "query": {"field": "updated_at", "operator": ">", "value": 0},
                    "pagination": {"per_page": 150},
                },
            ),
            (
                "conversations search, next page (cached)",
                "POST",
                "/conversations/search",
                {
                    "query": {"field": "updated_at", "operator": ">", "value": 0},
                    "pagination": {"per_page": 150},
                },
            ),
            (
                "contacts search (day-granular date)",
                "POST",
                "/contacts/search",
                {
                    "query": {
                        "field": "updated_at",
                        "operator": ">",
                        "value": ws["now"] - 7 * 86400,
                    },
                    "pagination": {"per_page": 150},
                },
            ),
            ("contacts list page", "GET", "/contacts?per_page=150", None),
        ):
            t = time.monotonic()
            response = requests.request(
                method, base + path, json=body, headers=HEADERS, timeout=120
            )
            response.raise_for_status()
            timings[label] = time.monotonic() - t
        conversation_id = requests.get(
            f"{base}/conversations?per_page=1", headers=HEADERS, timeout=60
        ).json()["conversations"][0]["id"]
        t = time.monotonic()
        requests.get(
            f"{base}/conversations/{conversation_id}", headers=HEADERS, timeout=60
        ).raise_for_status()
        timings["one conversation with parts"] = time.monotonic() - t
        peak = peak_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"scale={args.scale} seed={args.seed}")
    print(
        f"workspace: {ws['conversations']:,} conversations, {ws['conversation_parts']:,} parts, "
        f"{ws['contacts']:,} contacts, {ws['companies']:,} companies, {ws['tickets']:,} tickets"
    )
    print(f"start-up until the first answer: {ready:.1f} s (target < 30 s)")
    print(f"peak resident memory: {peak:,.0f} MB (target < 2,048 MB)")
    for label, seconds in timings.items():
        print(f"  {label}: {seconds * 1000:.0f} ms")
    ok = (
        ready < 30 and peak < 2048 and ws["conversation_parts"] >= 1_000_000
        if args.scale == "bench"
        else True
    )
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
