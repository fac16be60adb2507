"""The Dagster code location (`workspace.yaml` loads this module).

Loading it reads no data and opens no DuckDB connection: assets do their work when they run.
"""

from pathlib import Path
from typing import Any

import dagster as dg

from intercom_pipeline.defs.resources import resources_from_environment


def build_definitions(resources: dict[str, Any] | None = None) -> dg.Definitions:
    """The modules of `defs/` with their resources (default: from the environment)."""
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(resources=resources or resources_from_environment()),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Everything the project defines, loaded from the modules in `defs/`."""
    return build_definitions()
