"""The sandbox's HTTP server: Intercom's transport rules around the operations' `Router`.

Per request, in order: the control API (`/_sandbox/...`, no token), injected dropped connections,
Bearer authentication (401), the Accept and Intercom-Version headers, the 10-second rate-limit
window (429 with X-RateLimit-* headers), simulated latency, the wall clock's move to the current
second (`clock: wall` only, see clock.py), injected 5xx answers, the operation itself, and
injected truncated bodies.

The control API (JSON in and out; a bad value is 400 `{"error": ...}`):

* `GET /_sandbox/status`: the workspace's counts and `now`, the scale, and `clock`
  (`{mode, activity_speed, moves, changed: {kind: how many ids all clock moves changed}}`), the rate
  limit, the faults, the restricted modules and whether a companies scroll is open.
* `GET /_sandbox/stats`, `GET /_sandbox/stats/summary` (no writes), `POST /_sandbox/stats/reset`:
  what the sandbox received.
* `POST /_sandbox/clock/advance` `{"seconds": 3600, "activity": {...}}`: move the fixed clock and
  answer `{now, changes}` (activity.py); 409 with the wall clock, which follows the machine's.
* `GET /_sandbox/changes?since=<unix>[&until=<unix>]`: `{since, until, changes}`, the ids changed
  by the clock moves (wall-clock ticks or advances) that ended in (since, until], until defaulting
  to the workspace's now. Moves follow one another without gaps, so for `since` and `until` read
  from the clock (status' `workspace.now`, or an advance's `now`) these are exactly the changes
  timestamped in (since, until]. Each kind lists an id once, even when several moves changed it.
* `PUT /_sandbox/faults`, `PUT /_sandbox/rate_limit` `{"per_minute": n}`,
  `PUT /_sandbox/restrictions` `{"modules": [...]}`: misbehave on purpose.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from intercom_sandbox import activity, render
from intercom_sandbox.clock import CLOCK_MODES, ChangeLog, WallClock
from intercom_sandbox.errors import ApiError
from intercom_sandbox.generator import DEFAULT_NOW, build_workspace
from intercom_sandbox.http_types import INTERCOM_BASE_URL, Request, Response
from intercom_sandbox.router import Router

API_VERSION = "2.16"
# The spec's `intercom_version` enum (tests/sandbox/test_versions.py checks it still is): a client
# pinned to any of them is served, always with 2.16's shapes. "Unstable" is not in the enum.
KNOWN_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4", *(f"2.{n}" for n in range(17)))
DEFAULT_TOKEN = "sandbox-token"
CONTROL_PREFIX = "/_sandbox"
WALL_CLOCK_ADVANCE = (
    "the clock follows the machine's clock (clock: wall): it cannot be moved by hand. "
    "To move it with POST /_sandbox/clock/advance, start the sandbox with clock fixed "
    "(SandboxConfig(clock='fixed') or `intercom-pipeline sandbox --clock fixed`)."
)
# A control operation: the query string and the JSON body in, the answer out.
ControlOperation = Callable[[dict[str, str], dict[str, Any]], Response]


@dataclass
class Faults:
    """Misbehaviour to inject; shares are probabilities per request (0 to 1)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0  # answered 500, 502 or 503
    drop_rate: float = 0.0  # connection closed before any answer
    truncate_rate: float = 0.0  # body cut short after a complete set of headers
    scroll_exists: int = 0  # the next N scroll openings are refused as if another app held one
    # The next N scroll pages that continue a scroll are cut short after the scroll moved on.
    truncate_scroll_pages: int = 0

    def update(self, raw: dict[str, Any]) -> None:
        for key, value in raw.items():
            if key not in self.__dataclass_fields__:
                raise ValueError(
                    f"unknown fault {key!r}; known: {sorted(self.__dataclass_fields__)}"
                )
            setattr(self, key, type(getattr(self, key))(value))


@dataclass
class Stats:
    """What the sandbox received, for tests and benchmarks."""

    calls: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    writes: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    scroll_in_flight: int = 0
    max_concurrent_scrolls: int = 0
    scroll_conflicts: int = 0
    rate_limited: int = 0

    def as_dict(self, *, with_writes: bool = True) -> dict[str, Any]:
        """The counters, and every write received unless `with_writes` is false.

        Copying every write takes long on a big run, under the lock that each write takes:
        samplers polling during a benchmark ask for the counters only.
        """
        data = {k: v for k, v in vars(self).items() if k != "writes"}
        data["calls"] = dict(self.calls)
        data["statuses"] = {str(k): v for k, v in self.statuses.items()}
        data["write_count"] = len(self.writes)
        if with_writes:
            data["writes"] = deepcopy(self.writes)
        return data


