"""A receiver for Intercom webhook notifications that hands closed conversations to the pipeline.

The warehouse has a single writer, so the receiver never opens DuckDB: it checks each
notification's signature and writes the accepted ones to a spool folder, one JSON file each. The
surveys asset (`survey_requests`, the warehouse's writer) drains the spool
(`WebhookSpool.closed_conversations`, then `done`); the sensor only looks whether it holds any.

Intercom signs the raw body with HMAC-SHA1 keyed by the app's client secret and sends it as
`X-Hub-Signature: sha1=<hex>`. It retries a delivery that does not get a 2xx answer quickly, so
the receiver answers at once and the spool keeps one file per notification id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from intercom_pipeline.settings import ConfigurationError, Secret, absolute_path

logger = logging.getLogger(__name__)

DEFAULT_WEBHOOK_SPOOL_DIR = "data/webhook_spool"
TOPIC_CLOSED = "conversation.admin.closed"
TOPIC_PING = "ping"
MAX_BODY_BYTES = 1024 * 1024
_SIGNATURE = re.compile(r"sha1=([0-9a-fA-F]{40})")
# Notification ids are used as they are in file names when they look like Intercom's
# (`notif_<uuid>`); anything else is hashed, so a crafted id cannot leave the folder.
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_DIGITS = re.compile(r"[0-9]{1,30}")


def webhook_secret(environ: dict[str, str] | None = None) -> Secret:
    """The key Intercom signs notifications with (INTERCOM_WEBHOOK_SECRET).

    Raises:
        ConfigurationError: It is unset, so no notification could be verified.
    """
    env = os.environ if environ is None else environ
    secret = env.get("INTERCOM_WEBHOOK_SECRET", "").strip()
    if not secret:
        raise ConfigurationError(
            "INTERCOM_WEBHOOK_SECRET is not set: set it to your Intercom app's client secret "
            "(Developer Hub > your app > Basic information), which Intercom signs webhooks with."
        )
    return Secret(secret)


def webhook_spool_dir(environ: dict[str, str] | None = None) -> Path:
    """The spool folder (SURVEY_WEBHOOK_SPOOL_DIR), as an absolute path.

    A relative value is resolved against the project root, like SURVEY_FEED_DIR, so the receiver
    and the Dagster sensor use the same folder whatever directory they start in.

    Raises:
        ConfigurationError: The path is an existing file.
    """
    env = os.environ if environ is None else environ
    raw = env.get("SURVEY_WEBHOOK_SPOOL_DIR", "").strip() or DEFAULT_WEBHOOK_SPOOL_DIR
    path = absolute_path(raw)
    if path.exists() and not path.is_dir():
        raise ConfigurationError(
            f"SURVEY_WEBHOOK_SPOOL_DIR={raw!r} is a file; point it at a folder such as {path.parent / 'webhook_spool'}"
        )
    return path.resolve()


def signature_is_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is Intercom's `sha1=<hex>` HMAC of `body` under `secret`.

    The comparison takes the same time wherever the digests differ, so response times do not
    reveal how much of a forged signature was right. An empty secret never validates: anyone can
    compute an HMAC with an empty key.
    """
    match = _SIGNATURE.fullmatch(header.strip()) if header else None
    if not secret or match is None:
        return False
    # str.encode reads the characters themselves, so a Secret gives its real value here.
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected, match.group(1).lower())


class Closing(NamedTuple):
    """What a `conversation.admin.closed` notification says."""

    conversation_id: str  # Intercom's digits: it goes into request paths
    created_at: int  # unix seconds, to order the closings
    app_id: str | None  # the workspace it came from, when the notification names it


class UnusableNotification(ValueError):
    """A notification the pipeline cannot act on; the message says why (never its values)."""


def closed_conversation(notification: dict[str, Any]) -> Closing:
    """The closing a `conversation.admin.closed` notification reports.

    Raises:
        UnusableNotification: another topic, no created_at, or no conversation id made of digits
            (Intercom's ids are; anything else would change the path it is requested at).
    """
    if notification.get("topic") != TOPIC_CLOSED:
        raise UnusableNotification(f"the topic is not {TOPIC_CLOSED}")
    data = notification.get("data")
    item = data.get("item") if isinstance(data, dict) else None
    conversation_id = item.get("id") if isinstance(item, dict) else None
    created_at = notification.get("created_at")
    if isinstance(conversation_id, bool) or not isinstance(conversation_id, str | int):
        raise UnusableNotification("no conversation id (data.item.id)")
    if not _DIGITS.fullmatch(str(conversation_id)):
        raise UnusableNotification("the conversation id (data.item.id) is not digits")
    if isinstance(created_at, bool) or not isinstance(created_at, int):
        raise UnusableNotification("no created_at")
    app_id = notification.get("app_id")
    return Closing(str(conversation_id), created_at, str(app_id) if app_id else None)


