"""Output calibration: fit ``k * z + c`` of the exported logits on the val split and fold it into the weights.

A student trained with BCE on ambiguous composites hedges: it answers 0.3-0.6 where the object is
uncertain, which BCE rewards and MAE (and a user looking at a half-transparent cut-out) does not.
Platt scaling with the task's own metric fixes the confidence without touching what the model
ranks: ``k`` (sharpness) and ``c`` (bias) are searched on the **val** split (never the test split)
to optimise the task's primary metric, then folded into the layer that produces the exported
logits (``Task.logit_layer(model)``, e.g. U2-Net's 1x1 fuse conv), so export, runtime and web page
see ordinary weights.

The task says what is searched and how a fit is chosen (``Task.calibration_*``): matte's sigmoid
takes (k, c) and the gentlest fit within 1% of the best; colorize's bins head takes ``k = 1 / T``,
the annealed-mean temperature of Zhang et al. (the softmax ignores c), and the most colourful T that
keeps the val PSNR above the grey input's.

    python -m edgephoto.train.calibrate CKPT --task matte --data data/matte-real [--size 224] [--out CKPT2]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F



@torch.no_grad()
def val_logits(model: torch.nn.Module, task, data_root: Path, size: int, split: str = "val",
               limit: Optional[int] = None) -> List[Tuple[torch.Tensor, np.ndarray]]:
    """(exported logits at model resolution, ground truth) for each pair of ``split``."""
    from PIL import Image

    from ..data.folders import load_rgb
    model.eval()
    out = []
    for ip, tp in task.eval_pairs(data_root, split)[:limit]:
        rgb = np.asarray(Image.fromarray(load_rgb(ip)).resize((size, size), Image.BILINEAR))
        z = task.calibration_logits(model(task.model_input(rgb)))
        out.append((z, task.load_target(tp)))
    return out


def sigmoid_prediction(z: torch.Tensor, target: np.ndarray) -> np.ndarray:
    """A mask's logits -> its probabilities upsampled bilinearly to the ground truth's size."""
    return F.interpolate(torch.sigmoid(z), size=target.shape[:2], mode="bilinear",
                         align_corners=False)[0, 0].numpy()


def score(task, logits: Sequence[Tuple[torch.Tensor, np.ndarray]], k: float, c: float) -> Dict[str, float]:
    """The task's metrics of its predictions from ``k z + c`` (``Task.calibrated_prediction``)."""
    preds = [task.calibrated_prediction(k * z + c, t) for z, t in logits]
    return task.metrics(preds, [t for _, t in logits])


def gentlest_near_best(task, tried: Sequence[Tuple[float, float, Dict[str, float]]], logits) -> Tuple[float, float]:
    """The gentlest (k, c) within 1% of the best primary metric: soft alpha edges survive a small
    k, not a large one."""
    from ..metrics import metric_info
    info = metric_info(task.primary_metric)
    best = min(info.sort_key(m[task.primary_metric]) for _, _, m in tried)
    target = best + abs(best) * 0.01
    return next((k, c) for k, c, m in sorted(tried, key=lambda r: (r[0], abs(r[1])))
                if info.sort_key(m[task.primary_metric]) <= target)


def fit(task, logits, sharpness: Optional[Sequence[float]] = None, bias: Optional[Sequence[float]] = None,
        progress=print) -> Dict[str, Any]:
    """Grid search of (k, c) (the task's ``calibration_grid`` unless given); the task's
    ``choose_calibration`` picks one. Returns the fit and the metrics before/after."""
    from ..metrics import metric_info
    grid_k, grid_c = task.calibration_grid
    sharpness, bias = sharpness or grid_k, bias or grid_c
    info = metric_info(task.primary_metric)
    before = score(task, logits, 1.0, 0.0)
    tried = [(1.0, 0.0, before)]
    for i, k in enumerate(sharpness):
        tried += [(k, c, score(task, logits, k, c)) for c in bias]
        best = min(tried, key=lambda r: info.sort_key(r[2][task.primary_metric]))
        progress(f"[calibrate] sharpness {i + 1}/{len(sharpness)}: best {task.primary_metric} so far "
                 f"k={best[0]:g} c={best[1]:g} {info.format(best[2][task.primary_metric])}")
    k, c = task.choose_calibration(tried, logits)
    after = next(m for kk, cc, m in tried if (kk, cc) == (k, c))
    return {"scale": k, "shift": c, "metric": task.primary_metric, "split": "val",
            "images": len(logits), "before": before, "after": after}


