"""The Intercom webhook receiver: signatures, the spool folder, and the HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from intercom_pipeline.activation.surveys import webhook
from intercom_pipeline.activation.surveys.webhook import (
    MAX_BODY_BYTES,
    WebhookSpool,
    make_server,
    signature_is_valid,
    webhook_secret,
    webhook_spool_dir,
)
from intercom_pipeline.settings import PROJECT_ROOT, ConfigurationError, Secret

SECRET = "whsec-7f2a-unit-test-client-secret"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def closed(notification_id: str, conversation_id: str = "123", created_at: int = 1700000000):
    return {
        "type": "notification_event",
        "app_id": "abc123",
        "id": notification_id,
        "topic": "conversation.admin.closed",
        "created_at": created_at,
        "delivery_attempts": 1,
        "data": {
            "type": "notification_event_data",
            "item": {"type": "conversation", "id": conversation_id, "state": "closed"},
        },
    }


# --- signature_is_valid -------------------------------------------------------------------------

BODY = json.dumps(closed("notif_1")).encode()


def test_signature_made_with_the_secret_is_valid() -> None:
    assert signature_is_valid(SECRET, BODY, sign(BODY)) is True
    assert signature_is_valid(SECRET, BODY, sign(BODY).upper().replace("SHA1=", "sha1=")) is True
    assert signature_is_valid(Secret(SECRET), BODY, sign(BODY)) is True  # the masked type too


def test_signature_made_with_another_secret_is_invalid() -> None:
    assert signature_is_valid(SECRET, BODY, sign(BODY, "another-secret")) is False


def test_signature_of_a_tampered_body_is_invalid() -> None:
    tampered = BODY.replace(b'"123"', b'"124"')
    assert tampered != BODY
    assert signature_is_valid(SECRET, tampered, sign(BODY)) is False


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_signature_is_invalid(header: str | None) -> None:
    assert signature_is_valid(SECRET, BODY, header) is False


@pytest.mark.parametrize(
    "header",
    [
        "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest(),
        "SHA1=" + sign(BODY).removeprefix("sha1="),
        sign(BODY).removeprefix("sha1="),  # no prefix at all
        sign(BODY)[:-1],  # too short
        sign(BODY)[:-1] + "z",  # not hex
        sign(BODY)[:-1] + "é",  # not ASCII: compare_digest would raise on it
    ],
)
def test_malformed_or_wrong_prefix_signature_is_invalid(header: str) -> None:
    assert signature_is_valid(SECRET, BODY, header) is False


def test_empty_secret_never_validates() -> None:
    assert signature_is_valid("", BODY, sign(BODY, "")) is False


# --- settings ---------------------------------------------------------------------------------


def test_webhook_secret_is_masked_and_required() -> None:
    secret = webhook_secret({"INTERCOM_WEBHOOK_SECRET": f"  {SECRET}\n"})

    assert isinstance(secret, Secret)
    assert secret.reveal() == SECRET
    assert SECRET not in repr(secret)
    assert SECRET not in str(secret)
    assert SECRET not in f"{secret}"
    with pytest.raises(ConfigurationError, match="INTERCOM_WEBHOOK_SECRET") as error:
        webhook_secret({"INTERCOM_WEBHOOK_SECRET": "  "})
    assert "client secret" in str(error.value)
    assert "Developer Hub" in str(error.value)
    assert "Basic information" in str(error.value)


def test_webhook_spool_dir_resolves_against_the_project_root(tmp_path: Path) -> None:
    assert webhook_spool_dir({}) == (PROJECT_ROOT / "data" / "webhook_spool").resolve()
    assert (
        webhook_spool_dir({"SURVEY_WEBHOOK_SPOOL_DIR": "spool/x"})
        == (PROJECT_ROOT / "spool" / "x").resolve()
    )
    assert webhook_spool_dir({"SURVEY_WEBHOOK_SPOOL_DIR": str(tmp_path)}) == tmp_path.resolve()
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(ConfigurationError, match="SURVEY_WEBHOOK_SPOOL_DIR"):
        webhook_spool_dir({"SURVEY_WEBHOOK_SPOOL_DIR": str(a_file)})


# --- WebhookSpool -------------------------------------------------------------------------------


def test_put_writes_one_complete_file_and_no_temporary(tmp_path: Path) -> None:
    spool = WebhookSpool(tmp_path / "spool")  # created on first put

    path = spool.put(closed("notif_ab-12"))

    assert path.parent == spool.folder
    assert path.name.endswith("-notif_ab-12.json")
    assert path.name.partition("-")[0].isdigit()
    assert json.loads(path.read_text()) == closed("notif_ab-12")
    assert sorted(p.name for p in spool.folder.iterdir()) == [path.name]


def test_put_renames_a_temporary_from_the_same_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = WebhookSpool(tmp_path)
    renames: list[tuple[Path, Path, str]] = []
    real_replace = os.replace

    def spy(source: str, target: Path) -> None:
        renames.append((Path(source), Path(target), Path(source).read_text()))
        real_replace(source, target)

    monkeypatch.setattr(webhook.os, "replace", spy)
    path = spool.put(closed("notif_1"))

    [(source, target, content)] = renames
    assert source.parent == tmp_path  # same folder, so the rename is atomic
    assert source.name.startswith(".")
    assert source.name.endswith(".tmp")
    assert target == path
    assert json.loads(content) == closed("notif_1")  # complete before it gets its name


def test_failed_put_leaves_nothing_behind(tmp_path: Path) -> None:
    spool = WebhookSpool(tmp_path)

    with pytest.raises(TypeError):
        spool.put({"id": "notif_1", "topic": "x", "bad": object()})

    assert list(tmp_path.iterdir()) == []
    assert spool.pending() == []


def test_same_notification_id_is_spooled_once(tmp_path: Path) -> None:
    spool = WebhookSpool(tmp_path)

    first = spool.put(closed("notif_retried"))
    again = spool.put({**closed("notif_retried"), "delivery_attempts": 2})
    other = spool.put(closed("notif_other"))

    assert again == first
    assert [p for p, _ in spool.pending()] == [first, other]
    assert json.loads(first.read_text())["delivery_attempts"] == 1


def test_id_ending_like_another_is_not_taken_for_it(tmp_path: Path) -> None:
    spool = WebhookSpool(tmp_path)

    spool.put(closed("a-b"))
    spool.put(closed("b"))

    assert [n["id"] for _, n in spool.pending()] == ["a-b", "b"]


def test_pending_returns_arrival_order_and_skips_temporaries(tmp_path: Path) -> None:
    spool = WebhookSpool(tmp_path)
    ids = ["notif_z", "notif_a", "notif_m"]
    paths = [spool.put(closed(i, conversation_id=str(n))) for n, i in enumerate(ids)]
    (tmp_path / ".00000000000000000001-notif_x.json.tmp").write_text("{")
    (tmp_path / ".00000000000000000001-notif_y.json").write_text("{}")

    pending = spool.pending()

    assert [p for p, _ in pending] == paths
    assert [n["id"] for _, n in pending] == ids
    assert sorted(p.name for p in paths) == [p.name for p in paths]


def test_unusual_ids_stay_inside_the_folder(tmp_path: Path) -> None:
    spool = WebhookSpool(tmp_path / "spool")

    crafted = spool.put(closed("../../etc/passwd"))
    numeric = spool.put(closed(42))  # type: ignore[arg-type]
    without = spool.put({k: v for k, v in closed("x").items() if k != "id"})
    without_again = spool.put({k: v for k, v in closed("x").items() if k != "id"})

    assert {p.parent for p in (crafted, numeric, without, without_again)} == {spool.folder}
    assert spool.put(closed("../../etc/passwd")) == crafted  # still recognised as a retry
    assert without_again != without  # nothing to recognise a retry by
    assert len(spool.pending()) == 4


def test_file_that_is_not_a_json_object_is_moved_to_rejected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = WebhookSpool(tmp_path)
    good = spool.put(closed("notif_good"))
    broken = tmp_path / "00000000000000000001-notif_broken.json"
    broken.write_text('{"id": "notif_broken", ')
    a_list = tmp_path / "00000000000000000002-notif_list.json"
    a_list.write_text("[1, 2]")

    with caplog.at_level(logging.WARNING, logger=webhook.__name__):
        pending = spool.pending()

    assert [p for p, _ in pending] == [good]
    assert not broken.exists()
    assert (tmp_path / "rejected" / broken.name).read_text() == '{"id": "notif_broken", '
    assert (tmp_path / "rejected" / a_list.name).read_text() == "[1, 2]"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert broken.name in warnings[0]
    assert "not valid JSON" in warnings[0]
    assert "not a JSON object" in warnings[1]
    assert spool.pending() == pending  # rejected/ is not read as pending


def test_closed_conversations_lists_ids_and_rejects_unusable_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = WebhookSpool(tmp_path)
    first = spool.put(closed("notif_1", conversation_id="111", created_at=1700000001))
    without_item = spool.put({**closed("notif_2"), "data": {"item": {"type": "conversation"}}})
    other_topic = spool.put({"id": "notif_3", "topic": "contact.created", "created_at": 1})
    numeric = spool.put(closed("notif_4", conversation_id=222, created_at=1700000002))  # type: ignore[arg-type]
    crafted = spool.put(closed("notif_5", conversation_id="../admins"))

    with caplog.at_level(logging.WARNING, logger=webhook.__name__):
        closings = spool.closed_conversations()

    assert closings == [
        (first, webhook.Closing("111", 1700000001, "abc123")),
        (numeric, webhook.Closing("222", 1700000002, "abc123")),
    ]
    for rejected in (without_item, other_topic, crafted):
        assert not rejected.exists()
        assert (tmp_path / "rejected" / rejected.name).exists()  # kept for a person to look at
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w.rsplit(": ", 1)[1] for w in warnings] == [
        "no conversation id (data.item.id)",
        "the topic is not conversation.admin.closed",
        "the conversation id (data.item.id) is not digits",
    ]
    assert "../admins" not in caplog.text
    assert [p for p, _ in spool.pending()] == [first, numeric]


@pytest.mark.parametrize(
    ("item_id", "created_at", "expected"),
    [
        ("5", 1700000000, ("5", 1700000000, "abc123")),
        (1, 1700000000, ("1", 1700000000, "abc123")),  # an int id, even one that equals True
        (0, 1700000000, ("0", 1700000000, "abc123")),
        ("", 1700000000, "the conversation id (data.item.id) is not digits"),
        ("5/../../admins", 1700000000, "the conversation id (data.item.id) is not digits"),
        ("5?per_page=150", 1700000000, "the conversation id (data.item.id) is not digits"),
        ("5%2F..", 1700000000, "the conversation id (data.item.id) is not digits"),
        (" 5", 1700000000, "the conversation id (data.item.id) is not digits"),
        ("\u0665", 1700000000, "the conversation id (data.item.id) is not digits"),  # Arabic five
        (-5, 1700000000, "the conversation id (data.item.id) is not digits"),
        (True, 1700000000, "no conversation id (data.item.id)"),
        (None, 1700000000, "no conversation id (data.item.id)"),
        ("5", "1700000000", "no created_at"),
        ("5", True, "no created_at"),
    ],
)
def test_closed_conversation_needs_a_digit_id_and_a_created_at(
    item_id: object, created_at: object, expected: tuple[str, int, str] | str
) -> None:
    notification = closed("notif_1", created_at=created_at)  # type: ignore[arg-type]
    notification["data"]["item"]["id"] = item_id

    if isinstance(expected, tuple):
        assert webhook.closed_conversation(notification) == expected
    else:
        with pytest.raises(webhook.UnusableNotification) as error:
            webhook.closed_conversation(notification)
        assert str(error.value) == expected


def test_closed_conversation_of_a_notification_without_app_id() -> None:
    notification = {k: v for k, v in closed("notif_1").items() if k != "app_id"}

    assert webhook.closed_conversation(notification) == webhook.Closing("123", 1700000000, None)


def test_done_deletes_one_spooled_file(tmp_path: Path) -> None:
    spool = WebhookSpool(tmp_path)
    first = spool.put(closed("notif_1"))
    second = spool.put(closed("notif_2"))

    spool.done(first)
    spool.done(first)  # a repeated call, e.g. a retried sensor tick

    assert not first.exists()
    assert [p for p, _ in spool.pending()] == [second]
    outside = tmp_path.parent / "keep.json"
    with pytest.raises(ValueError, match="not a file of the spool"):
        spool.done(outside)


def test_pending_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    spool = WebhookSpool(tmp_path / "never-created")

    assert spool.pending() == []
    assert spool.closed_conversations() == []
    assert not spool.folder.exists()


# --- the HTTP server ---------------------------------------------------------------------------


class Receiver:
    def __init__(self, base_url: str, spool: WebhookSpool) -> None:
        self.base_url = base_url
        self.spool = spool

    def post(self, body: bytes, signature: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature"] = signature
        return requests.post(
            self.base_url + "/intercom/webhook", data=body, headers=headers, timeout=10, **kwargs
        )

    def deliver(self, notification: dict[str, Any]) -> requests.Response:
        body = json.dumps(notification).encode()
        return self.post(body, sign(body))


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    spool = WebhookSpool(tmp_path / "spool")
    server = make_server("127.0.0.1", 0, SECRET, spool)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield Receiver(f"http://{host}:{port}", spool)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_signed_closed_conversation_is_spooled(receiver: Receiver) -> None:
    response = receiver.deliver(closed("notif_9", conversation_id="9001", created_at=1700000009))

    assert response.status_code == 200
    assert response.json() == {"status": "spooled"}
    [(path, closing)] = receiver.spool.closed_conversations()
    assert closing == ("9001", 1700000009, "abc123")
    assert path.name.endswith("-notif_9.json")


def test_retried_delivery_is_spooled_once(receiver: Receiver) -> None:
    assert receiver.deliver(closed("notif_9")).status_code == 200
    assert receiver.deliver({**closed("notif_9"), "delivery_attempts": 2}).status_code == 200

    assert len(receiver.spool.pending()) == 1


def test_bad_signature_gets_401_and_nothing_is_spooled(receiver: Receiver) -> None:
    body = json.dumps(closed("notif_9")).encode()

    wrong_key = receiver.post(body, sign(body, "not-the-secret"))
    tampered = receiver.post(body.replace(b"9", b"8"), sign(body))

    for response in (wrong_key, tampered):
        assert response.status_code == 401
        assert response.json() == {"error": "the X-Hub-Signature header does not match the body"}
    assert receiver.spool.pending() == []


def test_missing_signature_gets_401_and_nothing_is_spooled(receiver: Receiver) -> None:
    response = receiver.post(json.dumps(closed("notif_9")).encode())

    assert response.status_code == 401
    assert response.json() == {"error": "the X-Hub-Signature header is missing"}
    assert receiver.spool.pending() == []


def test_ping_and_other_topics_get_200_and_are_not_spooled(receiver: Receiver) -> None:
    ping = receiver.deliver({"type": "notification_event", "id": "notif_p", "topic": "ping"})
    other = receiver.deliver({"type": "notification_event", "id": "n", "topic": "user.created"})

    assert (ping.status_code, ping.json()) == (200, {"status": "ok"})
    assert (other.status_code, other.json()) == (200, {"status": "ignored"})
    assert receiver.spool.pending() == []
    assert not receiver.spool.folder.exists()


def test_signed_body_that_is_not_usable_gets_400(receiver: Receiver) -> None:
    not_json = b"{not json"
    a_list = b"[]"
    no_conversation = json.dumps({**closed("notif_9"), "data": {}}).encode()
    not_digits = json.dumps(closed("notif_8", conversation_id="1/../../admins")).encode()
    bodies = (not_json, a_list, no_conversation, not_digits)

    responses = [receiver.post(body, sign(body)) for body in bodies]

    assert [r.status_code for r in responses] == [400, 400, 400, 400]
    assert responses[0].json() == {"error": "the body is not valid JSON"}
    assert responses[1].json() == {"error": "the body is not a JSON object"}
    assert responses[2].json() == {"error": "no conversation id (data.item.id)"}
    assert responses[3].json() == {"error": "the conversation id (data.item.id) is not digits"}
    assert receiver.spool.pending() == []


def test_oversized_body_gets_413(receiver: Receiver) -> None:
    body = b" " * (MAX_BODY_BYTES + 1)

    response = receiver.post(body, sign(body))

    assert response.status_code == 413
    assert response.json() == {"error": f"the body is over {MAX_BODY_BYTES} bytes"}
    assert receiver.spool.pending() == []


def test_body_without_content_length_gets_411(receiver: Receiver) -> None:
    response = receiver.post(iter([b"{}"]), sign(b"{}"))  # requests sends it chunked

    assert response.status_code == 411
    assert receiver.spool.pending() == []


def test_health_and_unknown_get(receiver: Receiver) -> None:
    health = requests.get(receiver.base_url + "/health", timeout=10)
    other = requests.get(receiver.base_url + "/anything", timeout=10)

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert other.status_code == 404


def test_empty_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="INTERCOM_WEBHOOK_SECRET"):
        make_server("127.0.0.1", 0, "", WebhookSpool(tmp_path))


def test_server_keeps_a_secret_given_already_masked(tmp_path: Path) -> None:
    spool = WebhookSpool(tmp_path)
    server = make_server("127.0.0.1", 0, Secret(SECRET), spool)
    try:
        assert server.secret.reveal() == SECRET  # not the mask "****"
    finally:
        server.server_close()


def test_the_secret_never_appears_in_logs_or_returned_values(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(closed("notif_9")).encode()
    with caplog.at_level(logging.DEBUG):
        responses = [
            receiver.deliver(closed("notif_9")),
            receiver.deliver({"id": "notif_p", "topic": "ping"}),
            receiver.deliver({"id": "notif_o", "topic": "user.created"}),
            receiver.post(body, sign(body, "wrong")),
            receiver.post(body),
            receiver.post(b"x" * (MAX_BODY_BYTES + 1), "sha1=00"),
            requests.get(receiver.base_url + "/health", timeout=10),
        ]
        returned = [
            webhook_secret({"INTERCOM_WEBHOOK_SECRET": SECRET}),
            receiver.spool,
            receiver.spool.pending(),
            receiver.spool.closed_conversations(),
        ]

    assert [r.status_code for r in responses] == [200, 200, 200, 401, 401, 413, 200]
    request_lines = [r.getMessage() for r in caplog.records if r.name == webhook.__name__]
    assert len(request_lines) == len(responses)  # one line per request
    assert any("spooled" in line and "notif_9" in line for line in request_lines)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert SECRET not in logged
    assert sign(body) not in logged  # nor the signature or the body
    assert '"app_id"' not in logged
    for value in [*returned, *(r.text for r in responses), *(dict(r.headers) for r in responses)]:
        assert SECRET not in repr(value)
        assert SECRET not in str(value)
    spooled = "".join(p.read_text() for p in receiver.spool.folder.iterdir() if p.is_file())
    assert SECRET not in spooled


# --- one writer: the receiver never touches the warehouse ------------------------------------

RECEIVE_ONE = """
import hashlib, hmac, json, sys, threading, urllib.request
from pathlib import Path

