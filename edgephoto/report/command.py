"""``edgephoto report``: one HTML page (+ the same as Markdown) of a bench run (imports only argparse here).

    edgephoto report --bench reports/bench.json --out reports/ [--data data] [--screenshot reports/report.png]

``make report`` runs it on ``$(REPORTS)/bench.json``. The work is in :mod:`edgephoto.report.build`.
"""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="one HTML page (+ Markdown) of a bench run: the table, plots, before/after grids",
        description="Read a bench's JSON and write <out>/report.html and <out>/report.md (the same content) "
                    "with their PNGs in <out>/report_files/: the bench table (every row: ours, peers, "
                    "classical), per task quality vs size and vs latency, parity error per format (log "
                    "scale), per-target latency estimates when the bench has them, and before/after grids "
                    "of each task's shipped model on test images through the runtime (a generator: a "
                    "contact sheet of samples). Files are written to a temporary name and renamed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--bench", default="reports/bench.json", help="the bench results (edgephoto bench --out)")
    p.add_argument("--out", default=None, help="report folder (default: the bench file's folder)")
    p.add_argument("--data", default=None,
                   help="dataset root for the grids' test images (<data>/<task>/test or <data>/test; "
                        "default: the root the bench recorded, else data)")
    p.add_argument("--images", type=int, default=4,
                   help="test images per task in the grids (a generator's sheet: 4x as many samples)")
    p.add_argument("--fit", default=None, metavar="DIR",
                   help="compress --fit results to include (<task>-<target>.json; default: fit/ beside the bench file)")
    p.add_argument("--screenshot", default=None, metavar="PNG",
                   help="also take a full-page screenshot of the page with headless Chromium (skipped with "
                        "one line when chromium is not installed)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from .build import build_report

    res = build_report(Path(args.bench), Path(args.out) if args.out else None,
                       Path(args.data) if args.data else None, images=args.images,
                       screenshot=Path(args.screenshot) if args.screenshot else None,
                       fit_dir=Path(args.fit) if args.fit else None)
    print(f"written {res['html']} and {res['markdown']} ({len(res['figures'])} image(s) in {res['files']}/)")
    for n in res["notes"]:
        print(f"note: {n}")
    shot = res.get("screenshot")
    if shot is not None:
        print(shot["note"], file=sys.stdout if shot["ok"] else sys.stderr)
    return 0