class WebhookSpool:
    """A folder of accepted notifications, one JSON file each, named in arrival order.

    Files are named `<time_ns>-<notification id>.json`: sorting by name gives arrival order, and
    the id in the name lets a retried delivery be recognised and skipped.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()  # the receiver serves deliveries from several threads
        self._last_stamp = 0

    def __repr__(self) -> str:
        return f"WebhookSpool({str(self.folder)!r})"

    @property
    def rejected_folder(self) -> Path:
        """Where files that are not notifications go, kept for a person to look at."""
        return self.folder / "rejected"

    def put(self, notification: dict[str, Any]) -> Path:
        """Spool one notification; returns its file (the existing one for a repeated id).

        The file appears complete or not at all: it is written under a temporary name in the
        same folder and renamed, so a reader never sees half a notification.
        """
        key = _file_key(notification.get("id"))
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            existing = self._find(key)
            if existing is not None:
                logger.debug("notification %s is already spooled as %s", key, existing.name)
                return existing
            # The clock can step back; the stamp never does, so names keep arrival order.
            self._last_stamp = max(time.time_ns(), self._last_stamp + 1)
            path = self.folder / f"{self._last_stamp:020d}-{key}.json"
            _write_atomically(path, json.dumps(notification).encode("utf-8"))
            return path

    def pending(self) -> list[tuple[Path, dict[str, Any]]]:
        """Spooled notifications, oldest first.

        A file that is not a JSON object is moved to `rejected/` with a warning rather than
        deleted, so nothing Intercom delivered is lost without a trace.
        """
        notifications = []
        for path in self._spooled_files():
            try:
                notification = json.loads(path.read_bytes())
            except FileNotFoundError:  # another reader finished it meanwhile
                continue
            except ValueError as exc:
                self._reject(path, f"not valid JSON ({exc})")
                continue
            if not isinstance(notification, dict):
                self._reject(path, "not a JSON object")
                continue
            notifications.append((path, notification))
        return notifications

    def closed_conversations(self) -> list[tuple[Path, Closing]]:
        """(file, closing) of each pending notification, oldest first.

        One that can never become a closing (another topic, no usable conversation id or
        created_at) is moved to `rejected/` with a warning saying why, instead of staying
        pending forever or being deleted without a trace.
        """
        closings = []
        for path, notification in self.pending():
            try:
                closings.append((path, closed_conversation(notification)))
            except UnusableNotification as exc:
                self._reject(path, str(exc))
        return closings

    def done(self, path: Path) -> None:
        """Delete a notification the pipeline has recorded; a second call does nothing.

        Raises:
            ValueError: `path` is not a spooled file, so deleting it would lose something else.
        """
        path = Path(path)
        if path.parent.resolve() != self.folder.resolve() or path.suffix != ".json":
            raise ValueError(f"{path} is not a file of the spool {self.folder}")
        path.unlink(missing_ok=True)

    def _spooled_files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(
            (p for p in self.folder.glob("*.json") if not p.name.startswith(".") and p.is_file()),
            key=lambda p: p.name,
        )

    def _find(self, key: str) -> Path | None:
        """The spooled file of notification `key`, if any (pending or not yet picked up)."""
        # The stamp is digits only, so the key is everything after the first dash.
        name = f"{key}.json"
        return next((p for p in self._spooled_files() if p.name.partition("-")[2] == name), None)

    def _reject(self, path: Path, reason: str) -> None:
        self.rejected_folder.mkdir(parents=True, exist_ok=True)
        target = self.rejected_folder / path.name
        os.replace(path, target)
        logger.warning("moved spool file %s to %s: %s", path.name, target, reason)


def _file_key(notification_id: object) -> str:
    if isinstance(notification_id, str) and _SAFE_ID.fullmatch(notification_id):
        return notification_id
    if notification_id is None or notification_id == "":
        return uuid.uuid4().hex  # nothing to recognise a retry by
    return "h" + hashlib.sha256(str(notification_id).encode("utf-8")).hexdigest()[:32]


def _write_atomically(path: Path, content: bytes) -> None:
    """Write under a hidden temporary name next to `path`, then rename over it."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())  # Intercom gets its 200 only once the file is on disk
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class _Reply(NamedTuple):
    status: int
    body: dict[str, Any]
    note: str  # for the request's log line
    quiet: bool = False  # log that line at debug: topics we do not use would flood the log


