"""Where a survey request goes: the workspace, a test sandbox, or nowhere.

Test mode must never message a real customer. A workspace's base URL says nothing reliable
about that (an egress proxy in front of real Intercom has an address of its own), so test mode
sends only to SURVEY_TEST_SANDBOX_URL, or to a workspace that positively answers as the
project's sandbox on its control API (`GET /_sandbox/status`, which Intercom does not have).
"""

from __future__ import annotations

import logging

import requests

from intercom_pipeline.activation.surveys.settings import SurveySettings
from intercom_pipeline.sources.intercom import Workspace
from intercom_pipeline.sources.intercom.client import IntercomClient

PROBE_TIMEOUT_SECONDS = 10
# Keys of the sandbox's /_sandbox/status answer; a 200 without them is not the sandbox.
SANDBOX_STATUS_KEYS = frozenset({"workspace", "faults", "scale"})

logger = logging.getLogger(__name__)


def is_project_sandbox(base_url: str) -> bool:
    """Whether `base_url` serves the project's sandbox; any doubt answers no.

    The probe carries no token: the sandbox's control API needs none, and a workspace's token
    is not sent anywhere it is not needed.
    """
    try:
        response = requests.get(
            f"{base_url}/_sandbox/status", timeout=PROBE_TIMEOUT_SECONDS, allow_redirects=False
        )
        status = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return False
    return isinstance(status, dict) and SANDBOX_STATUS_KEYS <= status.keys()


class Destinations:
    """Where this pass sends each workspace's surveys; each workspace is probed at most once."""

    def __init__(self, settings: SurveySettings, test_client: IntercomClient | None) -> None:
        self.settings = settings
        self.test_client = test_client
        self._sandbox: dict[str, bool] = {}

    def client_for(self, ws: Workspace) -> IntercomClient | None:
        """The client to POST /messages with; None: build, validate and log, send nothing."""
        if self.settings.is_production:
            return ws.client
        if self.test_client is not None:
            return self.test_client
        if ws.workspace_id not in self._sandbox:
            self._sandbox[ws.workspace_id] = is_project_sandbox(ws.client.settings.base_url)
            if not self._sandbox[ws.workspace_id]:
                logger.info(
                    "test mode: workspace %s is not the project's sandbox, so its survey requests"
                    " are built, validated and logged, and sent nowhere",
                    ws.workspace_id,
                )
        return ws.client if self._sandbox[ws.workspace_id] else None