import intercom_pipeline.cli  # the entry point `intercom-pipeline webhook` starts from
from intercom_pipeline.activation.surveys.webhook import WebhookSpool, make_server, webhook_spool_dir

secret, body = sys.argv[1].encode(), sys.argv[2].encode()
server = make_server("127.0.0.1", 0, sys.argv[1], WebhookSpool(webhook_spool_dir()))
threading.Thread(target=server.serve_forever, daemon=True).start()
request = urllib.request.Request(
    f"http://127.0.0.1:{server.server_address[1]}/intercom",
    data=body,
    headers={"X-Hub-Signature": "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()},
)
with urllib.request.urlopen(request, timeout=10) as answer:
    status = answer.status
server.shutdown()
print(json.dumps({"status": status, "duckdb_loaded": "duckdb" in sys.modules}))
"""


def test_the_receiver_never_loads_duckdb_nor_opens_the_warehouse(tmp_path: Path) -> None:
    warehouse = tmp_path / "intercom.duckdb"
    env = {
        **os.environ,
        "DUCKDB_PATH": str(warehouse),
        "SURVEY_WEBHOOK_SPOOL_DIR": str(tmp_path / "spool"),
    }
    body = json.dumps(closed("notif_1", conversation_id="77"))

    done = subprocess.run(
        [sys.executable, "-c", RECEIVE_ONE, SECRET, body],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert json.loads(done.stdout) == {"status": 200, "duckdb_loaded": False}
    assert not warehouse.exists()
    assert [n["data"]["item"]["id"] for _, n in WebhookSpool(tmp_path / "spool").pending()] == [
        "77"
    ]
