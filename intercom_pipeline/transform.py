"""The dbt project: where it is, its manifest kept current, and its variables, without Dagster.

dagster-dbt reads `manifest.json` when the definitions load. `dbt parse` writes it without
opening the warehouse; it runs here whenever a model, macro, test or seed is newer than the
manifest, under a file lock because `dagster dev` loads the code in two processes at once.
dbt's profile is written by the warehouse (`Warehouse.write_dbt_profile`), its variables come
from the resources: the project holds no default of its own.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

from intercom_pipeline.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
# The dbt installed beside this Python, found without relying on PATH (a venv need not be active).
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")
_SOURCES = ("models", "macros", "tests", "seeds", "dbt_project.yml")
# What the manifest was parsed with: dbt parses everything again when the profile or the
# variables change, so builds parse first with theirs (once) and then reuse that parse.
_PARSED_WITH = "parsed_with.json"


def dbt_vars(values: dict[str, object]) -> str:
    """`--vars` for dbt: YAML, of which JSON is a part."""
    return json.dumps(values, sort_keys=True)


def manifest_is_stale(project_dir: Path, parsed_with: str) -> bool:
    """True when the manifest is missing, older than a file dbt reads, or parsed otherwise.

    Otherwise: with another profile or other variables (`parsed_with`).
    """
    target = project_dir / "target"
    manifest = target / "manifest.json"
    stamp = target / _PARSED_WITH
    if not manifest.exists() or not stamp.exists() or stamp.read_text() != parsed_with:
        return True
    built = manifest.stat().st_mtime
    for name in _SOURCES:
        path = project_dir / name
        files = path.rglob("*") if path.is_dir() else [path]
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


def prepare_manifest(
    profiles_dir: Path, variables: dict[str, object], project_dir: Path = DBT_PROJECT_DIR
) -> Path:
    """Run `dbt parse` when the manifest is stale; returns the manifest's path.

    Raises:
        RuntimeError: dbt could not parse the project; the message carries dbt's output.
    """
    target = project_dir / "target"
    target.mkdir(exist_ok=True)
    parsed_with = json.dumps(
        {"profile": (profiles_dir / "profiles.yml").read_text(), "vars": dbt_vars(variables)}
    )
    with (target / ".parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest_is_stale(project_dir, parsed_with):
            result = subprocess.run(
                [
                    str(DBT_EXECUTABLE),
                    "parse",
                    "--quiet",
                    "--profiles-dir",
                    str(profiles_dir),
                    "--vars",
                    dbt_vars(variables),
                ],
                cwd=project_dir,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(
                    f"dbt parse failed in {project_dir}:\n{result.stdout}{result.stderr}"
                )
            (target / _PARSED_WITH).write_text(parsed_with)
    return target / "manifest.json"
