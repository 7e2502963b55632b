"""Evaluate a PyTorch model on a split at the ground truth's resolution (task metrics)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch


@torch.no_grad()
def evaluate(model: torch.nn.Module, task, data_root: Path, split: str = "val",
             size: Optional[int] = None, limit: Optional[int] = None) -> Dict[str, float]:
    from ..data.folders import load_rgb

    custom = getattr(task, "evaluate_model", None)
    if custom is not None:      # tasks without input/target pairs (generation) score themselves
        return custom(model, Path(data_root), split, size, limit)
    size = size or task.input_size
    head = task.export_module(model)
    pairs = task.eval_pairs(data_root, split)[:limit]
    preds, targets = [], []
    for ip, tp in pairs:
        target = task.load_target(tp)
        preds.append(task.predict_for_eval(head, load_rgb(ip), size, target.shape))
        targets.append(target)
    out = task.metrics(preds, targets)
    out["images"] = len(pairs)
    out["split"] = split
    return out
