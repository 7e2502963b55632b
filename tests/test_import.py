"""Imported models: `edgephoto import` on a tiny ONNX built here, the runtime's input.scale "max" and
output.index, one-line refusals, peer and classical bench rows, and distillation from an imported
teacher. Fixtures only: nothing from sources/, no network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from runtime_fixtures import REPO, make_data, make_image_onnx_dir, make_onnx_dir

MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]       # deliberately not the task's
SIZE = 32


def tiny_two_output_onnx(path: Path) -> Path:
    """A 2-layer conv net at 1x3x32x32 with two sigmoid outputs (different heads)."""
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 4, 3, padding=1)
            self.a = nn.Conv2d(4, 1, 3, padding=1)
            self.b = nn.Conv2d(4, 1, 3, padding=1)

        def forward(self, x):
            h = torch.relu(self.c1(x))
            return torch.sigmoid(self.a(h)), torch.sigmoid(2.0 * self.b(h))

    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(Net().eval(), (torch.randn(1, 3, SIZE, SIZE),), str(path), input_names=["img"],
                      output_names=["first", "second"], opset_version=17, dynamo=False)
    return path


def hand_reference(onnx_file: Path, rgb: np.ndarray, index: int) -> np.ndarray:
    """What the spec says, written out: bilinear resize to 32x32, x / max(x), mean/std, NCHW,
    output ``index``, bilinear back to the photo's size, clipped to [0, 1]."""
    import onnxruntime as ort
    sess = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    a = np.asarray(Image.fromarray(rgb).resize((SIZE, SIZE), Image.BILINEAR), np.float64)
    x = (a / a.max() - np.array(MEAN)) / np.array(STD)
    y = sess.run(None, {"img": x.transpose(2, 0, 1)[None].astype(np.float32)})[index][0, 0]
    h, w = rgb.shape[:2]
    up = np.asarray(Image.fromarray(y.astype(np.float32), mode="F").resize((w, h), Image.BILINEAR))
    return np.clip(up, 0.0, 1.0)


