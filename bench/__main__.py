"""`python -m bench NAME [--quick]`: run one benchmark; the last line it prints is its JSON result."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from types import FrameType, ModuleType

# Name -> module; a module provides `run(*, quick: bool) -> int` (the exit code), so adding a benchmark is one
# line. Modules are imported by name so that one benchmark's imports never slow down or break another. A
# module with options of its own also provides `add_arguments(parser)`; run() gets them as keywords.
BENCHMARKS: dict[str, str] = {
    "http_floor": "bench.http_floor",
    "availability": "bench.availability",
    "oversell": "bench.oversell",
    "pos_sale": "bench.pos_sale",
}


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, ModuleType]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run a benchmark; it prints a table, then one JSON object as its last line.",
    )
    # An unknown name makes argparse print the usage and exit with 2.
    parser.add_argument("name", choices=sorted(BENCHMARKS), help="the benchmark to run")
    parser.add_argument("--quick", action="store_true", help="a small size, for tests and a first look")
    # The benchmark's own options join before parsing, so that its --help lists them too.
    words = sys.argv[1:] if argv is None else argv
    name = next((word for word in words if word in BENCHMARKS), None)
    module = importlib.import_module(BENCHMARKS[name]) if name else None
    add_arguments = getattr(module, "add_arguments", None)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    return args, module or importlib.import_module(BENCHMARKS[args.name])


def exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds the stack, so the finally blocks that stop the servers run as they do on Ctrl-C.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args, module = parse_args(argv)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    options = {key: value for key, value in vars(args).items() if key not in {"name", "quick"}}
    try:
        return int(module.run(quick=args.quick, **options))
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as error:
        # A server that would not start or answered wrongly: a message, not a traceback.
        print(f"bench {args.name}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
