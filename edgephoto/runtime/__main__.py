"""``python -m edgephoto.runtime run TASK IMAGE -o OUT``: the runtime CLI without the build stages."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    from ..cli import dispatch
    from . import command

    parser = argparse.ArgumentParser(prog="python -m edgephoto.runtime",
                                     description="edgephoto's device runtime")
    command.register(parser.add_subparsers(dest="command", metavar="COMMAND"))
    return dispatch(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