def low_key_photo(h=40, w=50, seed=3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(10, 180, (h, w, 3)).astype(np.uint8)       # max < 255: /max differs from /255
    a[10:30, 15:35] = [170, 60, 30]
    return a


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    t = tmp_path_factory.mktemp("import")
    tiny_two_output_onnx(t / "peer.onnx")
    make_data(t / "data" / "matte", n_test=3)
    return t


def _import(work: Path, dist: Path, **kw):
    from edgephoto.export.importer import import_model
    overrides = {"scale": "max", "output_index": 1, "mean": MEAN, "std": STD, "resample": "bilinear",
                 "licence": "MIT", "package": "test-fixture", "version": "0"}
    overrides.update(kw.pop("overrides", {}))
    return import_model(work / "peer.onnx", "matte", kw.pop("name", "peer"), dist, work / "data",
                        overrides=overrides, parity_images=2, progress=lambda s: None, **kw)


@pytest.fixture(scope="module")
def imported(work):
    return _import(work, work / "dist")


def test_import_writes_a_manifest_like_ours(imported, work):
    d = imported.dir
    assert d == work / "dist" / "matte" / "peer" / "onnx_fp32"
    assert sorted(p.name for p in d.iterdir()) == ["manifest.json", "model.onnx"]
    m = json.loads((d / "manifest.json").read_text())
    assert (m["task"], m["variant"], m["arch"], m["format"], m["precision"], m["engine"]) == \
        ("matte", "peer", "imported", "onnx", "fp32", "onnxruntime")
    assert m["role"] == "peer" and m["shipped"] is False and m["file"] == "model.onnx"
    assert m["input"]["scale"] == "max" and m["input"]["size"] == [SIZE, SIZE] and m["input"]["layout"] == "NCHW"
    assert m["input"]["mean"] == MEAN and m["input"]["std"] == STD and m["inference"] == \
        {"mode": "resize", "resample": "bilinear"}
    assert m["output"]["kind"] == "alpha" and m["output"]["index"] == 1 and m["output"]["name"] == "second"
    assert m["params"] == 3 * 4 * 9 + 4 + 2 * (4 * 9 + 1) and m["macs"] > 0
    assert m["parity"]["max_abs"] <= 1e-3 and m["parity"]["images"] == 3    # 2 + a darkened copy
    assert m["source"]["licence"] == "MIT" and m["source"]["sha256"] == m["sha256"]
    assert not [p for p in d.parent.iterdir() if p.name.startswith(".tmp")]


def test_runtime_output_equals_hand_written_reference(imported, work):
    from edgephoto import runtime
    model = runtime.load(imported.dir, threads=1)
    rgb = low_key_photo()
    got = model.predict(rgb, composite=False).mask
    want = hand_reference(work / "peer.onnx", rgb, index=1)
    assert got.shape == rgb.shape[:2]
    assert np.abs(got - want).max() < 1e-5
    # both contract fields matter: the other output, or /255, would give something else
    assert np.abs(hand_reference(work / "peer.onnx", rgb, index=0) - want).max() > 1e-2
    from dataclasses import replace
    from edgephoto.runtime.model import normalize
    i255 = replace(model.spec.input, scale="255")
    assert np.abs(normalize(rgb, i255) - normalize(rgb, model.spec.input)).max() > 0.1


def test_known_model_needs_no_flags_and_a_wrong_spec_is_refused(work, tmp_path, monkeypatch):
    """The known-model table supplies task, name and spec (matched by sha256); its reference is
    independent of the spec, so overriding the spec wrongly (/255 instead of /max) fails parity."""
    from edgephoto.errors import UserError
    from edgephoto.export import importer
    from edgephoto.runtime.manifest import sha256_of
    known = importer.KnownModel(
        name="tiny", task="matte", fetch_source="tiny", path="models/tiny/peer.onnx",
        sha256=sha256_of(work / "peer.onnx"),
        spec={"scale": "max", "output_index": 1, "mean": MEAN, "std": STD, "resample": "bilinear"},
        reference="hand-written (test)", make_reference=lambda f: (lambda rgb: hand_reference(f, rgb, 1)))
    monkeypatch.setattr(importer, "KNOWN_MODELS", (known,))
    res = importer.import_model(work / "peer.onnx", dist=tmp_path / "dist", data=work / "data",
                                parity_images=1, progress=lambda s: None)
    assert res.dir == tmp_path / "dist" / "matte" / "tiny" / "onnx_fp32"
    assert res.manifest["parity"]["reference"] == "hand-written (test)"
    assert res.manifest["parity"]["max_abs"] < 1e-5 and res.manifest["source"]["known_model"] == "tiny"
    with pytest.raises(UserError, match="parity check failed.*nothing written"):
        importer.import_model(work / "peer.onnx", dist=tmp_path / "dist2", data=work / "data",
                              overrides={"scale": "255"}, parity_images=1, progress=lambda s: None)
    assert not (tmp_path / "dist2").exists()
    # make import-peers: every known model found in the cache; a missing one is one line
    (tmp_path / "sources" / "models" / "tiny").mkdir(parents=True)
    done, skipped, failed = importer.import_known(tmp_path / "sources", tmp_path / "dist3", None, 1,
                                                  progress=lambda s: None)
    assert (done, failed) == ([], []) and len(skipped) == 1 and "skipped tiny" in skipped[0]


def test_runtime_input_scale_and_output_index_checks():
    from edgephoto.runtime.manifest import ManifestError
    from edgephoto.runtime.model import normalize
    from edgephoto.runtime.spec import InputSpec, check_manifest
    from edgephoto.tasks import get_task
    rgb = np.array([[[10, 20, 200], [0, 100, 50]]], np.uint8)
    inp = InputSpec(range=(0.0, 1.0), mean=tuple(MEAN), std=tuple(STD), scale="max")
    want = (rgb / 200.0 - np.array(MEAN)) / np.array(STD)
    assert np.abs(normalize(rgb, inp) - want).max() < 1e-5
    assert np.abs(normalize(np.zeros((2, 2, 3), np.uint8), inp) - (0 - np.array(MEAN)) / np.array(STD)).max() < 1e-6
    good = {"task": "matte", "format": "onnx", "precision": "fp32", "file": "m.onnx",
            **get_task("matte").spec.to_manifest()}
    for block, field, value in (("input", "scale", "65535"), ("output", "index", -1)):
        bad = json.loads(json.dumps(good))
        bad[block][field] = value
        with pytest.raises(ManifestError, match=f"{block}.{field}"):
            check_manifest(bad)


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_web_normalize_scale_max_matches_python(tmp_path):
    from edgephoto.runtime.model import normalize
    from edgephoto.runtime.spec import InputSpec
    rgb = low_key_photo(4, 5)
    m = {"input": {"range": [0, 1], "mean": MEAN, "std": STD, "scale": "max"}}
    inp = InputSpec(range=(0.0, 1.0), mean=tuple(MEAN), std=tuple(STD), scale="max")
    script = tmp_path / "n.mjs"
    script.write_text(
        f'import {{ normalize }} from "{(REPO / "web" / "edgephoto.js").as_uri()}";\n'
        f"const rgb = Uint8Array.from({json.dumps(rgb.ravel().tolist())});\n"
        f"console.log(JSON.stringify(Array.from(normalize(rgb, {rgb.shape[0] * rgb.shape[1]}, {json.dumps(m)}))));\n")
    r = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    js = np.array(json.loads(r.stdout), np.float32)
    assert np.array_equal(js, normalize(rgb, inp).ravel())      # bit for bit


@pytest.mark.parametrize("argv,needle", [
    (["import", "/no/such/model.onnx", "--task", "matte", "--name", "x"], "file not found: /no/such/model.onnx"),
    (["import", "{onnx}", "--task", "sr", "--name", "x"], "unknown task 'sr' (known: colorize, deblur, generate, matte, retouch, upscale)"),
    (["import", "{junk}", "--task", "matte", "--name", "x"], "is not an ONNX model"),
    (["import", "{onnx}", "--task", "matte", "--name", "x", "--output-index", "2"], "output index 2 is out of range"),
    (["import", "{onnx}", "--task", "matte", "--name", "x", "--size", "64"], "does not match the model's input"),
    (["import", "{onnx}", "--task", "matte"], "--name is required"),
])
def test_bad_input_is_one_line(work, tmp_path, capsys, argv, needle):
    from edgephoto.cli import main
    (tmp_path / "junk.onnx").write_bytes(b"this is not a protobuf \x00\x01\x02")
    argv = [a.format(onnx=work / "peer.onnx", junk=tmp_path / "junk.onnx") for a in argv]
    rc = main(argv + ["--dist", str(tmp_path / "dist")])
    err = capsys.readouterr().err
    assert rc == 2 and needle in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "dist").exists()


