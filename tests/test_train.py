"""Training: loss goes down, checkpoints resume, distillation runs, DDP replicas stay in sync."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgephoto.tasks import get_task
from edgephoto.train.checkpoint import load_model, read_checkpoint
from edgephoto.train.trainer import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


def _cfg(data, out, **kw):
    base = dict(task="matte", arch="u2net_tiny", data=str(data), out=str(out), steps=6, batch=2,
                lr=2e-3, size=64, ckpt_every=3, eval_limit=4, threads=1)
    base.update(kw)
    return TrainConfig(**base)


def test_train_checkpoint_and_resume(tiny_matte_data, tmp_path):
    out = tmp_path / "student"
    train(_cfg(tiny_matte_data, out, steps=3))
    state = read_checkpoint(out / "ckpt.pt")
    assert state["step"] == 3 and "optimizer" in state and state["input_size"] == 64
    train(_cfg(tiny_matte_data, out, steps=6))  # resumes at 3, not from scratch
    assert read_checkpoint(out / "ckpt.pt")["step"] == 6
    log = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in log if "loss" in r]
    assert steps == sorted(steps) and steps[-1] == 6
    model, _ = load_model(out / "ckpt.pt")
    assert not model.training


def test_loss_decreases_on_fixed_batch():
    torch.manual_seed(0)
    from edgephoto.models import create_model
    task = get_task("matte")
    model = create_model("u2net_tiny")
    x = torch.rand(2, 3, 64, 64)
    y = torch.zeros(2, 1, 64, 64)
    y[:, :, 16:48, 20:44] = 1.0  # a square object
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(25):
        loss = task.loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.7 * first


def test_distillation_temperature_changes_the_loss():
    task = get_task("matte")
    torch.manual_seed(0)
    s = [torch.randn(1, 1, 8, 8) for _ in range(7)]
    t = [torch.randn(1, 1, 8, 8) for _ in range(7)]
    y = torch.zeros(1, 1, 8, 8)
    l2 = task.distill_loss(s, t, y, temperature=2, alpha=0.0)
    l7 = task.distill_loss(s, t, y, temperature=7, alpha=0.0)
    assert l2.item() != pytest.approx(l7.item())
    # the soft loss is minimal when the student copies the teacher
    same = task.distill_loss(t, t, y, temperature=2, alpha=0.0)
    assert same.item() < l2.item()
    hinted = task.distill_loss(s, t, y, temperature=2, alpha=0.0, hint_weight=1.0)
    assert hinted.item() > l2.item()


def test_distill_run(tiny_matte_data, tmp_path):
    teacher = tmp_path / "teacher"
    train(_cfg(tiny_matte_data, teacher, arch="u2netp_slim", steps=2))
    out = tmp_path / "kd"
    res = train(_cfg(tiny_matte_data, out, steps=2, teacher=str(teacher / "ckpt.pt"), temperature=7))
    assert read_checkpoint(out / "ckpt.pt")["config"]["temperature"] == 7
    assert 0.0 <= res["val"]["mae"] <= 1.0


def test_ddp_two_processes_stay_in_sync(tiny_matte_data, tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "edgephoto", "train", "--task", "matte", "--role", "student", "--profile", "smoke", "--data",
           str(tiny_matte_data), "--out", str(out), "--steps", "3", "--threads", "1", "--sync-check"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    digests = [json.loads((out / f"sync_rank{i}.json").read_text()) for i in range(2)]
    assert digests[0]["step"] == digests[1]["step"] == 3
    assert digests[0]["digest"] == pytest.approx(digests[1]["digest"], rel=1e-9, abs=1e-12)
    assert "2 process(es)" in r.stderr


def test_same_command_same_weights_and_resume_continues_exactly(tiny_matte_data, tmp_path, monkeypatch):
    """Seeds, data order and augmentation depend only on (seed, epoch, index): a run gives the same
    weights twice, and a run interrupted after its step-3 checkpoint and resumed ends with exactly
    the weights of one that never stopped."""
    a = tmp_path / "a"
    res_a = train(_cfg(tiny_matte_data, a, steps=6))
    res_a2 = train(_cfg(tiny_matte_data, tmp_path / "a2", steps=6))
    assert res_a["val"]["mae"] == pytest.approx(res_a2["val"]["mae"], abs=1e-6)

    task = get_task("matte")
    real_loss, calls = type(task).loss, {"n": 0}

    def failing_loss(self, raw, y):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt   # the user presses Ctrl-C during step 5
        return real_loss(self, raw, y)

    b = tmp_path / "b"
    monkeypatch.setattr(type(task), "loss", failing_loss)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tiny_matte_data, b, steps=6))
    assert read_checkpoint(b / "ckpt.pt")["step"] == 3
    monkeypatch.setattr(type(task), "loss", real_loss)
    res_b = train(_cfg(tiny_matte_data, b, steps=6))
    wa, wb = read_checkpoint(a / "ckpt.pt")["model"], read_checkpoint(b / "ckpt.pt")["model"]
    assert set(wa) == set(wb)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    assert res_b["val"]["mae"] == pytest.approx(res_a["val"]["mae"], abs=1e-6)


def test_load_matching_takes_the_shared_tensors_and_names_the_new_head():
    """``train --init-partial``: a regression colorizer's trained encoder starts the bins-head model."""
    import torch

    from edgephoto.models import create_model
    from edgephoto.train.trainer import load_matching
    torch.manual_seed(0)
    src, dst = create_model("colornet_s"), create_model("colornet_s_bins")
    taken, fresh = load_matching(dst, src.state_dict())
    assert taken > 10 and fresh == ["bin_logits.bias", "bin_logits.weight", "decode.centres"]
    assert torch.equal(dst.encoder[0][0].weight, src.encoder[0][0].weight)
