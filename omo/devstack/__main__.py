"""`python -m omo.devstack run|test|exec|system-packages`: what `make run` and `make test` do.

run   migrate, load the demo data once, then the web server, a Celery worker and Celery beat together;
      Ctrl-C stops every process it started, the embedded servers last.
test  the pytest suite against real PostgreSQL and Redis (embedded unless the environment names them).
exec  any command with DATABASE_URL / REDIS_URL set to the (embedded) services.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from omo.devstack import system
from omo.devstack.services import ROOT, VAR, log, services

DEMO_LOGINS = """\
  Demo logins (password for all: demo1234)        PIN
    owner          owner, every branch               1111
    manager        manager, Causeway Bay + Mong Kok  2222
    cwb-cashier    cashier, Causeway Bay 銅鑼灣       3333
    mk-cashier     cashier, Mong Kok 旺角             4444
    tst-cashier    cashier, Tsim Sha Tsui 尖沙咀      5555
    kc-staff       cashier, Kwai Chung 葵涌 warehouse 6666"""


def dev_environment(service_env: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **service_env}
    env.setdefault("DEBUG", "true")
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    env.setdefault("DJANGO_SETTINGS_MODULE", "omo.settings")
    if not env.get("SECRET_KEY"):
        key_file = VAR / "secret_key"
        if not key_file.exists():
            VAR.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(64))
            key_file.chmod(0o600)
        env["SECRET_KEY"] = key_file.read_text().strip()
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def stop_all(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each process group, then SIGKILL to whatever is left after 20 seconds."""
    for name, process in processes.items():
        if process.poll() is None:
            log(f"Stopping {name}")
            signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes.values():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_group(process, signal.SIGKILL)
            process.wait()


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def command_run() -> int:
    system.ensure(system.FOR_RUN)
    port = os.environ.get("PORT", "8000")
    bin_dir = Path(sys.executable).parent
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    with services() as service_env:
        env = dev_environment(service_env)
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--if-empty")
        commands = {
            "web": [
                str(bin_dir / "gunicorn"),
                "omo.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
            ],
            "worker": [
                str(bin_dir / "celery"),
                "-A",
                "omo",
                "worker",
                "--loglevel",
                "info",
                "--concurrency",
                "2",
                "--hostname",
                "omo-worker@%h",
            ],
            "beat": [
                str(bin_dir / "celery"),
                "-A",
                "omo",
                "beat",
                "--loglevel",
                "info",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
            ],
        }
        processes: dict[str, subprocess.Popen[bytes]] = {}
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            for name, command in commands.items():
                # Own session: the terminal's Ctrl-C comes to us, and we stop them before the database.
                processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
            log(
                f"OMO is running:\n"
                f"  POS / back office  http://127.0.0.1:{port}/\n"
                f"  Admin              http://127.0.0.1:{port}/admin/\n"
                f"  API docs           http://127.0.0.1:{port}/api/docs/\n"
                f"  OpenAPI schema     http://127.0.0.1:{port}/api/schema/\n"
                f"  Health             http://127.0.0.1:{port}/healthz\n"
                f"{DEMO_LOGINS}\n  Press Ctrl-C to stop everything.\n"
            )
            while not stopping:
                dead = [name for name, process in processes.items() if process.poll() is not None]
                if dead:
                    log(f"{', '.join(dead)} exited; stopping the rest")
                    return 1
                time.sleep(0.5)
            return 0
        finally:
            stop_all(processes)


def command_test(pytest_args: list[str]) -> int:
    system.ensure(system.FOR_TEST)
    with services() as service_env:
        env = {**os.environ, **service_env}
        # Importing omo (for this package) set omo.settings as the default; the suite has its own.
        env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        result = subprocess.run(
            [sys.executable, "-m", "pytest", *pytest_args], cwd=ROOT, env=env, check=False
        )
        return result.returncode


def command_exec(command: list[str]) -> int:
    with services() as service_env:
        env = dev_environment(service_env)
        return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "exec", "system-packages"}:
        print(__doc__)
        return 2
    rest = argv[1:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    if argv[0] == "run":
        return command_run()
    if argv[0] == "test":
        return command_test(rest)
    if argv[0] == "exec":
        return command_exec(rest)
    return 1 if system.ensure(system.FOR_CI) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
