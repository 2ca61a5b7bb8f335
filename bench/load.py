"""Shared by the HTTP benchmarks: gunicorn processes that are always stopped, and one keep-alive load client.

A benchmark's figure is a ratio to a baseline served and loaded in the same run, so both sides must go through
exactly the same code: the same gunicorn command line, the same client, the same clock. That code lives here.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# A request source is fixed bytes or a function that builds each request (say, with a fresh Idempotency-Key).
RequestSource = bytes | Callable[[], bytes]


# --- Processes ----------------------------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on now: the kernel picks it when we bind to port 0."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class GunicornSettings:
    """Gunicorn's knobs, given to both servers of a comparison so only the WSGI app differs.

    gthread is what `make run` uses (2 workers x 4 threads), and unlike the sync worker it keeps connections
    alive, so the client measures requests rather than TCP handshakes.
    """

    workers: int = 2
    threads: int = 4
    worker_class: str = "gthread"

    def args(self) -> list[str]:
        return [
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--worker-class",
            self.worker_class,
            # No --access-logfile: gunicorn then keeps no access log, and logging every request would measure
            # the log writer.
            "--log-level",
            "warning",
        ]


def django_environment(**overrides: str) -> dict[str, str]:
    """The environment the project needs under gunicorn: production settings, but plain HTTP on 127.0.0.1.

    SECURE_SSL_REDIRECT is off because production redirects plain HTTP to HTTPS, and we measure the 200 path.
    DATABASE_URL and REDIS_URL keep the caller's values; the defaults only satisfy settings for endpoints that
    touch neither.
    """
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="omo.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),  # throwaway: nothing signed here outlives the run
        ALLOWED_HOSTS=f"{HOST},localhost",
        SECURE_SSL_REDIRECT="false",
    )
    env.setdefault("DATABASE_URL", "postgresql:///omo")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    # A checkout has no collected static files; whitenoise's warning about it says nothing about an API bench.
    env.setdefault("PYTHONWARNINGS", "ignore:No directory at:UserWarning")
    env.update(overrides)
    return env


def gunicorn_command(app: str, port: int, settings: GunicornSettings) -> list[str]:
    # The gunicorn next to our interpreter: the same venv, hence the same Django and the same bench package.
    gunicorn = Path(sys.executable).parent / "gunicorn"
    return [str(gunicorn), app, "--bind", f"{HOST}:{port}", *settings.args()]


def die_with_parent() -> None:
    """Runs in the child before exec: if the bench is SIGKILLed (no finally runs), Linux stops gunicorn."""
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def stop_process_group(process: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """SIGTERM to the whole group (master and workers), then SIGKILL to whatever outlives the grace period."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        try:
            process.wait(grace_s)
            break
        except subprocess.TimeoutExpired:
            continue
    # The master is gone; a worker it failed to reap would still hold the group id.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass(frozen=True)
class Server:
    app: str
    port: int
    process: subprocess.Popen[bytes]
    # The body of the first successful answer to the readiness probe, for the benchmark's sanity check.
    ready_body: bytes


@contextlib.contextmanager
def gunicorn_server(
    app: str,
    *,
    settings: GunicornSettings,
    ready_path: str,
    env: dict[str, str] | None = None,
    ready_timeout_s: float = 30.0,
) -> Iterator[Server]:
    """Start `gunicorn app` on a free port, wait until ready_path answers 2xx, and always stop it on exit.

    Its own session puts master and workers in one process group we can kill at once, and keeps the
    terminal's Ctrl-C for us: we stop it in order, from the finally below. Its stdout goes nowhere, because
    the last line of ours is the benchmark's JSON; its stderr (warnings, tracebacks) stays visible.
    """
    port = free_port()
    process = subprocess.Popen(
        gunicorn_command(app, port, settings),
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
    )
    try:
        body = wait_until_ready(process, port, ready_path, ready_timeout_s)
        yield Server(app=app, port=port, process=process, ready_body=body)
    finally:
        stop_process_group(process)


def wait_until_ready(process: subprocess.Popen[bytes], port: int, path: str, timeout_s: float) -> bytes:
    """Poll until the server answers 2xx; fail fast if gunicorn exits (bad import, bad settings)."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with code {process.returncode} before answering {path}")
        try:
            status, body = http_get(port, path)
        except OSError as error:
            last = repr(error)
        else:
            if 200 <= status < 300:
                return body
            last = f"HTTP {status}: {body[:200]!r}"
        time.sleep(0.05)
    raise RuntimeError(
        f"gunicorn on port {port} did not answer {path} with 2xx in {timeout_s:.0f} s ({last})"
    )


def http_get(port: int, path: str, timeout_s: float = 2.0) -> tuple[int, bytes]:
    """One plain GET, outside any measurement (readiness, sanity checks)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# --- Load ---------------------------------------------------------------------------------------------------


