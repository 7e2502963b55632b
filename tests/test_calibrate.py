"""Output calibration (train/calibrate.py): the (k, c) fit improves the task metric on the split
it is fitted on, and folding it into the logit layer gives exactly sigmoid(k z + c)."""

from __future__ import annotations

import numpy as np
import torch

from edgephoto.models import create_model
from edgephoto.tasks import get_task
from edgephoto.train import calibrate


def test_fold_equals_the_affine_on_the_exported_logits():
    task = get_task("matte")
    torch.manual_seed(0)
    model = create_model(task.student_arch).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        z = task.outputs(model(x))[0]
        calibrate.fold(task, model, 3.0, -1.5)
        z2 = task.outputs(model(x))[0]
    assert torch.allclose(z2, 3.0 * z - 1.5, atol=1e-4)


def test_fit_sharpens_a_hedging_mask_and_never_worsens_the_metric():
    task = get_task("matte")
    rng = np.random.default_rng(0)
    logits = []
    for _ in range(6):   # a model that ranks right but hedges: logits +-0.6 around the truth
        gt = np.zeros((32, 32), np.float32)
        gt[8:24, 6:20] = 1.0
        z = torch.from_numpy((gt * 1.2 - 0.6 + rng.normal(0, 0.2, gt.shape)).astype(np.float32))[None, None]
        logits.append((z, gt))
    res = calibrate.fit(task, logits, progress=lambda s: None)
    assert res["after"]["mae"] < 0.5 * res["before"]["mae"]
    assert res["scale"] > 1.0
    # the identity is one of the candidates: a calibrated model is never worse on its fit split
    assert res["after"]["mae"] <= res["before"]["mae"]
