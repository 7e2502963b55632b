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


def test_colorize_bins_temperature_folds_into_the_logit_conv_and_keeps_ab_in_range():
    """The bins head's calibration is the annealed-mean temperature: folding k = 1/T into the 1x1
    logit conv makes the exported a* b* the annealed mean at T, computed the way the fit scores it."""
    task = get_task("colorize")
    torch.manual_seed(0)
    model = create_model("colornet_s_bins").eval()
    assert task.logit_layer(model) is model.bin_logits
    assert task.logit_layer(create_model("colornet_s")) is None     # the regression head: nothing to fold
    x = torch.rand(1, 1, 64, 64) * 2 - 1
    target = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    with torch.no_grad():
        z = task.calibration_logits(model(x))
        expected = task.calibrated_prediction(2.5 * z, target)
        calibrate.fold(task, model, 2.5, 0.0)
        ab = task.export_module(model)(x)
    assert ab.shape == (1, 2, 64, 64) and ab.abs().max() <= 1.0
    got = task.output_prediction(ab[0].permute(1, 2, 0).numpy(), target)
    assert np.abs(got - expected).max() < 1e-4


def test_colorize_calibration_picks_the_warmest_temperature_reaching_the_colour_target_above_grey():
    task = get_task("colorize")
    target = np.full((16, 16, 3), 0.5, np.float32)
    grey_psnr = task.metrics([task.classical((target * 255 + 0.5).astype(np.uint8))], [target])["psnr"]
    tried = [(1.0, 0.0, {"psnr": grey_psnr + 0.5, "colourfulness_ratio": 0.4}),
             (2.0, 0.0, {"psnr": grey_psnr + 0.2, "colourfulness_ratio": 0.55}),
             (3.0, 0.0, {"psnr": grey_psnr - 0.3, "colourfulness_ratio": 0.7})]
    assert task.choose_calibration(tried, [(None, target)]) == (2.0, 0.0)    # the most colourful above grey
    tried.insert(1, (1.5, 0.0, {"psnr": grey_psnr + 0.3, "colourfulness_ratio": 0.61}))
    assert task.choose_calibration(tried, [(None, target)]) == (1.5, 0.0)    # the warmest reaching the target
    # none keeps the grey input's PSNR: the best PSNR, not the most colourful
    worse = [(k, c, {"psnr": m["psnr"] - 1.0}) for k, c, m in tried]
    assert task.choose_calibration(worse, [(None, target)]) == (1.0, 0.0)
