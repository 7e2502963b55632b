"""Parity of an exported artifact against the PyTorch model it came from, on held-out images.

The parity images are the task data's test split (default 16 images, spread over the split;
the val split when there is no test split), each made into one model input as the runtime's
inference mode does (``compress.quantize.model_window``: resized for ``resize`` models, a
native-resolution tile for ``tile`` models). Every artifact gets the same normalized float32 input
as the PyTorch export module; the comparison is on the output (a mask probability, an RGB image):

- ``max_abs`` / ``mean_abs``: artifact vs PyTorch, at the model's resolution;
- every task metric of both against the ground truth (resize models: predictions upsampled
  bilinearly to the ground truth's size, as the runtime's ``resize`` mode does; tile models: the
  photo's part of the tile against the same part of the ground truth), as ``<metric>_torch`` and
  ``<metric>``, and ``<metric>_drop`` (positive = the artifact is worse, whichever direction the
  metric improves in); ``quality_drop`` is the drop of the task's primary metric (MAE for masks,
  L1 for images), which the format table's tolerances gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..errors import UserError
from ..metrics import METRIC_INFO

DEFAULT_PARITY_IMAGES = 16
PARITY_SEED = 12345        # generators' parity latents (not the bench's or the user's usual seeds)


@dataclass
class ParitySet:
    split: str
    pairs: List[tuple]
    images: np.ndarray                  # N x S x S x 3 float32, normalized
    targets: List[np.ndarray]           # ground truth at native size
    reference: Optional[np.ndarray] = None     # torch output N x S x S (x C for C > 1)
    reference_metrics: Dict[str, float] = field(default_factory=dict)
    regions: Optional[List[Optional[tuple]]] = None    # tile models: where each photo is in its tile
    scale: int = 1                                     # output pixels per input pixel


def load_parity_set(task, data_root: Path, size: int, n: int = DEFAULT_PARITY_IMAGES) -> ParitySet:
    from ..compress.quantize import model_window

    if task.spec.input.kind == "latent":   # a generator: seeded latents, no ground truth per input
        from ..runtime.latent import latents
        z = latents(PARITY_SEED, n or DEFAULT_PARITY_IMAGES, int(task.spec.input.latent_dim))
        return ParitySet(f"latents of seed {PARITY_SEED}", [], z, [])
    data_root = Path(data_root)
    pairs, split, errors = [], None, []
    for split in ("test", "val"):
        if not (data_root / split).is_dir():
            errors.append(f"{data_root / split} missing")
            continue
        try:
            pairs = task.eval_pairs(data_root, split)
        except UserError as e:
            errors.append(str(e))
            continue
        if pairs:
            break
    if not pairs:
        raise UserError(f"no held-out images for parity under {data_root} ({'; '.join(errors)}); "
                        f"pass --data with a test or val split")
    if n and len(pairs) > n:
        idx = np.linspace(0, len(pairs) - 1, n).round().astype(int)
        pairs = [pairs[i] for i in sorted(set(idx))]
    windows = [model_window(p, size, task.spec) for p, _ in pairs]
    images = np.stack([w for w, _ in windows]).astype(np.float32)
    regions = [r for _, r in windows]
    s = int(task.spec.output.scale or 1)
    targets = [task.load_target(t) for _, t in pairs]
    targets = [t if r is None else t[s * r[2]:s * (r[2] + r[4]), s * r[3]:s * (r[3] + r[5])]
               for t, r in zip(targets, regions)]
    return ParitySet(split, pairs, images, targets, regions=regions, scale=s)


def as_maps(outputs_nhwc: np.ndarray) -> np.ndarray:
    """N x H x W x C -> N x H x W when C == 1 (masks), unchanged otherwise (images)."""
    y = np.asarray(outputs_nhwc, np.float32)
    return y[..., 0] if y.ndim == 4 and y.shape[-1] == 1 else y


def torch_outputs(module, images_nhwc: np.ndarray) -> np.ndarray:
    import torch

    outs = []
    with torch.no_grad():
        for img in images_nhwc:
            x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)[None] if img.ndim == 3 else img[None]))
            outs.append(module(x)[0].float().numpy().transpose(1, 2, 0))
    return as_maps(np.stack(outs))


def photo_part(pred: np.ndarray, region: Optional[tuple], s: int) -> np.ndarray:
    """The photo's part of a tile model's output (``region`` from ``model_window``; None: all)."""
    if region is None:
        return pred
    wy, wx, _, _, h, w = region
    return pred[s * wy:s * (wy + h), s * wx:s * (wx + w)]


def task_metrics(task, preds: np.ndarray, targets: Sequence[np.ndarray],
                 regions: Optional[Sequence[Optional[tuple]]] = None, scale: int = 1) -> Dict[str, float]:
    regions = regions or [None] * len(preds)
    ups = [task.output_prediction(photo_part(p, r, scale), t) for p, r, t in zip(preds, regions, targets)]
    return task.metrics(ups, list(targets))


def compare(task, pset: ParitySet, out: np.ndarray) -> (Dict[str, float], Dict[str, float]):
    """-> (parity block, metrics block) for the manifest."""
    ref = pset.reference
    if out.shape != ref.shape:
        raise RuntimeError(f"artifact output shape {out.shape} differs from PyTorch {ref.shape}")
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    met = task_metrics(task, out, pset.targets, pset.regions, pset.scale) if pset.targets else {}
    rm = pset.reference_metrics
    parity = {"reference": "torch-fp32", "images": int(len(out)), "split": pset.split,
              "max_abs": float(diff.max()), "mean_abs": float(diff.mean())}
    for k in sorted(set(met) & set(rm)):
        parity[f"{k}_torch"], parity[k] = float(rm[k]), float(met[k])
        if k in METRIC_INFO:
            parity[f"{k}_drop"] = METRIC_INFO.get(k).worse_by(met[k], rm[k])
    if f"{task.primary_metric}_drop" in parity:
        parity["quality_drop"] = parity[f"{task.primary_metric}_drop"]
        parity["quality_metric"] = task.primary_metric
    metrics = {**{k: float(v) for k, v in met.items()}, "split": pset.split, "images": int(len(out)),
               "note": ("parity images at the model's input size, upsampled to the ground truth"
                        if not any(pset.regions or ()) else
                        "one native-resolution tile per parity image, against the same part of the ground truth")}
    return parity, metrics


def run_artifact(spec, model_dir: Path, images_nhwc: np.ndarray) -> np.ndarray:
    """The staged artifact in ``model_dir`` (its manifest included) through ``runtime.load`` with
    the engine that will run it (``spec.engine``: onnxruntime, litert, or tfjs in Node), on the
    already-normalized parity images; returns the output the manifest names, N x S x S (x C)."""
    from ..runtime import load

    model = load(model_dir, engine=spec.engine, threads=1)
    k = model.spec.output.index
    if model.engine.batches:
        return as_maps(model.run_raw(images_nhwc)[k])
    return as_maps(np.concatenate([model.run_raw(img[None])[k] for img in images_nhwc]))
