"""The Dagster code location (`workspace.yaml` loads this module).

Loading it reads no data and opens no DuckDB connection: assets do their work when they run.
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    """Everything the project defines, loaded from the modules in `defs/`."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
