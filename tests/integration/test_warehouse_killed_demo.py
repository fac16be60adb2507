"""`kill -9` of a demo in its push back, then `make demo` again on the same Dagster home.

What the dead run held (the warehouse's lock) is freed by its death, so the second demo runs to
the end; the push ledger it left keeps the second push from sending again what was recorded.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from intercom_pipeline.settings import PROJECT_ROOT

WORKERS = 4  # INTERCOM_PUSH_WORKERS: at most 3 x this many writes are in flight at the kill
WRITES_BEFORE_KILL = 600
PUSHED = re.compile(r"Pushed to Intercom \(mode \w+\): (\d+) sent, (\d+) unchanged")


def writes_received(base_url: str) -> int:
    calls = requests.get(f"{base_url}/_sandbox/stats/summary", timeout=10).json()["calls"]
    return calls.get("POST /events", 0) + calls.get("PUT /contacts/{id}", 0)


def test_a_demo_killed_in_its_push_back_then_make_demo_finishes(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("INTERCOM_")},
        "DAGSTER_HOME": str(home),
        "INTERCOM_PUSH_WORKERS": str(WORKERS),
        "SURVEY_WEBHOOK_SPOOL_DIR": str(tmp_path / "spool"),
    }
    first = subprocess.Popen(
        [str(Path(sys.executable).with_name("intercom-pipeline")), "demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert first.stdout is not None
    base_url = re.search(r"http://[\d.]+:\d+", first.stdout.readline())[0]  # type: ignore[index]
    deadline = time.monotonic() + 600
    while (received := writes_received(base_url)) < WRITES_BEFORE_KILL:
        assert first.poll() is None, "the demo ended before its push back could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)

    second = subprocess.run(
        ["make", "-s", "demo"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert second.returncode == 0, second.stderr[-4000:]
    sent, unchanged = map(int, PUSHED.search(second.stdout).groups())  # type: ignore[union-attr]
    # Everything the first push recorded is not sent again: only writes in flight at the kill
    # (3 x workers at most) may go twice.
    assert unchanged >= received - 3 * WORKERS
    assert sent > 0
