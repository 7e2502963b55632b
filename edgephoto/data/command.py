"""``edgephoto data``: write a task's built-in default dataset (no download) in its folder layout."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="generate the built-in default dataset of a task",
                       description="Generate a task's built-in dataset (deterministic given --seed) "
                                   "into DATA/<split>/... in the layout users' own data uses.")
    p.add_argument("--task", default="matte")
    p.add_argument("--out", default=None, help="output folder (default: data/<task>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train", type=int, default=None, help="number of training samples")
    p.add_argument("--val", type=int, default=None)
    p.add_argument("--test", type=int, default=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from ..tasks import get_task
    from ..utils.progress import Progress

    task = get_task(args.task)
    out = Path(args.out) if args.out else task.default_data_root()
    sizes = None
    if any(v is not None for v in (args.train, args.val, args.test)):
        from ..data.synthetic_matte import SPLIT_SIZES
        sizes = {k: (getattr(args, k) if getattr(args, k) is not None else v) for k, v in SPLIT_SIZES.items()}
    bars = {}

    def progress(split, i, n):
        bar = bars.setdefault(split, Progress(f"data {args.task}/{split}", n))
        bar.update(i)

    t0 = time.time()
    written = task.generate_builtin(out, seed=args.seed, sizes=sizes, progress=progress)
    print(f"wrote {sum(written.values())} samples {written} to {out} in {time.time() - t0:.0f}s")
    return 0
