"""``python -m edgephoto.runtime run TASK IMAGE -o OUT``: the runtime CLI without the build stages."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    from ..errors import UserError
    from ..registry import RegistryError
    from . import command

    parser = argparse.ArgumentParser(prog="python -m edgephoto.runtime",
                                     description="edgephoto's device runtime")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    command.register(sub)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (UserError, RegistryError) as e:
        print(f"edgephoto {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
