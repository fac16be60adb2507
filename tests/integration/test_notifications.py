"""Failure notifications end to end: a real job fails against the sandbox with a wrong token,
and the sensors send through a real SMTP server and a real HTTP receiver.

The sensors are evaluated as the daemon would, one failed or succeeded run at a time, against a
Dagster instance whose key-value store keeps the causes already sent.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dagster as dg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from intercom_pipeline.defs.notifications import (
    CAUSE_KEY_PREFIX,
    clear_on_success,
    notify_on_failure,
)
from intercom_pipeline.defs.resources import resources_from_environment
from intercom_pipeline.operations.notify import NotifyError
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from tests.integration.sensing import sensed

JOB = "intercom_settings_job"
WRONG_TOKEN = "revoked-token-5f3a9c71d2"
SMTP_LOGIN, SMTP_PASSWORD = "alerts@example.com", "smtp-pass-8c1e77"


@dataclass
class Inbox:
    """An aiosmtpd handler keeping every message it accepts, raw and parsed."""

    raw: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.original_content or envelope.content)
        return "250 accepted"

    @property
    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(r, policy=email.policy.default) for r in self.raw]


def _login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        SMTP_LOGIN.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), _free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=_login, auth_require_tls=False
    )
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def chat() -> Iterator[tuple[list[dict[str, Any]], str]]:
    """A chat's incoming webhook: it records each POST (content type and JSON body)."""
    posts: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            posts.append({"type": self.headers["Content-Type"], "path": self.path, "raw": body})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield posts, f"http://127.0.0.1:{server.server_port}/services/T0/B0/hook-secret-41"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSandbox]:
    with RunningSandbox(Sandbox(SandboxConfig(seed=2, scale="tiny"))) as running:
        monkeypatch.setenv("INTERCOM_BASE_URL", running.base_url)
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", WRONG_TOKEN)
        yield running


def run_and_notify(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Run the settings sync, then the sensor the daemon would call for its outcome."""
    from intercom_pipeline.definitions import defs

    result = defs().resolve_job_def(JOB).execute_in_process(instance=instance, raise_on_error=False)
    # The resources as EnvVars, as the code location has them.
    sensed(
        instance,
        result,
        clear_on_success,
        notify_on_failure,
        resources=resources_from_environment(),
    )
    return result


def stored_cause(instance: dg.DagsterInstance) -> str | None:
    key = CAUSE_KEY_PREFIX + JOB
    return instance.run_storage.get_cursor_values({key}).get(key)


def test_a_failing_sync_notifies_once_per_cause(
    sandbox: RunningSandbox,
    inbox: tuple[Inbox, int],
    chat: tuple[list[dict[str, Any]], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mail, port = inbox
    posts, webhook_url = chat
    for name, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_STARTTLS": "false",
        "SMTP_USERNAME": SMTP_LOGIN,
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "NOTIFY_EMAIL_TO": "ops@example.com, data@example.com",
        "NOTIFY_WEBHOOK_URL": webhook_url,
        "DAGSTER_WEBSERVER_URL": "http://dagster.internal:3000",
    }.items():
        monkeypatch.setenv(name, value)
    with dg.instance_for_test() as instance:
        failed = [run_and_notify(instance) for _ in range(3)]  # three hourly failures
        assert not any(r.success for r in failed)
        assert len(mail.raw) == 1 and len(posts) == 1
        (message,) = mail.messages
        assert message["Subject"].startswith(f"[intercom-pipeline] {JOB} failed: ")
        assert "401" in message["Subject"]
        assert message["From"] == SMTP_LOGIN
        assert message["To"] == "ops@example.com, data@example.com"
        body = message.get_content()
        assert "Intercom rejected the access token (401 unauthorized)" in body
        assert "set INTERCOM_ACCESS_TOKEN" in body
        assert f"Run: {failed[0].run_id}" in body
        assert f"http://dagster.internal:3000/runs/{failed[0].run_id}" in body
        assert "401 unauthorized" in (stored_cause(instance) or "")

        post = posts[0]
        assert (
            post["type"] == "application/json" and post["path"] == "/services/T0/B0/hook-secret-41"
        )
        text = json.loads(post["raw"])["text"]  # Slack's incoming webhook format
        assert set(json.loads(post["raw"])) == {"text"}
        assert JOB in text and "set INTERCOM_ACCESS_TOKEN" in text

        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
        assert run_and_notify(instance).success  # the token fixed: the cause is cleared
        assert stored_cause(instance) == ""
        assert mail.messages[1]["Subject"] == f"[intercom-pipeline] {JOB} recovered"
        assert len(posts) == 2 and "recovered" in json.loads(posts[1]["raw"])["text"]

        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", WRONG_TOKEN)
        again = run_and_notify(instance)  # the same cause, after a success: news again
        assert not again.success
        assert len(mail.raw) == 3 and len(posts) == 3
        assert mail.messages[2]["Subject"] == message["Subject"]
        assert f"Run: {again.run_id}" in mail.messages[2].get_content()

    sent = b"".join(mail.raw) + b"".join(p["raw"] for p in posts)
    for secret in (WRONG_TOKEN, DEFAULT_TOKEN, SMTP_PASSWORD, "hook-secret-41"):
        assert secret.encode() not in sent


def test_nothing_is_sent_when_no_channel_is_configured(
    sandbox: RunningSandbox,
    inbox: tuple[Inbox, int],
    chat: tuple[list[dict[str, Any]], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SMTP_HOST", "NOTIFY_EMAIL_TO", "NOTIFY_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    with dg.instance_for_test() as instance:
        assert not run_and_notify(instance).success
        assert stored_cause(instance) is None
    assert inbox[0].raw == [] and chat[0] == []


def test_a_channel_that_fails_is_named_and_the_others_still_notify(
    sandbox: RunningSandbox, inbox: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    mail, port = inbox
    closed = _free_port()
    for name, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_STARTTLS": "false",
        "SMTP_FROM": "dagster@example.com",
        "NOTIFY_EMAIL_TO": "ops@example.com",
        "NOTIFY_WEBHOOK_URL": f"http://127.0.0.1:{closed}/services/T0/B0/hook-secret-41",
    }.items():
        monkeypatch.setenv(name, value)
    with dg.instance_for_test() as instance:
        with pytest.raises(NotifyError, match=r"webhook at 127\.0\.0\.1") as raised:
            run_and_notify(instance)
        assert "hook-secret-41" not in str(raised.value)
        assert len(mail.raw) == 1  # the email went out: the cause counts as notified
        assert "401 unauthorized" in (stored_cause(instance) or "")
        run_and_notify(instance)  # the same cause: neither channel is tried again
        assert len(mail.raw) == 1