@torch.no_grad()
def fold(task, model: torch.nn.Module, scale: float, shift: float) -> None:
    """Make the exported logits ``scale * z + shift`` by rescaling the layer that produces them."""
    layer = task.logit_layer(model)
    layer.weight.mul_(scale)
    if layer.bias is None:
        raise ValueError("the logit layer has no bias to shift")
    layer.bias.mul_(scale).add_(shift)


def calibrate_checkpoint(ckpt: Path, task_name: str, data: Path, out: Path, size: Optional[int] = None,
                         limit: Optional[int] = None, required: bool = True) -> Optional[Dict[str, Any]]:
    """Fit on ``data``'s val split, fold, and write the calibrated checkpoint to ``out`` (atomically).
    A model without a logit layer is an error, or None when not ``required``."""
    from ..errors import UserError
    from ..tasks import get_task
    from .checkpoint import load_model, save_checkpoint
    task = get_task(task_name)
    model, state = load_model(ckpt)
    if getattr(task, "logit_layer", None) is None or task.logit_layer(model) is None:
        if not required:
            return None
        raise UserError(f"a {state['arch']} of task {task_name} has no logit layer to calibrate (Task.logit_layer)")
    size = int(size or state["input_size"])
    logits = val_logits(model, task, Path(data), size, limit=limit)
    if not logits:
        raise UserError(f"no val pairs under {data}: calibration needs the val split")
    res = fit(task, logits)
    fold(task, model, res["scale"], res["shift"])
    cfg = dict(state.get("config", {}))
    cfg["calibration"] = {k: res[k] for k in ("scale", "shift", "metric", "split", "images")}
    save_checkpoint(Path(out), model, task=task_name, arch=state["arch"], input_size=size, step=state["step"],
                    arch_kwargs=state.get("arch_kwargs"), metrics={**state.get("metrics", {}), "calibration": {"before": res["before"],
                                                                        "after": res["after"]}},
                    config=cfg, weights_only=True)
    return res


def main(argv: Optional[Sequence[str]] = None) -> int:
    from ..cli import add_task_argument
    from ..errors import UserError
    p = argparse.ArgumentParser(prog="python -m edgephoto.train.calibrate", description=__doc__.split("\n\n")[0])
    p.add_argument("ckpt", type=Path)
    add_task_argument(p)
    p.add_argument("--data", type=Path, required=True, help="dataset root with a val split")
    p.add_argument("--size", type=int, help="input size the model will ship at (default: the checkpoint's)")
    p.add_argument("--limit", type=int, help="use the first N val pairs")
    p.add_argument("--out", type=Path, help="calibrated checkpoint (default: <ckpt dir>/calibrated.pt)")
    a = p.parse_args(argv)
    try:
        res = calibrate_checkpoint(a.ckpt, a.task, a.data, a.out or a.ckpt.with_name("calibrated.pt"),
                                   a.size, a.limit)
    except UserError as e:
        print(f"error: {e}")
        return 2
    changes = ", ".join(f"{k} {res['before'][k]:.4f} -> {v:.4f}" for k, v in res["after"].items()
                        if isinstance(v, float) and k in res["before"])
    print(f"calibrated: logits x {res['scale']:g} + {res['shift']:g}; val {changes} on {res['images']} images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
