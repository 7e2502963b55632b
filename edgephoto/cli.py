"""Command line: ``edgephoto <command> --help`` (or ``python -m edgephoto``).

Each stage contributes its sub-command from ``edgephoto/<stage>/command.py``, a module that only
imports argparse at import time, so ``edgephoto run`` works on a device with the runtime alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

from .errors import UserError
from .registry import RegistryError

# (command module, what it adds) -- one row per stage; order is the --help order
COMMANDS = [
    "edgephoto.fetch.command",      # fetch
    "edgephoto.data.command",       # data
    "edgephoto.train.command",      # train
    "edgephoto.compress.command",   # compress
    "edgephoto.export.command",     # export
    "edgephoto.export.import_command",  # import (existing ONNX models: peers, teachers)
    "edgephoto.export.chain",       # chain (the generator's pipelines)
    "edgephoto.bench.command",      # bench
    "edgephoto.report.command",     # report (the bench's HTML page)
    "edgephoto.runtime.command",    # run, adjust...
]

# packages only the build extra installs: a missing one means "install edgephoto[build]"
BUILD_ONLY = {"torch", "tensorflow", "tensorflowjs", "onnx", "onnx2tf", "nncf", "skimage", "tf_keras"}


def add_task_argument(parser: argparse.ArgumentParser, help: str = "registered task") -> None:
    """``--task``, required: no task is anyone's default. An unknown name fails at ``get_task`` with
    one line that lists the registered tasks (importing them here would load every task module
    just to print help)."""
    parser.add_argument("--task", required=True, metavar="TASK",
                        help=f"{help} (required; an unknown name lists the registered ones)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    p = argparse.ArgumentParser(prog="edgephoto", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"edgephoto {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for mod in COMMANDS:
        try:
            importlib.import_module(mod).register(sub)
        except ModuleNotFoundError as e:
            if e.name != mod:  # a stage missing from this install is simply absent
                raise
    return p


def main(argv: Optional[List[str]] = None) -> int:
    return dispatch(build_parser(), argv)


def dispatch(parser: argparse.ArgumentParser, argv: Optional[List[str]] = None) -> int:
    """Parse, run the chosen sub-command, and turn user errors into one line + exit status 2."""
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (UserError, RegistryError) as e:
        print(f"edgephoto {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] in BUILD_ONLY:
            print(f"edgephoto {args.command}: error: this command needs the build stack "
                  f"({e.name} is not installed): pip install 'edgephoto[build]'", file=sys.stderr)
            return 2
        raise
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
