"""The dbt project: where it is, its manifest kept current, and each warehouse's build folder.

dagster-dbt reads `manifest.json` when the definitions load. `dbt parse` writes it without
opening the warehouse; it runs here whenever a model, macro, test or seed is newer than the
manifest, under a file lock because `dagster dev` loads the code in two processes at once.
dbt's profile is written by the warehouse (`Warehouse.write_dbt_profile`) and its variables come
from the resources: the project holds no setting of its own.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from intercom_pipeline.settings import PROJECT_ROOT
from intercom_pipeline.warehouse import Warehouse

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
# The dbt installed beside this Python, found without relying on PATH (a venv need not be active).
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")
_SOURCES = ("models", "macros", "tests", "seeds", "dbt_project.yml")
# The manifest names the models, whatever the warehouse and variables: it is parsed with a
# profile and variables of its own, the same in every process, so no process parses again
# because another one runs with other settings.
_PARSED_WITH = "parsed_with.json"
_PARSE_VARS = {"survey_match_by_email": False}
PARTIAL_PARSE = "partial_parse.msgpack"


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


def prepare_manifest(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Run `dbt parse` when the manifest is stale; returns the manifest's path.

    Raises:
        RuntimeError: dbt could not parse the project; the message carries dbt's output.
    """
    target = project_dir / "target"
    target.mkdir(exist_ok=True)
    profiles_dir = Warehouse.at(target / "parse_only.duckdb").write_dbt_profile(
        target / "parse_profile"
    )
    variables = _PARSE_VARS
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


@contextmanager
def build_folder(warehouse: Warehouse) -> Iterator[Path]:
    """The target folder of one dbt invocation on `warehouse`, with this warehouse's last parse.

    dbt parses the whole project again when the profile changes, and the profile names the
    warehouse, so each warehouse keeps its own parse (`partial_parse.msgpack`) in its working
    folder; the folder keeps the last invocation's artifacts (logs, run results) to look at.
    """
    work = warehouse.settings.work_dir / "dbt"
    folder = work / "last_build"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if (work / PARTIAL_PARSE).exists():
        shutil.copy(work / PARTIAL_PARSE, folder / PARTIAL_PARSE)
    yield folder
    if (folder / PARTIAL_PARSE).exists():
        shutil.copy(folder / PARTIAL_PARSE, work / PARTIAL_PARSE)


def mark_not_built(warehouse: Warehouse, reasons: dict[str, str]) -> list[str]:
    """Comment each mart left out of the build (name -> why) that a build made earlier.

    Its table stays, with the rows of its last build: the comment, which BI tools show beside
    the table, says why it no longer changes. Returns the tables commented.
    """
    marked = []
    with warehouse.connect("saying why marts are not built") as conn:
        for name, why in sorted(reasons.items()):
            found = conn.execute(
                "select schema_name from duckdb_tables() where table_name = ? "
                "and schema_name = 'analytics' and database_name = current_database()",
                [name],
            ).fetchone()
            if found is None:
                continue
            text = f"{why} Its rows are those of its last build."
            conn.execute(f"comment on table analytics.{name} is '{text.replace(chr(39), '')}'")
            marked.append(f"analytics.{name}")
    return marked