def _handle_delivery(secret: str, spool: WebhookSpool, header: str | None, body: bytes) -> _Reply:
    """Decide what to do with one POSTed body: verify, parse, then spool or ignore."""
    if not header:
        return _Reply(401, {"error": "the X-Hub-Signature header is missing"}, "no signature")
    if not signature_is_valid(secret, body, header):
        return _Reply(
            401, {"error": "the X-Hub-Signature header does not match the body"}, "bad signature"
        )
    try:
        notification = json.loads(body)
    except (ValueError, RecursionError):
        return _Reply(400, {"error": "the body is not valid JSON"}, "bad JSON")
    if not isinstance(notification, dict):
        return _Reply(400, {"error": "the body is not a JSON object"}, "not an object")
    topic = notification.get("topic")
    note = f"topic={topic!r} id={notification.get('id')!r}"
    if topic == TOPIC_PING:
        return _Reply(200, {"status": "ok"}, f"ping {note}")
    if topic != TOPIC_CLOSED:
        return _Reply(200, {"status": "ignored"}, f"ignored {note}", quiet=True)
    try:
        closed_conversation(notification)
    except UnusableNotification as exc:
        return _Reply(400, {"error": str(exc)}, f"invalid {note}")
    try:
        path = spool.put(notification)
    except OSError as exc:  # a 5xx makes Intercom deliver it again later
        logger.error("could not spool %s: %s", note, exc)
        return _Reply(500, {"error": "could not store the notification"}, f"spool failed {note}")
    return _Reply(200, {"status": "spooled"}, f"spooled {note} as {path.name}")


class _WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], secret: Secret, spool: WebhookSpool) -> None:
        self.secret = secret
        self.spool = spool
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _WebhookServer
    protocol_version = "HTTP/1.1"
    server_version = "IntercomWebhookReceiver/1.0"
    timeout = 30  # an idle or stalled connection frees its thread after this many seconds

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/health":
            self._reply(_Reply(200, {"status": "ok"}, "health"))
        else:
            self._reply(_Reply(404, {"error": "only GET /health is served"}, "not found"))

    def do_POST(self) -> None:
        length = self._content_length()
        if isinstance(length, _Reply):
            self.close_connection = True  # the unread body would be taken for the next request
            self._reply(length)
            return
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            logger.info("POST %s: the client sent %d of %d bytes", self._route, len(body), length)
            return
        header = self.headers.get("X-Hub-Signature")
        self._reply(_handle_delivery(self.server.secret, self.server.spool, header, body))

    def _content_length(self) -> int | _Reply:
        """The body's size, or the refusal to send when it is unknown, invalid or too big."""
        if "Transfer-Encoding" in self.headers or "Content-Length" not in self.headers:
            return _Reply(411, {"error": "send the body with a Content-Length"}, "no length")
        try:
            length = int(self.headers["Content-Length"])
        except ValueError:
            length = -1
        if length < 0:
            return _Reply(400, {"error": "Content-Length is not a size"}, "bad length")
        if length > MAX_BODY_BYTES:
            return _Reply(
                413, {"error": f"the body is over {MAX_BODY_BYTES} bytes"}, f"{length} bytes"
            )
        return length

    def _reply(self, reply: _Reply) -> None:
        payload = json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        level = logging.DEBUG if reply.quiet else logging.INFO
        logger.log(level, "%s %s %d %s", self.command, self._route, reply.status, reply.note)

    @property
    def _route(self) -> str:
        """The path without its query string, which could carry someone's token."""
        return urlsplit(self.path).path

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Say nothing: `_reply` logs each request once, with what was done."""

    def log_message(self, format: str, *args: Any) -> None:
        """Send http.server's own messages (malformed requests, timeouts) to logging."""
        logger.warning("%s: %s", self.address_string(), format % args)


def make_server(host: str, port: int, secret: str, spool: WebhookSpool) -> ThreadingHTTPServer:
    """A receiver bound to `host:port` (0 picks a free port); call `serve_forever` to run it.

    Raises:
        ValueError: The secret is empty, which would accept notifications signed by anyone.
    """
    if not secret:
        raise ValueError("the webhook secret is empty; set INTERCOM_WEBHOOK_SECRET")
    # Secret(Secret(...)) would wrap the mask, not the value.
    masked = secret if isinstance(secret, Secret) else Secret(secret)
    return _WebhookServer((host, port), masked, spool)