def test_spec_file_and_fetch_index_provenance(work, tmp_path):
    """A fetch cache's index.json supplies package/version/licence; --spec supplies the spec."""
    from edgephoto.export.importer import import_model
    from edgephoto.runtime.manifest import sha256_of
    cache = tmp_path / "sources"
    f = cache / "models" / "peer" / "peer.onnx"
    f.parent.mkdir(parents=True)
    shutil.copy(work / "peer.onnx", f)
    (cache / "index.json").write_text(json.dumps({"version": 1, "sources": {}, "files": [
        {"source": "peer", "package": "peer-pkg", "version": "1.2.3", "licence": "Apache-2.0",
         "sha256": sha256_of(f), "bytes": f.stat().st_size, "kind": "model", "path": "models/peer/peer.onnx"}]}))
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"scale": "max", "output-index": 1, "mean": MEAN, "std": STD,
                                "resample": "bilinear", "role": "teacher"}))
    res = import_model(f, "matte", "peer2", tmp_path / "dist", work / "data", spec_file=spec,
                       parity_images=1, progress=lambda s: None)
    src = res.manifest["source"]
    assert (src["package"], src["version"], src["licence"], src["fetch_source"]) == \
        ("peer-pkg", "1.2.3", "Apache-2.0", "peer")
    assert res.manifest["role"] == "teacher" and res.manifest["output"]["index"] == 1


def test_bench_shows_ours_peer_and_classical_rows(imported, work, tmp_path):
    from edgephoto.data.synthetic_retouch import generate
    dist = tmp_path / "dist"
    shutil.copytree(imported.dir.parents[2], dist)                 # dist/matte/peer/onnx_fp32
    make_onnx_dir(dist, variant="student", size=SIZE, shipped=True)
    make_image_onnx_dir(dist, size=SIZE, overlap=8, shipped=True)
    data = tmp_path / "data"
    shutil.copytree(work / "data" / "matte", data / "matte")
    generate(data / "retouch", seed=0, sizes={"test": 2})
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "edgephoto", "bench", "--dist", dist, "--data", data,
                        "--budgets", REPO / "budgets.toml", "--out", tmp_path / "reports", "--quick",
                        "--runs", "1", "--threads", "1"], capture_output=True, text=True, timeout=600,
                       cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads((tmp_path / "reports" / "bench.json").read_text())
    rows = {(x["task"], x["variant"]): x for x in rep["rows"]}
    assert {k: v["role"] for k, v in rows.items()} == {
        ("matte", "student"): "ours", ("matte", "peer"): "peer", ("retouch", "student"): "ours",
        ("retouch", "auto-adjust"): "classical"}
    peer = rows[("matte", "peer")]
    assert peer["status"] == "ok" and peer["shipped"] is False and peer["quality"]["images"] == 3
    assert peer["latency"]["threads_1"]["median_s"] > 0 and peer["verdict"]
    cl = rows[("retouch", "auto-adjust")]
    assert cl["status"] == "classical" and cl["size_mb"] == 0 and cl["verdict"] == {}
    assert cl["latency"]["threads_1"]["median_s"] > 0 and cl["quality"]["images"] == 2
    assert {"l1", "psnr"} <= set(cl["quality"])
    assert rep["passed"] is True
    md = (tmp_path / "reports" / "bench.md").read_text()
    assert "| matte | peer | onnx_fp32 | ok | peer |" in md
    assert "| retouch | auto-adjust | classical | classical | classical | - |" in md
    assert "| matte | student * | onnx_fp32 | ok | ours |" in md
    assert "Classical:" in md and "Role:" in md


