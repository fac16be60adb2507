"""A local server that behaves like Intercom's REST API v2.16, on a generated workspace.

Use it standalone (`intercom-pipeline sandbox`) or in-process:

    with RunningSandbox(Sandbox(SandboxConfig(seed=1, scale="demo"))) as running:
        requests.get(f"{running.base_url}/admins", headers={"Authorization": "Bearer sandbox-token"})
"""

from intercom_sandbox.server import (
    API_VERSION,
    DEFAULT_TOKEN,
    Faults,
    RunningSandbox,
    Sandbox,
    SandboxConfig,
)

__all__ = ["API_VERSION", "DEFAULT_TOKEN", "Faults", "RunningSandbox", "Sandbox", "SandboxConfig"]