def encode_request(
    method: str, path: str, port: int, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    """An HTTP/1.1 request as bytes, built once so the client spends its time waiting, not formatting."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method not in {"GET", "HEAD"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class LoadResult:
    """What one timed window produced: successes with their latencies, and errors (non-2xx, broken socket).

    A request still in flight at the deadline is answered but not timed; `late_ok` and `late_errors` count
    those answers, so that a benchmark can match every 2xx against what the server wrote.
    """

    duration_s: float
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    late_ok: int = 0
    late_errors: int = 0

    @property
    def ok(self) -> int:
        return len(self.latencies_s)

    @property
    def rps(self) -> float:
        return self.ok / self.duration_s

    @property
    def answered_ok(self) -> int:
        """Every 2xx, in the window or after it."""
        return self.ok + self.late_ok

    def percentile_ms(self, q: float) -> float:
        """Nearest-rank percentile: an actual observed latency, not an interpolation between two."""
        if not self.latencies_s:
            return math.nan
        ordered = sorted(self.latencies_s)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[rank - 1] * 1000

    def merge(self, other: LoadResult) -> None:
        self.latencies_s += other.latencies_s
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error
        self.late_ok += other.late_ok
        self.late_errors += other.late_errors


def run_load(
    port: int,
    request: RequestSource | list[RequestSource],
    *,
    concurrency: int,
    duration_s: float,
) -> LoadResult:
    """`concurrency` threads, each on its own keep-alive connection, send requests back to back.

    Every thread connects first; the clock starts when all are connected, and only requests that complete
    before the deadline count, so connection set-up and the requests in flight at the end stay outside the
    window. Threads release the GIL while they wait on sockets, so a few of them keep the servers busy.
    `request` is one source for every thread, or a list of one per thread (a till of its own, say).
    """
    if isinstance(request, list) and len(request) != concurrency:
        raise ValueError(f"{len(request)} request sources for {concurrency} clients")
    results = [LoadResult(duration_s=duration_s) for _ in range(concurrency)]
    window: dict[str, float] = {}
    stop = threading.Event()

    def open_window() -> None:
        window["deadline"] = time.perf_counter() + duration_s

    barrier = threading.Barrier(concurrency, action=open_window)
    threads = [
        threading.Thread(
            target=_client,
            args=(
                port,
                request[index] if isinstance(request, list) else request,
                barrier,
                window,
                stop,
                result,
            ),
            name=f"bench-client-{index}",
            daemon=True,  # never keeps a Ctrl-C'd bench alive
        )
        for index, result in enumerate(results)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stop.set()
        barrier.abort()  # releases threads still waiting to start if we leave early
    total = LoadResult(duration_s=duration_s)
    for result in results:
        total.merge(result)
    return total


def _client(
    port: int,
    request: RequestSource,
    barrier: threading.Barrier,
    window: dict[str, float],
    stop: threading.Event,
    result: LoadResult,
) -> None:
    connection: _Connection | None = None
    with contextlib.suppress(OSError):
        connection = _Connection(port)
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        return
    deadline = window["deadline"]
    try:
        while not stop.is_set():
            payload = request if isinstance(request, bytes) else request()
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = _Connection(port)
                status, keep_alive = connection.exchange(payload)
            except (OSError, ValueError) as error:
                # A broken connection is an error; reconnect for the next request, without spinning on a
                # server that refuses connections.
                finished = time.perf_counter()
                if finished > deadline:
                    result.late_errors += 1
                    return
                _record_error(result, f"{type(error).__name__}: {error}")
                if connection is not None:
                    connection.close()
                connection = None
                time.sleep(0.01)
                continue
            finished = time.perf_counter()
            if finished > deadline:
                if 200 <= status < 300:
                    result.late_ok += 1
                else:
                    result.late_errors += 1
                return
            if 200 <= status < 300:
                result.latencies_s.append(finished - started)
            else:
                _record_error(result, f"HTTP {status}")
            if not keep_alive:
                connection.close()
                connection = None
    finally:
        if connection is not None:
            connection.close()


def _record_error(result: LoadResult, message: str) -> None:
    result.errors += 1
    result.first_error = result.first_error or message


class _Connection:
    """A raw HTTP/1.1 keep-alive connection: http.client parses headers with the email package, and on a
    two-core machine the client's own CPU time would come out of the servers' share."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=10)
        # Small requests must leave now, not wait for Nagle to batch them.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader: BinaryIO = self.sock.makefile("rb")

    def exchange(self, payload: bytes) -> tuple[int, bool]:
        """Send one request and read the whole response: its status, and whether the connection stays open."""
        self.sock.sendall(payload)
        return _read_response(self.reader)

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def _read_response(reader: BinaryIO) -> tuple[int, bool]:
    status_line = reader.readline(65537)
    if not status_line:
        raise ConnectionResetError("server closed the connection")
    status = int(status_line.split(None, 2)[1])
    length: int | None = None
    chunked = False
    keep_alive = status_line.startswith(b"HTTP/1.1")
    while (line := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"connection":
            keep_alive = value == b"keep-alive" or (keep_alive and value != b"close")
    if chunked:
        _read_chunked(reader)
    elif length is not None:
        if len(reader.read(length)) != length:
            raise ConnectionResetError("response body cut short")
    else:
        reader.read()  # no length: the body ends when the server closes the connection
        keep_alive = False
    return status, keep_alive


def _read_chunked(reader: BinaryIO) -> None:
    while size := int(reader.readline(65537).split(b";", 1)[0], 16):
        reader.read(size + 2)  # the chunk and its CRLF
    while reader.readline(65537) not in (b"\r\n", b"\n", b""):
        pass  # trailers


# --- Rounds and reporting -----------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def alternating_order(names: Sequence[str], round_index: int) -> list[str]:
    """A, B in even rounds and B, A in odd ones: neither side always runs first, on a cooler or warmer box."""
    return list(names) if round_index % 2 == 0 else list(reversed(names))


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns as wide as their widest cell: the first (a label) left-aligned, the figures right-aligned."""
    cells = [list(header)] + [[_format_cell(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _format_cell(cell: Any) -> str:
    if isinstance(cell, float):
        return f"{cell:,.2f}" if cell < 100 else f"{cell:,.0f}"
    return str(cell)


def print_result(result: dict[str, Any]) -> None:
    """The machine-readable result: one JSON object, always the last line of stdout."""
    print(json.dumps(result), flush=True)
