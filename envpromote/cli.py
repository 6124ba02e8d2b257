"""The ``envpromote`` command: invoke's ``Program`` over :data:`envpromote.tasks.namespace`.

``envpromote --list``, ``envpromote --help promote``, ``envpromote promote --env staging`` behave exactly as
``invoke ...`` does in this repository (without its development tasks). Paths (``envpromote.toml``, the app
directory, templates, ``.envpromote/`` state) resolve against the current directory, or against the folder
of ``--config``/``$ENVPROMOTE_CONFIG`` when one is given; never against the installed package.
Shell completion: ``envpromote --print-completion-script bash`` (or zsh, fish).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from envpromote import __version__

if TYPE_CHECKING:
    from invoke.program import Program


def program() -> Program:
    """The invoke Program (built on call: importing this module stays cheap)."""
    from invoke.program import Program

    from envpromote.tasks import namespace

    return Program(namespace=namespace, name="envpromote", binary="envpromote", version=__version__)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``[project.scripts] envpromote``); exits with the task's exit code.

    ``argv`` is a whole command line, program name first (default: ``sys.argv``).
    """
    from envpromote.tasks._common import set_program_name

    set_program_name("envpromote")  # hints then name the command that is running
    try:
        program().run(argv, exit=True)
    except BrokenPipeError:  # `envpromote --list | head`: the reader went away, not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)


if __name__ == "__main__":
    main()
