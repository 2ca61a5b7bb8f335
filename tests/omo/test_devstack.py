"""`make run` as a new user meets it: embedded PostgreSQL and Redis, healthy in minutes, Ctrl-C stops all."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from bench.load import free_port

ROOT = Path(__file__).resolve().parents[2]


def health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


def start_and_stop(var_dir: Path, port: int) -> str:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG"}
    }
    env.update({"OMO_VAR_DIR": str(var_dir), "PORT": str(port)})
    log = var_dir.parent / f"run-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        # Its own process group, like a terminal's foreground job: Ctrl-C is SIGINT to the whole group.
        process = subprocess.Popen(
            [sys.executable, "-m", "omo.devstack", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started: list[psutil.Process] = []
        try:
            deadline = time.monotonic() + 180
            status, body = 0, {}
            while status != 200 and time.monotonic() < deadline and process.poll() is None:
                time.sleep(1)
                status, body = health(port)
            assert status == 200, (body, log.read_text()[-3000:])
            assert body["checks"] == {"database": "ok", "redis": "ok", "worker": "ok"}
            started = psutil.Process(process.pid).children(recursive=True)
            postmaster = int((var_dir / "postgres" / "postmaster.pid").read_text().split()[0])
            started.append(psutil.Process(postmaster))
            os.killpg(process.pid, signal.SIGINT)
            assert process.wait(60) == 0
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    left = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, [p.cmdline() for p in left]
    return log.read_text()


@pytest.mark.timeout(600)
def test_make_run_from_nothing_then_again_with_the_same_data(tmp_path):
    var_dir = tmp_path / "var"
    first = start_and_stop(var_dir, free_port())
    assert "Demo data loaded" in first
    assert "demo1234" in first and "/api/docs/" in first
    second = start_and_stop(var_dir, free_port())
    assert "already has users" in second
