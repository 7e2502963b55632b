"""``edgephoto data``: write a task's built-in default dataset (no download) in its folder layout."""

from __future__ import annotations

import argparse

from ..cli import add_task_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="generate the built-in default dataset of a task",
                       description="Generate a task's built-in dataset (deterministic given --seed) "
                                   "into DATA/<split>/... in the layout users' own data uses.")
    add_task_argument(p)
    p.add_argument("--out", default=None, help="output folder (default: data/<task>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train", type=int, default=None, help="number of training samples")
    p.add_argument("--val", type=int, default=None)
    p.add_argument("--test", type=int, default=None)
    p.add_argument("--source", default="auto",
                   help="which built-in recipe: auto (real photos from `edgephoto fetch` when the cache "
                        "has them, else generated scenes), or a recipe name, e.g. real / generated")
    p.add_argument("--pseudo-labels", default=None, metavar="MODEL_DIR",
                   help="also label the training photos with this exported or imported model (e.g. "
                        "dist/matte/u2netp/onnx_fp32) and keep its confident masks (recipes that support it)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from ..data.real_sources import sources_root as real_sources_root
    from ..tasks import get_task
    from ..utils.progress import Progress

    task = get_task(args.task)
    out = Path(args.out) if args.out else task.default_data_root()
    source, recipe = task.builtin_source(args.source)
    if args.source == "auto" and len(task.builtin_sources()) > 1 and source != next(iter(task.builtin_sources())):
        print(f"warning: no fetched real photos in {real_sources_root()}/ (run `make fetch`): "
              f"{args.task} data falls back to {source} scenes, which do not predict quality on photos")
    print(f"data {args.task}: built-in source '{source}' ({recipe.__name__})")
    label = getattr(recipe, "pseudo_label_photos", None)
    if args.pseudo_labels and label is None:
        from ..errors import UserError
        raise UserError(f"the '{source}' data of task {args.task} takes no pseudo-labels (--pseudo-labels)")
    sizes = {k: (getattr(args, k) if getattr(args, k) is not None else v) for k, v in recipe.SPLIT_SIZES.items()}
    bars = {}

    def progress(split, i, n):
        if split not in bars:   # the samples already on disk count as done, not in the rate
            bars[split] = Progress(f"data {args.task}/{split}", n, start=i - 1 if 0 < i < n else i)
        bars[split].update(i)

    t0 = time.time()
    written = task.generate_builtin(out, seed=args.seed, sizes=sizes, progress=progress, source=source)
    print(f"wrote {sum(written.values())} samples {written} to {out} in {time.time() - t0:.0f}s")
    if args.pseudo_labels:
        from .. import runtime
        teacher = runtime.load(args.pseudo_labels)
        n = label(out, lambda rgb: teacher.predict(rgb).outputs[teacher.primary_output], progress=progress)
        print(f"pseudo-labels: kept {n} training photos labelled by {args.pseudo_labels}")
    return 0
