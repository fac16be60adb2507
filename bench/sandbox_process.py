"""A sandbox in its own process, for benchmarks (so it does not share the measured process)."""

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests


def start_sandbox(*args: str) -> tuple[subprocess.Popen[bytes], str, dict[str, Any]]:
    """Start `intercom-pipeline sandbox ARGS` on a free port; return it, its URL and its status."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    cli = Path(sys.executable).parent / "intercom-pipeline"
    process = subprocess.Popen(
        [str(cli), "sandbox", "--port", str(port), *args], stdout=subprocess.DEVNULL
    )
    while True:
        try:
            return process, base, requests.get(f"{base}/_sandbox/status", timeout=1).json()
        except requests.ConnectionError:
            if process.poll() is not None:
                raise SystemExit("the sandbox exited before it was ready") from None
            time.sleep(0.1)


class CallSampler:
    """Samples the sandbox's calls per endpoint once a second, with the time of each sample."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.samples: list[tuple[float, dict[str, int]]] = []  # (time.time(), calls by endpoint)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            calls = requests.get(f"{self.base}/_sandbox/stats/summary", timeout=30).json()["calls"]
            self.samples.append((time.time(), calls))
            if self._stop.wait(1.0):
                return

    def counts(self, endpoint: str) -> list[tuple[float, int]]:
        return [(t, calls.get(endpoint, 0)) for t, calls in self.samples]

    def calls_between(self, start: float, end: float) -> int:
        """Calls of every endpoint between two times (to the nearest sample)."""

        def total_at(moment: float) -> int:
            before = [calls for t, calls in self.samples if t <= moment]
            return sum(before[-1].values()) if before else 0

        return total_at(end) - total_at(start)

    def windows(self) -> dict[str, tuple[float, float, int]]:
        """Endpoint -> (first, last second its count moved, its calls), in order of first call."""
        found: dict[str, tuple[float, float, int]] = {}
        previous: tuple[float, dict[str, int]] | None = None
        for t, calls in self.samples:
            before_t, before = previous if previous else (t, {})
            for endpoint, count in calls.items():
                if count != before.get(endpoint, 0):
                    first = found.get(endpoint, (before_t, 0.0, 0))[0]
                    found[endpoint] = (first, t, count)
            previous = (t, calls)
        return dict(sorted(found.items(), key=lambda item: item[1][0]))


class CallRate(CallSampler):
    """The steady rate of one endpoint's calls."""

    def __init__(self, base: str, endpoint: str) -> None:
        super().__init__(base)
        self.endpoint = endpoint

    def rate(self) -> float:
        """Calls per second between 10% and 90% of the calls (the steady state)."""
        samples = self.counts(self.endpoint)
        total = samples[-1][1] if samples else 0
        inside = [(t, n) for t, n in samples if 0.1 * total <= n <= 0.9 * total]
        if len(inside) < 2:
            return 0.0
        (t0, n0), (t1, n1) = inside[0], inside[-1]
        return (n1 - n0) / (t1 - t0)