def test_raw_from_exported_inverts_the_export_heads():
    import torch
    from edgephoto.tasks import get_task
    p = torch.linspace(1e-4, 1 - 1e-4, 101).view(1, 1, 1, 101)
    z = get_task("matte").raw_from_exported(p)[0]
    assert torch.allclose(torch.sigmoid(z / 1.0), p, atol=1e-6)
    assert torch.isfinite(get_task("matte").raw_from_exported(torch.tensor([0.0, 1.0]))[0]).all()
    for name in ("retouch", "upscale", "deblur"):    # image heads: y * std + mean, clamped to [0, 1]
        inp = get_task(name).spec.input
        mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (inp.mean, inp.std))
        y = torch.linspace(-0.99, 0.99, 21).view(1, 1, 1, 21).repeat(1, 3, 1, 1)
        head = torch.clamp(y * std + mean, 0.0, 1.0)
        assert torch.allclose(get_task(name).raw_from_exported(head)[0], y, atol=1e-6)


def test_imported_teacher_gives_logits_of_the_runtime_mask(imported, work):
    import torch
    from edgephoto import runtime
    from edgephoto.compress.imported_teacher import ImportedTeacher
    from dataclasses import replace
    from edgephoto.data.torch_datasets import to_input_tensor
    from edgephoto.tasks import get_task
    task = get_task("matte")
    rgbs = [low_key_photo(48, 48, seed=s) for s in (1, 2)]
    x = torch.stack([to_input_tensor(a, task.spec.input) for a in rgbs])
    teacher = ImportedTeacher(imported.dir, task, threads=1)
    assert np.array_equal(teacher.to_uint8(x), np.stack(rgbs))        # the batch maps back exactly
    ctx = {"grid": 16, "position": True}                               # a task input with global context
    x8 = torch.stack([to_input_tensor(a, replace(task.spec.input, context=ctx)) for a in rgbs])
    assert x8.shape[1] == 8 and np.array_equal(teacher.to_uint8(x8), np.stack(rgbs))
    with torch.no_grad():
        z = teacher(x)[0]
    assert z.shape == (2, 1, 48, 48)
    model = runtime.load(imported.dir, threads=1)
    for i, a in enumerate(rgbs):
        p = np.clip(model.predict(a, composite=False).mask, 1e-4, 1 - 1e-4)
        assert np.abs(torch.sigmoid(z[i, 0]).numpy() - p).max() < 1e-5


def test_two_step_distillation_from_an_imported_teacher(imported, tiny_matte_data, tmp_path):
    from edgephoto.train.checkpoint import read_checkpoint
    from edgephoto.train.trainer import TrainConfig, train
    out = tmp_path / "student-kd"
    res = train(TrainConfig(task="matte", arch="u2net_tiny", data=str(tiny_matte_data), out=str(out),
                            steps=2, batch=2, size=64, ckpt_every=100, eval_limit=2, threads=1,
                            teacher=str(imported.dir), temperature=2.0))
    assert res["step"] == 2 and read_checkpoint(out / "ckpt.pt")["step"] == 2
    log = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in log if "loss" in r)


def test_compress_refuses_a_folder_without_manifest(tmp_path, tiny_matte_data, capsys):
    from edgephoto.cli import main
    (tmp_path / "empty").mkdir()
    rc = main(["compress", "--task", "matte", "--data", str(tiny_matte_data), "--runs", str(tmp_path / "runs"),
               "--teacher", str(tmp_path / "empty"), "--temperatures", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and "without a manifest.json" in err and "Traceback" not in err


def test_imports_never_take_over_or_ship_as_our_variants(imported, work, tmp_path):
    from edgephoto.errors import UserError
    from edgephoto.export.command import mark_shipped
    dist = tmp_path / "dist"
    make_onnx_dir(dist, variant="student", size=SIZE, shipped=False)
    with pytest.raises(UserError, match="holds models exported from our own checkpoints"):
        _import(work, dist, name="student")
    shutil.copytree(imported.dir.parent, dist / "matte" / "peer")
    before = (dist / "matte" / "peer" / "onnx_fp32" / "manifest.json").read_text()
    assert mark_shipped(dist / "matte", "peer") == []               # a peer is never marked shipped
    assert (dist / "matte" / "peer" / "onnx_fp32" / "manifest.json").read_text() == before
