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


class CallRate:
    """Samples the sandbox's count of one endpoint's calls once a second."""

    def __init__(self, base: str, endpoint: str) -> None:
        self.base = base
        self.endpoint = endpoint
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            calls = requests.get(f"{self.base}/_sandbox/stats/summary", timeout=30).json()["calls"]
            self.samples.append((time.monotonic(), calls.get(self.endpoint, 0)))
            self._stop.wait(1.0)

    def rate(self) -> float:
        """Calls per second between 10% and 90% of the calls (the steady state)."""
        total = self.samples[-1][1] if self.samples else 0
        inside = [(t, n) for t, n in self.samples if 0.1 * total <= n <= 0.9 * total]
        if len(inside) < 2:
            return 0.0
        (t0, n0), (t1, n1) = inside[0], inside[-1]
        return (n1 - n0) / (t1 - t0)