class RateLimiter:
    """Intercom's per-minute limit spread over fixed 10-second windows."""

    def __init__(self, per_minute: int) -> None:
        self.set_limit(per_minute)
        self.window = -1
        self.used = 0
        self.lock = threading.Lock()

    def set_limit(self, per_minute: int) -> None:
        if per_minute < 6:
            raise ValueError("the rate limit must allow at least 6 calls a minute")
        self.per_minute = per_minute
        self.per_window = max(1, round(per_minute / 6))

    def take(self) -> tuple[bool, dict[str, str]]:
        """Count one call; returns whether it is allowed and the headers to send."""
        with self.lock:
            now = time.time()
            window = int(now // 10)
            if window != self.window:
                self.window, self.used = window, 0
            allowed = self.used < self.per_window
            if allowed:
                self.used += 1
            headers = {
                "X-RateLimit-Limit": str(self.per_window),
                "X-RateLimit-Remaining": str(max(0, self.per_window - self.used)),
                "X-RateLimit-Reset": str((window + 1) * 10),
            }
            return allowed, headers


@dataclass
class SandboxConfig:
    seed: int = 1
    scale: str = "demo"
    token: str = DEFAULT_TOKEN
    rate_limit_per_minute: int = 10_000
    scroll_expiry_seconds: float = 60.0
    now: int = DEFAULT_NOW  # the fixed clock's start; the wall clock starts at the machine's
    faults: Faults = field(default_factory=Faults)
    clock: str = "fixed"  # "fixed": moved by the control API; "wall": follows the machine's
    activity_speed: float = 1.0  # wall clock: busy hours of activity per hour that passes

    def __post_init__(self) -> None:
        if self.clock not in CLOCK_MODES:
            raise ValueError(f"clock must be 'fixed' or 'wall', got {self.clock!r}")
        if self.activity_speed < 0:
            raise ValueError(f"activity_speed must be 0 or more, got {self.activity_speed}")


class Sandbox:
    """A workspace, its API and the transport state (rate limit, faults, stats)."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        wall = self.config.clock == "wall"
        now = int(time.time()) if wall else self.config.now
        self.workspace = build_workspace(self.config.seed, self.config.scale, now)
        self.router = Router(self.workspace, self.config.scroll_expiry_seconds)
        self.faults = self.config.faults
        self.rate_limiter = RateLimiter(self.config.rate_limit_per_minute)
        self.stats = Stats()
        self.stats_lock = threading.Lock()
        self.rng = random.Random(self.config.seed * 31 + 7)
        self.activity_rng = random.Random(self.config.seed * 17 + 3)
        self.change_log = ChangeLog()
        self.wall_clock = (
            WallClock(
                self.workspace, self.config.activity_speed, self.activity_rng, self.change_log
            )
            if wall
            else None
        )

    # --- the Intercom side -----------------------------------------------------------------

    def serve(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[Response, str | None]:
        """Answer one Intercom request. Returns the response and the fault to apply to it."""
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        request = Request(
            method, path, dict(parse_qsl(url.query)), body, base_url=_base_url(headers)
        )
        with self.stats_lock:
            fault_roll = self.rng.random()
            request_id = str(uuid.UUID(int=self.rng.getrandbits(128)))
        if fault_roll < self.faults.drop_rate:
            return Response(0), "drop"
        try:
            response = self._serve(request, headers)
        except ApiError as exc:
            response = Response(
                exc.status, render.error(exc.code, exc.message, request_id), exc.headers
            )
        with self.stats_lock:
            self.stats.statuses[response.status] += 1
        truncate = fault_roll < self.faults.drop_rate + self.faults.truncate_rate
        truncate = truncate or self._cut_scroll_page(request, response)
        return response, "truncate" if truncate else None

    def _cut_scroll_page(self, request: Request, response: Response) -> bool:
        """Whether to spend a `truncate_scroll_pages` fault on this answered scroll page."""
        if request.path != "/companies/scroll" or not request.query.get("scroll_param"):
            return False
        with self.stats_lock:
            if response.status != 200 or self.faults.truncate_scroll_pages <= 0:
                return False
            self.faults.truncate_scroll_pages -= 1
            return True

    def _serve(self, request: Request, headers: dict[str, str]) -> Response:
        """The transport checks, the injected faults, then the operation itself."""
        self._check_headers(headers)
        limit_headers = self._count_call(request)
        is_scroll = request.path == "/companies/scroll"
        with self._in_flight(is_scroll):
            self._sleep_latency()
            if self.wall_clock is not None:
                self.wall_clock.catch_up()
            self._maybe_fail(limit_headers)
            if is_scroll and not request.query.get("scroll_param"):
                self._maybe_refuse_scroll(limit_headers)
            self._record_write(request)
            try:
                response = self.router.handle(request)
            except ApiError as exc:
                if exc.code == "scroll_exists":
                    with self.stats_lock:
                        self.stats.scroll_conflicts += 1
                exc.headers = {**limit_headers, **exc.headers}
                raise
        response.headers = {**limit_headers, **response.headers}
        return response

    def _check_headers(self, headers: dict[str, str]) -> None:
        """The Bearer token (401), the Accept header (406) and the Intercom-Version (400)."""
        auth = headers.get("authorization", "")
        if auth != f"Bearer {self.config.token}":
            raise ApiError(401, "unauthorized", "Access Token Invalid")
        accept = headers.get("accept", "")
        if not any(t in accept for t in ("application/json", "*/*", "application/*")):
            raise ApiError(406, "not_acceptable", "Send Accept: application/json")
        version = headers.get("intercom-version", API_VERSION)
        if version not in KNOWN_VERSIONS:
            raise ApiError(
                400,
                "intercom_version_invalid",
                f"Intercom-Version {version!r} is not a valid API version",
            )

    def _count_call(self, request: Request) -> dict[str, str]:
        """Count the call per operation and against the rate limit (429 past it).

        Returns the X-RateLimit-* headers every answer from here on carries.
        """
        found = self.router.route(request.method, request.path)
        # Stats name an operation by its route pattern, `(?P<id>[^/]+)` shown as {id}.
        name = found[0].path.replace("(?P<id>[^/]+)", "{id}") if found else request.path
        allowed, limit_headers = self.rate_limiter.take()
        with self.stats_lock:
            self.stats.calls[f"{request.method} {name}"] += 1
            if not allowed:
                self.stats.rate_limited += 1
        if not allowed:
            raise ApiError(
                429,
                "rate_limit_exceeded",
                f"Exceeded rate limit of {self.rate_limiter.per_window} in 10_seconds",
                limit_headers,
            )
        return limit_headers

    def _maybe_fail(self, headers: dict[str, str]) -> None:
        """An injected 5xx, at `error_rate`; both draws happen on every call, failing or not."""
        with self.stats_lock:
            roll = self.rng.random()
            status = self.rng.choice((500, 502, 503))
        if roll < self.faults.error_rate:
            raise ApiError(
                status,
                "server_error",
                "Request failed due to an internal error. Please retry.",
                headers,
            )

    def _record_write(self, request: Request) -> None:
        """Keep every write (searches and POST lists are reads) for tests and benchmarks."""
        if request.method not in ("POST", "PUT", "DELETE") or request.path.endswith(
            ("/search", "/list")
        ):
            return
        with self.stats_lock:
            self.stats.writes.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "body": _json_or_text(request.body),
                    "at": self.workspace.now,
                }
            )

    def _maybe_refuse_scroll(self, headers: dict[str, str]) -> None:
        with self.stats_lock:
            refuse = self.faults.scroll_exists > 0
            if refuse:
                self.faults.scroll_exists -= 1
                self.stats.scroll_conflicts += 1
        if refuse:
            raise ApiError(
                400, "scroll_exists", "scroll already exists for this workspace", headers
            )

    @contextmanager
    def _in_flight(self, is_scroll: bool) -> Iterator[None]:
        with self.stats_lock:
            self.stats.in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
            if is_scroll:
                self.stats.scroll_in_flight += 1
                open_scrolls = self.stats.scroll_in_flight
                self.stats.max_concurrent_scrolls = max(
                    self.stats.max_concurrent_scrolls, open_scrolls
                )
        try:
            yield
        finally:
            with self.stats_lock:
                self.stats.in_flight -= 1
                if is_scroll:
                    self.stats.scroll_in_flight -= 1

    def _sleep_latency(self) -> None:
        if self.faults.latency_ms or self.faults.jitter_ms:
            with self.stats_lock:
                jitter = self.rng.uniform(0, self.faults.jitter_ms)
            time.sleep((self.faults.latency_ms + jitter) / 1000)

    # --- the control API ---------------------------------------------------------------------

    def control(self, method: str, target: str, body: bytes) -> Response:
        """`/_sandbox/...`: move the clock, set faults and limits, read what was received."""
        url = urlsplit(target)
        operation = self._control_operations().get((method, url.path[len(CONTROL_PREFIX) :]))
        if operation is None:
            return Response(404, {"error": f"no control operation {method} {url.path}"})
        try:
            payload = json.loads(body) if body else {}
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object")
            return operation(dict(parse_qsl(url.query)), payload)
        except (ValueError, TypeError) as exc:
            return Response(400, {"error": str(exc)})

    def _control_operations(self) -> dict[tuple[str, str], ControlOperation]:
        return {
            ("GET", "/status"): self._status,
            ("GET", "/stats"): lambda query, payload: self._stats(with_writes=True),
            ("GET", "/stats/summary"): lambda query, payload: self._stats(with_writes=False),
            ("POST", "/stats/reset"): self._reset_stats,
            ("POST", "/clock/advance"): self._advance_clock,
            ("GET", "/changes"): self._changes,
            ("PUT", "/faults"): self._set_faults,
            ("PUT", "/rate_limit"): self._set_rate_limit,
            ("PUT", "/restrictions"): self._set_restrictions,
        }

    def _status(self, query: dict[str, str], payload: dict[str, Any]) -> Response:
        with self.workspace.lock:
            summary = self.workspace.summary()
            clock = {
                "mode": self.config.clock,
                "activity_speed": self.config.activity_speed,
                **self.change_log.summary(),
            }
        body = {
            "workspace": summary,
            "scale": self.config.scale,
            "clock": clock,
            "rate_limit_per_minute": self.rate_limiter.per_minute,
            "faults": asdict(self.faults),
            "restricted_modules": sorted(self.router.state.restricted_modules),
            "scroll_open": self.router.state.scroll_is_open(),
        }
        return Response(200, body)

    def _stats(self, *, with_writes: bool) -> Response:
        with self.stats_lock:
            return Response(200, self.stats.as_dict(with_writes=with_writes))

    def _reset_stats(self, query: dict[str, str], payload: dict[str, Any]) -> Response:
        with self.stats_lock:
            self.stats = Stats()
        return Response(200, {"reset": True})

    def _advance_clock(self, query: dict[str, str], payload: dict[str, Any]) -> Response:
        """Move the fixed clock by `seconds` (default an hour) with `activity` (a busy hour)."""
        if self.wall_clock is not None:
            return Response(409, {"error": WALL_CLOCK_ADVANCE})
        seconds = int(payload.get("seconds", 3_600))
        raw_activity = payload.get("activity")
        ws = self.workspace
        with ws.lock:
            spec = (
                activity.Activity.default_for(ws)
                if raw_activity is None
                else activity.Activity.from_dict(raw_activity)
            )
            changes = self.change_log.advance(ws, seconds, spec, self.activity_rng)
            return Response(200, {"now": ws.now, "changes": asdict(changes)})

    def _changes(self, query: dict[str, str], payload: dict[str, Any]) -> Response:
        """The ids the clock moves that ended in (since, until] changed; until defaults to now."""
        if "since" not in query:
            raise ValueError("since (a unix timestamp) is required")
        since = int(query["since"])
        with self.workspace.lock:
            until = int(query.get("until", self.workspace.now))
            changes = self.change_log.between(since, until)
            return Response(200, {"since": since, "until": until, "changes": asdict(changes)})

    def _set_faults(self, query: dict[str, str], payload: dict[str, Any]) -> Response:
        with self.stats_lock:
            self.faults.update(payload)
        return Response(200, asdict(self.faults))

    def _set_rate_limit(self, query: dict[str, str], payload: dict[str, Any]) -> Response:
        self.rate_limiter.set_limit(int(payload["per_minute"]))
        body = {
            "per_minute": self.rate_limiter.per_minute,
            "per_10_seconds": self.rate_limiter.per_window,
        }
        return Response(200, body)

    def _set_restrictions(self, query: dict[str, str], payload: dict[str, Any]) -> Response:
        modules = payload.get("modules", [])
        known = self.router.modules()
        if not isinstance(modules, list) or not set(modules) <= known:
            raise ValueError(f"modules must be a list drawn from {sorted(known)}")
        self.router.state.restricted_modules = set(modules)
        return Response(200, {"restricted_modules": sorted(modules)})


def _base_url(headers: dict[str, str]) -> str:
    """The server the client sent its request to, from the Host header (Intercom's without one)."""
    host = headers.get("host")
    return f"http://{host}" if host else INTERCOM_BASE_URL


def _json_or_text(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode("utf-8", "replace")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "IntercomSandbox/1.0"
    # Headers and body go out in two writes; with Nagle's algorithm on, the body then waits for
    # the client's delayed ACK, which adds about 40 ms to every keep-alive call.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the stats endpoint says what happened."""

    def _respond(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        sandbox = self.server.sandbox
        if self.path.startswith(CONTROL_PREFIX):
            self._send(sandbox.control(self.command, self.path, body), None)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        response, fault = sandbox.serve(self.command, self.path, headers, body)
        self._send(response, fault)

    def _send(self, response: Response, fault: str | None) -> None:
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        if response.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if fault == "truncate" and payload:
            self.wfile.write(payload[: len(payload) // 2])
            self.close_connection = True
            return
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _respond


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        super().__init__(address, _Handler)
        self.sandbox = sandbox


class RunningSandbox:
    """A sandbox served on a local port from a background thread."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self.server = _Server((host, port), sandbox)
        # A short poll interval: stop() waits up to one interval for serve_forever to notice.
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="intercom-sandbox",
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> RunningSandbox:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
