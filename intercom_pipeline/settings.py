"""Configuration from environment variables, read in one place and validated once.

Every setting has a default that runs the project against the embedded sandbox, so a fresh
checkout works before anyone creates an Intercom access token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_API_VERSION = "2.16"
DEFAULT_SURVEY_FEED_DIR = "data/survey_feed"
# Conversations and tickets match to the second; the overlap absorbs late-indexed records.
DEFAULT_LOOKBACK_SECONDS = 600
REGION_BASE_URLS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}


class ConfigurationError(ValueError):
    """A setting has a value the project cannot use; the message says which and how to fix it."""


class Secret(str):
    """A string that never shows its value in reprs, logs or tracebacks."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('****')" if self else "Secret('')"

    def __str__(self) -> str:
        return "****" if self else ""

    def reveal(self) -> str:
        """The actual value, for the Authorization header only."""
        return str.__str__(self)


@dataclass(frozen=True)
class IntercomSettings:
    access_token: Secret
    region: str
    base_url: str
    api_version: str
    name: str = "default"  # the label of this workspace in INTERCOM_WORKSPACES

    @property
    def uses_custom_base_url(self) -> bool:
        return self.base_url != REGION_BASE_URLS[self.region]


def intercom_settings(
    environ: Mapping[str, str] | None = None, name: str = "default"
) -> IntercomSettings:
    """Read INTERCOM_* variables. Raises ConfigurationError naming the variable and the fix."""
    env = os.environ if environ is None else environ
    region = env.get("INTERCOM_REGION", "us").strip().lower() or "us"
    if region not in REGION_BASE_URLS:
        raise ConfigurationError(
            f"INTERCOM_REGION={region!r} is not a region Intercom hosts workspaces in. "
            f"Set it to one of {', '.join(REGION_BASE_URLS)} (where your workspace's data lives)."
        )
    base_url = (env.get("INTERCOM_BASE_URL") or REGION_BASE_URLS[region]).rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"INTERCOM_BASE_URL={base_url!r} must start with http:// or https:// "
            "(for example http://127.0.0.1:8765 for a local sandbox)."
        )
    version = env.get("INTERCOM_API_VERSION", DEFAULT_API_VERSION).strip() or DEFAULT_API_VERSION
    return IntercomSettings(
        access_token=Secret(env.get("INTERCOM_ACCESS_TOKEN", "").strip()),
        region=region,
        base_url=base_url,
        api_version=version,
        name=name,
    )


def lookback_seconds(environ: dict[str, str] | None = None) -> int:
    """INTERCOM_LOOKBACK_SECONDS: the overlap of incremental conversation and ticket reads.

    Each read starts this long before the last change it saw, so a record indexed late is not
    missed. Contacts keep at least a day whatever it says: their search matches whole days.
    """
    env = os.environ if environ is None else environ
    raw = env.get("INTERCOM_LOOKBACK_SECONDS", "").strip()
    if not raw:
        return DEFAULT_LOOKBACK_SECONDS
    if not (raw.isascii() and raw.isdigit()):
        raise ConfigurationError(
            f"INTERCOM_LOOKBACK_SECONDS={raw!r} is not a whole number of seconds (0 or more); "
            f"the default is {DEFAULT_LOOKBACK_SECONDS}."
        )
    return int(raw)


def stop_on_type_change(environ: dict[str, str] | None = None) -> bool:
    """INTERCOM_ON_TYPE_CHANGE=stop fails a sync that brings a type change (default: report)."""
    env = os.environ if environ is None else environ
    value = env.get("INTERCOM_ON_TYPE_CHANGE", "report").strip().lower() or "report"
    if value not in ("report", "stop"):
        raise ConfigurationError(
            f"INTERCOM_ON_TYPE_CHANGE={value!r}: use report (the default) or stop."
        )
    return value == "stop"


def absolute_path(raw: str) -> Path:
    """A configured path, made absolute once against the project root.

    Every process (dlt, dbt inside dbt_project/, Dagster) then reads the same place, whatever
    directory it starts in.
    """
    path = Path(raw).expanduser()
    return (path if path.is_absolute() else PROJECT_ROOT / path).resolve()
