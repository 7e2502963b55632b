"""Auto retouching through the whole pipeline: data, GAN teacher, distillation, export, runtime."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgephoto.cli import main
from edgephoto.tasks import get_task
from edgephoto.train.checkpoint import read_checkpoint
from edgephoto.train.trainer import TrainConfig, phase_at, train


def _cfg(data, out, **kw):
    base = dict(task="retouch", arch="retouchnet_tiny", data=str(data), out=str(out), steps=4, batch=2,
                lr=1e-3, size=32, ckpt_every=2, eval_limit=2, threads=1)
    base.update(kw)
    return TrainConfig(**base)


def test_builtin_pairs_are_deterministic_degradations(tiny_retouch_data):
    from edgephoto.data.synthetic_retouch import make_pair
    a1, t1 = make_pair(0, "test", 3)
    a2, t2 = make_pair(0, "test", 3)
    assert np.array_equal(a1, a2) and np.array_equal(t1, t2)
    assert a1.shape == t1.shape == (256, 256, 3) and not np.array_equal(a1, t1)
    pairs = get_task("retouch").eval_pairs(tiny_retouch_data, "test")
    assert len(pairs) == 4 and all(i.stem == t.stem for i, t in pairs)
    base = get_task("retouch").baseline_metrics(tiny_retouch_data, "test")
    assert 10 < base["psnr"] < 40 and base["l1"] > 0.01   # the input really is degraded


def test_held_out_photos_never_reach_training():
    from edgephoto.data.synthetic_retouch import _photos_for
    train_ids = {id(p) for p in _photos_for("train")}
    assert train_ids and not train_ids & {id(p) for p in _photos_for("test")}


def test_distillation_loss_and_temperature():
    task = get_task("retouch")
    torch.manual_seed(0)
    y = torch.rand(2, 3, 16, 16) * 2 - 1
    s = y + 0.2 * torch.randn_like(y)
    assert float(task.distill_loss(y, y, y, temperature=2.0)) < 1e-6
    l2, l7 = (float(task.distill_loss(s, y, y, temperature=t, alpha=0.0)) for t in (2.0, 7.0))
    assert l2 > 0 and l7 > 0 and abs(l2 - l7) > 1e-4


def test_phase_schedule():
    phases = [("global", 0.3), ("local", 0.2), ("joint", 0.5)]
    assert [phase_at(s, 10, phases) for s in range(10)] == ["global"] * 3 + ["local"] * 2 + ["joint"] * 5


def test_gan_teacher_trains_in_phases_and_resumes(tiny_retouch_data, tmp_path):
    out = tmp_path / "teacher"
    phases = [["global", 0.3], ["local", 0.2], ["joint", 0.5]]
    kw = dict(arch=get_task("retouch").teacher_arch, recipe="pix2pix", phases=phases)
    train(_cfg(tiny_retouch_data, out, steps=2, **kw))
    state = read_checkpoint(out / "ckpt.pt")
    assert state["step"] == 2 and set(state["discriminator"]) == {"arch", "model", "optimizer"}
    res = train(_cfg(tiny_retouch_data, out, steps=5, **kw))   # resumes with its discriminator
    assert read_checkpoint(out / "ckpt.pt")["step"] == 5
    assert {"l1", "psnr", "ssim", "ciede2000"} <= set(res["val"])
    log = (out / "metrics.jsonl").read_text()
    assert '"d_loss"' in log and '"g_fm"' in log


def test_gan_on_a_task_without_one_is_a_clear_error(tiny_matte_data, tmp_path):
    from edgephoto.errors import UserError
    with pytest.raises(UserError, match="no adversarial"):
        train(TrainConfig(task="matte", arch="u2netp_slim", data=str(tiny_matte_data), out=str(tmp_path / "x"),
                          steps=1, batch=2, size=32, recipe="pix2pix"))


@pytest.fixture(scope="module")
def exported_retouch(tiny_retouch_data, tmp_path_factory):
    t = tmp_path_factory.mktemp("retouch_pipeline")
    runs, dist = t / "runs", t / "dist"
    common = ["--task", "retouch", "--data", str(tiny_retouch_data), "--runs", str(runs), "--profile", "smoke",
              "--threads", "1"]
    assert main(["train", *common, "--role", "teacher,student"]) == 0
    assert main(["compress", *common, "--temperatures", "2"]) == 0
    rc = main(["export", "--task", "retouch", "--runs", str(runs), "--dist", str(dist), "--data",
               str(tiny_retouch_data), "--size", "64", "--parity-images", "2",
               "--formats", "onnx_fp32", "onnx_int8", "tflite_int8"])
    assert rc == 0
    return runs, dist


def test_pipeline_selects_exports_and_runs_tiled(exported_retouch, tiny_retouch_data, tmp_path):
    import json

    from edgephoto import runtime
    runs, dist = exported_retouch
    sel = json.loads((runs / "retouch" / "selection.json").read_text())
    shipped = sel["shipped"]
    d = dist / "retouch" / shipped / "tflite_int8"
    m = json.loads((d / "manifest.json").read_text())
    # the shipped student has no spatial kernel at full resolution: tiles without overlap
    assert m["output"]["kind"] == "image" and m["inference"] == {"mode": "tile", "resample": "bilinear",
                                                                 "tile": [64, 64], "overlap": [0, 0]}
    assert m["input"]["context"] == {"grid": 16, "position": True}
    assert m["input"]["size"] == [64, 64] and m["shipped"] is True
    assert {"l1", "psnr", "ssim", "ciede2000"} <= set(m["metrics"]) and "quality_drop" in m["parity"]
    assert (dist / "retouch" / "teacher" / "onnx_int8" / "manifest.json").is_file()   # Table 3.2's PTQ row
    model = runtime.load(d, threads=1)
    photo = np.asarray(runtime.read_image(get_task("retouch").eval_pairs(tiny_retouch_data, "test")[0][0]).rgb)
    crop = np.ascontiguousarray(photo[:150, :97])   # odd size: several tiles, padded edges
    res = model.predict(crop)
    img = res.outputs["image"]
    assert img.shape == (150, 97, 3) and 0.0 <= img.min() and img.max() <= 1.0
    out = tmp_path / "r.jpg"
    res.save(out)
    from PIL import Image
    assert Image.open(out).size == (97, 150)
