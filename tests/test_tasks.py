"""Every registered task, end to end at toy size: its built-in data, a few training steps, an ONNX
export, the runtime, and an output that keeps the task's contract (runtime/spec.py). A new task is
covered here without new test code."""

import subprocess
import sys

import numpy as np
import pytest

from edgephoto.metrics import METRIC_INFO
from edgephoto.tasks import TASKS, get_task

SIZE = 64


@pytest.mark.parametrize("name", TASKS.names())
def test_task_metrics_are_registered_with_a_direction(name):
    task = get_task(name)
    for m in (task.primary_metric, *task.report_metrics):
        assert m in METRIC_INFO, f"task {name}: metric {m} is not in metrics.METRIC_INFO"
    info = METRIC_INFO.get(task.primary_metric)
    better = 0.9 if not info.higher_is_better else 1.1
    assert info.worse_by(better, 1.0) < 0 < info.worse_by(2.0 - better, 1.0)


def _run(*args, cwd):
    p = subprocess.run([sys.executable, "-m", "edgephoto", *map(str, args)], cwd=cwd, capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, f"edgephoto {' '.join(map(str, args))}:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
    return p


@pytest.mark.parametrize("name", TASKS.names())
def test_task_smoke_data_train_export_run(name, tmp_path):
    from edgephoto import runtime

    task = get_task(name)
    data, runs, dist = tmp_path / "data", tmp_path / "runs", tmp_path / "dist"
    _run("data", "--task", name, "--out", data, "--train", 4, "--val", 2, "--test", 2, cwd=tmp_path)
    _run("train", "--task", name, "--role", "student", "--profile", "smoke", "--data", data,
         "--runs", runs, "--threads", 1, cwd=tmp_path)
    ckpt = runs / name / "student" / "ckpt.pt"
    assert ckpt.is_file()
    _run("export", "--task", name, "--checkpoint", ckpt, "--variant", "smoke", "--formats", "onnx_fp32",
         "--dist", dist, "--data", data, "--parity-images", 2, "--size", SIZE, cwd=tmp_path)
    model = runtime.load(dist / name / "smoke" / "onnx_fp32", threads=1)
    assert model.spec.output == task.spec.output
    if task.spec.input.kind == "latent":      # a generator: seeded images of the output's size
        images = model.generate(3, seed=5)
        assert [im.shape for im in images] == [tuple(task.spec.output.size) + (3,)] * 3
        assert all(im.dtype == np.uint8 for im in images)
        assert np.array_equal(images[2], model.generate(1, seed=5, start=2)[0])
        with pytest.raises(runtime.UserError, match="takes no photo"):
            model.predict(np.zeros((40, 40, 3), np.uint8))
        return
    assert model.spec.input.hw == (SIZE, SIZE)

    photo = (np.random.RandomState(0).rand(50, 70, 3) * 255).astype(np.uint8)   # not the model's size
    res = model.predict(photo)
    out = res.outputs[model.primary_output]
    scale = task.spec.output.scale
    assert out.shape[:2] == (50 * scale, 70 * scale)
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    assert res.image().size == (70 * scale, 50 * scale)


def test_colorize_soft_encoding_spreads_over_the_nearest_bins_and_grey_is_a_bin():
    """Zhang et al.'s soft encoding: the first index is the nearest bin centre, the weights are a
    distribution that decreases with distance, and a* = b* = 0 (grey) is itself a bin."""
    import torch
    from edgephoto.metrics import AB_NORM
    from edgephoto.tasks.colorize import bin_centres
    task = get_task("colorize")
    centres = bin_centres()
    assert len(centres) == 262 and (centres.abs().sum(1) == 0).any()
    ab = (torch.rand(2, 2, 8, 8) - 0.5) * 0.8
    near, w = task.soft_bins(ab, centres)
    brute = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), centres).argmin(1).reshape(2, 8, 8)
    assert near.shape == w.shape == (2, 8, 8, 5)
    assert torch.equal(near[..., 0], brute)
    assert torch.allclose(w.sum(-1), torch.ones(2, 8, 8)) and (w[..., :-1] >= w[..., 1:] - 1e-6).all()
    grey = task.soft_bins(torch.zeros(1, 2, 1, 1), centres)[0][0, 0, 0, 0]
    assert centres[grey].abs().max() * AB_NORM < 1e-3


def test_colorize_bins_loss_prefers_the_true_colour():
    import torch
    from edgephoto.models import create_model
    from edgephoto.tasks.colorize import bin_centres
    task = get_task("colorize")
    torch.manual_seed(0)
    model = create_model("colornet_s_bins")
    target = torch.zeros(1, 2, 32, 32)
    target[:, 0] = 0.4                                   # a* = 51: red
    _, hue, z = model(torch.zeros(1, 1, 32, 32))
    near, _ = task.soft_bins(target[:, :, :16, :16], bin_centres())
    right = torch.zeros_like(z).scatter_(1, near[..., 0][:, None], 20.0)
    wrong = torch.zeros_like(z).scatter_(1, torch.zeros_like(near[..., 0])[:, None], 20.0)
    assert task.loss([None, hue, right], target) < task.loss([None, hue, wrong], target)
