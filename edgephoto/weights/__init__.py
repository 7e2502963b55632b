"""Committed starter weights: small student checkpoints users can compress/export without training.

Each ``<task>-student.pt`` has a model card ``<task>-student.md`` (data, licences, steps, measured
metrics, the command that reproduces it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent
STARTER_VARIANT = "starter"


def starter_path(task: str) -> Path:
    return WEIGHTS_DIR / f"{task}-student.pt"


def install_starter(task: str, runs: Path) -> str:
    """Copy the starter checkpoint to ``runs/<task>/starter/ckpt.pt``; returns the variant name."""
    from ..errors import UserError
    src = starter_path(task)
    if not src.is_file():
        raise UserError(f"no starter weights for task '{task}' ({src} is missing)")
    dst = Path(runs) / task / STARTER_VARIANT / "ckpt.pt"
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(".ckpt.pt.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)
    print(f"[compress {task}] installed starter weights {src} -> {dst}")
    return STARTER_VARIANT
