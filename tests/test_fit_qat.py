"""QAT (fake quantization in the forward pass, a plain checkpoint out) and `compress --fit` (candidates
measured and estimated for a target, the pick shipped, the frontier written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgephoto.compress.qat import add_fake_quant, fake_quant_layers, remove_fake_quant

ROOT = Path(__file__).resolve().parents[1]


def _run(args, cwd, timeout=900):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-m", "edgephoto", *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, cwd=cwd, env=env)
    return r


def test_fake_quant_simulates_int8_and_leaves_the_state_dict_alone():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.ConvTranspose2d(8, 4, 2, stride=2), torch.nn.Flatten(), torch.nn.Linear(4 * 16 * 16, 2))
    x = torch.rand(2, 3, 8, 8)
    keys = list(net.state_dict())
    ref = net(x)
    assert add_fake_quant(net) == 3 and len(fake_quant_layers(net)) == 3
    assert list(net.state_dict()) == keys            # a QAT checkpoint loads into the plain architecture
    q = net(x)
    assert not torch.equal(q, ref)                   # rounding happens
    assert (q - ref).abs().max() < 0.05 * ref.abs().max() + 1e-3
    q.sum().backward()                               # straight-through gradients reach the weights
    assert net[0].weight.grad is not None and net[0].weight.grad.abs().sum() > 0
    remove_fake_quant(net)
    assert torch.equal(net(x), ref) and not fake_quant_layers(net)


@pytest.fixture(scope="module")
def trained(tiny_matte_data, tmp_path_factory):
    runs = tmp_path_factory.mktemp("fitruns")
    r = _run(["train", "--task", "matte", "--role", "student", "--profile", "smoke", "--data", tiny_matte_data,
              "--runs", runs, "--steps", "2", "--threads", "1"], runs)
    assert r.returncode == 0, r.stderr[-2000:]
    return runs


def test_qat_fine_tunes_into_a_plain_checkpoint_of_the_same_architecture(trained, tiny_matte_data):
    from edgephoto.train.checkpoint import read_checkpoint
    r = _run(["compress", "--task", "matte", "--qat", "--from", "student", "--steps", "2", "--profile", "smoke",
              "--data", tiny_matte_data, "--runs", trained, "--threads", "1"], trained)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "quantization-aware" in r.stderr
    src, qat = (read_checkpoint(trained / "matte" / v / "ckpt.pt") for v in ("student", "student-qat"))
    assert qat["arch"] == src["arch"] and set(qat["model"]) == set(src["model"])
    assert any(not torch.equal(qat["model"][k], src["model"][k]) for k in src["model"])   # it trained
    bad = _run(["compress", "--task", "matte", "--qat", "--from", "nope", "--data", tiny_matte_data,
                "--runs", trained], trained)
    assert bad.returncode == 2 and "no checkpoint to fine-tune" in bad.stderr and "Traceback" not in bad.stderr


def test_fit_measures_every_candidate_and_ships_the_best_that_fits(trained, tiny_matte_data, tmp_path):
    dist, reports = tmp_path / "dist", tmp_path / "reports"
    r = _run(["compress", "--task", "matte", "--fit", "--target", "rpi4", "--sizes", "32,48", "--limit", "3", "--networks", "student",
              "--data", tiny_matte_data, "--runs", trained, "--dist", dist, "--reports", reports], tmp_path, timeout=1500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rep = json.loads((reports / "fit" / "matte-rpi4.json").read_text())
    cands = rep["candidates"]
    # every network x size x {fp32, int8, int8 with a float32 fallback}
    assert {(c["size"], c["key"], c["fallback"] > 0) for c in cands if c["network"] == "student"} == \
        {(s, k, fb) for s in (32, 48) for k, fb in (("onnx_fp32", False), ("onnx_int8", False), ("onnx_int8", True))}
    ok = [c for c in cands if c["status"] == "ok"]
    assert ok and all(c["estimate"]["kind"] == "estimate" and c["estimate"]["high_s"] > c["estimate"]["median_s"]
                      and "mae" in c["quality"] and c["size_mb"] > 0 for c in ok)
    assert any(c["frontier"] for c in ok)
    pick = next(c for c in cands if c["label"] == rep["pick"])
    assert pick["fits"] and min(c["quality"]["mae"] for c in ok if c["fits"]) == pick["quality"]["mae"]
    shipped = Path(rep["shipped_dir"])
    man = json.loads((shipped / "manifest.json").read_text())
    assert shipped.parent.name == "fit-rpi4" and man["fit"]["target"] == "rpi4" and "fit rpi4" in man["fit"]["why"]
    assert (reports / "fit" / "matte-rpi4.md").read_text().count("|") > 20
    assert (reports / "fit" / "matte-rpi4.png").stat().st_size > 10_000
    assert "pick:" in r.stderr or "pick:" in r.stdout
    # a target nothing can meet: one line, the frontier still written
    strict = tmp_path / "strict.toml"
    strict.write_text("[defaults]\nlatency_s = 1e-6\n[targets.default]\n[targets.rpi4]\n")
    r2 = _run(["compress", "--task", "matte", "--fit", "--target", "rpi4", "--sizes", "32", "--limit", "2", "--networks", "student",
               "--budgets", strict, "--data", tiny_matte_data, "--runs", trained, "--dist", dist,
               "--reports", tmp_path / "r2"], tmp_path, timeout=1500)
    assert r2.returncode == 2 and "no candidate meets rpi4's budgets" in r2.stderr and "Traceback" not in r2.stderr
    assert (tmp_path / "r2" / "fit" / "matte-rpi4.json").is_file()
