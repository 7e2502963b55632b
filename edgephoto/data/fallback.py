"""A small held-out set for export when the task's dataset was never generated.

``make compress export WEIGHTS=starter`` on a fresh clone has no ``data/<task>``: selection, parity
and int8 calibration still need a few real task images. :func:`eval_data_root` returns the dataset
root when it has a held-out split, and otherwise writes a small one with the task's own built-in
recipe (real photos from ``edgephoto fetch`` when the cache has them, generated scenes otherwise) to
``data/.fallback/<task>/`` and says so in one line. It is never used for training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

FALLBACK_SIZES = {"train": 32, "val": 16, "test": 16}   # train = int8 calibration images


def has_split(root: Path, task, split: str) -> bool:
    try:
        return bool(task.eval_pairs(Path(root), split))
    except Exception:
        return False


def eval_data_root(task, root: Path, log: Callable[[str], None] = print) -> Path:
    """``root`` when it holds a test or val split, else a small built-in set (written once)."""
    root = Path(root)
    if has_split(root, task, "test") or has_split(root, task, "val"):
        return root
    fb = Path("data") / ".fallback" / task.name
    source, _ = task.builtin_source("auto")
    if not (has_split(fb, task, "test") and has_split(fb, task, "val")):
        task.generate_builtin(fb, seed=0, sizes=dict(FALLBACK_SIZES), source=source)
    log(f"note: no held-out split in {root}/ (run `make data TASK={task.name}` for the full one): parity, "
        f"selection and int8 calibration use {FALLBACK_SIZES['test']} test / {FALLBACK_SIZES['val']} val / "
        f"{FALLBACK_SIZES['train']} calibration images of the built-in '{source}' data in {fb}/")
    return fb
