"""A sandbox in its own process, for benchmarks (so it does not share the measured process)."""

import socket
import subprocess
import sys
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
