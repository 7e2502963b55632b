"""Task metrics on numpy arrays, importable without torch (the bench and devices use them).

``METRICS`` maps a manifest ``output.kind`` to its metric function, so the bench can score a model
directory from its manifest alone; tasks import their function from here.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

from .registry import Registry

BETA2 = 0.3  # the salient-object literature's precision weighting

METRICS = Registry("metric set")


@METRICS.register("alpha")
def mask_metrics(preds: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Dict[str, float]:
    """MAE, max F-measure and IoU@0.5 over pairs of [0,1] masks of equal shape."""
    if len(preds) != len(targets) or not preds:
        raise ValueError("need equally many predictions and targets (at least one)")
    maes, ious = [], []
    prec = np.zeros(256)
    rec = np.zeros(256)
    for p, g in zip(preds, targets):
        p = np.asarray(p, np.float64).squeeze()
        g = np.asarray(g, np.float64).squeeze()
        if p.shape != g.shape:
            raise ValueError(f"prediction {p.shape} and target {g.shape} differ in shape")
        maes.append(np.abs(p - g).mean())
        gb = g >= 0.5
        pb = p >= 0.5
        union = np.logical_or(gb, pb).sum()
        ious.append(np.logical_and(gb, pb).sum() / union if union else 1.0)
        # precision/recall at 256 thresholds via a histogram of prediction values
        bins = np.clip((p * 255).round().astype(int), 0, 255)
        pos = np.bincount(bins[gb], minlength=256)[::-1].cumsum()[::-1]   # TP at threshold k
        allp = np.bincount(bins.ravel(), minlength=256)[::-1].cumsum()[::-1]
        n_gt = gb.sum()
        prec += np.where(allp > 0, pos / np.maximum(allp, 1), 1.0 if n_gt == 0 else 0.0)
        rec += pos / n_gt if n_gt else np.ones(256)
    prec /= len(preds)
    rec /= len(preds)
    f = (1 + BETA2) * prec * rec / np.maximum(BETA2 * prec + rec, 1e-12)
    return {"mae": float(np.mean(maes)), "max_f": float(f.max()), "iou": float(np.mean(ious))}
