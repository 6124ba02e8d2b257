"""``python -m envpromote.sandbox serve --host 127.0.0.1 --port N [--config PATH] [--ready-file PATH]
[--time-scale X]``."""

from __future__ import annotations

import argparse
import os
import sys

from envpromote.sandbox.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m envpromote.sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the sandbox server in the foreground")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=0, help="0 picks a free port")
    run.add_argument("--config", default=None, help="envpromote.toml the sandbox was started for")
    run.add_argument("--ready-file", default=None, help="written (JSON: url, pid, port) once listening")
    run.add_argument(
        "--parent-pid", type=int, default=None, help="exit when this process (e.g. the test run) is gone"
    )
    run.add_argument(
        "--time-scale",
        type=float,
        default=None,
        help="speed of sandbox time (0 = frozen, 10 = ten times real time); "
        "default $ENVPROMOTE_SANDBOX_TIME_SCALE, else 1",
    )
    args = parser.parse_args(argv)
    return serve(
        args.host,
        args.port,
        args.config,
        args.ready_file,
        parent_pid=args.parent_pid,
        time_scale=args.time_scale,
    )


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Interpreter teardown of moto's in-memory state takes seconds and there is nothing left to save.
    os._exit(code)
