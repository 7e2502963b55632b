"""TF.js layers models (Keras model.json + shards, the format of UpscalerJS's esrgan-slim): the
PyTorch rebuild equals TF.js in Node, `edgephoto import` writes an ONNX and a TF.js artifact that
both pass parity against the original, and unsupported layers are refused in one line. The model
is a tiny random Keras graph written here (same layer kinds as esrgan-slim); nothing from sources/."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from runtime_fixtures import REPO

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")


def _conv(name, inbound, filters, k, activation="linear"):
    return {"class_name": "Conv2D", "name": name, "inbound_nodes": [[[inbound, 0, 0, {}]]],
            "config": {"name": name, "filters": filters, "kernel_size": [k, k], "strides": [1, 1],
                       "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1],
                       "groups": 1, "activation": activation, "use_bias": True}}


def _merge(cls, name, inbound, **cfg):
    return {"class_name": cls, "name": name, "inbound_nodes": [[[i, 0, 0, {}] for i in inbound]],
            "config": {"name": name, **cfg}}


def write_tiny_sr_layers_model(folder: Path, extra_layer: dict | None = None, seed: int = 0) -> Path:
    """A x4 Keras graph with esrgan-slim's layer kinds: conv, relu, concat, add, nearest x4, conv.
    Pixels 0..255 in and out (the last conv adds 128 so the output sits mid-range)."""
    rng = np.random.default_rng(seed)
    layers = [
        {"class_name": "InputLayer", "name": "LR", "inbound_nodes": [],
         "config": {"name": "LR", "batch_input_shape": [None, None, None, 3], "dtype": "float32"}},
        _conv("F0", "LR", 8, 3),
        _conv("F1", "F0", 4, 3),
        {"class_name": "Activation", "name": "F1_relu", "inbound_nodes": [[["F1", 0, 0, {}]]],
         "config": {"name": "F1_relu", "activation": "relu"}},
        _merge("Concatenate", "cat", ["F0", "F1_relu"], axis=3),
        _conv("LFF", "cat", 8, 1),
        _merge("Add", "res", ["LFF", "F0"]),
        _conv("UP", "res", 6, 5, activation="relu"),
        _merge("UpSampling2D", "ups", ["UP"], size=[4, 4], interpolation="nearest",
               data_format="channels_last"),
        _conv("SR", "ups", 3, 3),
    ]
    if extra_layer is not None:
        layers.insert(2, extra_layer)
    shapes = {"F0": (3, 3, 3, 8), "F1": (3, 3, 8, 4), "LFF": (1, 1, 12, 8), "UP": (5, 5, 8, 6), "SR": (3, 3, 6, 3)}
    weights, blobs = [], []
    for name, shape in shapes.items():
        fan_in = shape[0] * shape[1] * shape[2]
        k = (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
        b = np.full(shape[3], 128.0 if name == "SR" else 0.0, np.float32) + \
            rng.standard_normal(shape[3]).astype(np.float32)
        for suffix, arr in (("kernel", k), ("bias", b)):
            weights.append({"name": f"{name}/{suffix}", "shape": list(arr.shape), "dtype": "float32"})
            blobs.append(arr.tobytes())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "group1-shard1of1.bin").write_bytes(b"".join(blobs))
    model = {"format": "layers-model", "generatedBy": "test", "convertedBy": "test",
             "modelTopology": {"keras_version": "2.10.0", "backend": "tensorflow", "model_config": {
                 "class_name": "Functional", "config": {
                     "name": "tiny", "layers": layers, "input_layers": [["LR", 0, 0]],
                     "output_layers": [["SR", 0, 0]]}}},
             "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": weights}]}
    (folder / "model.json").write_text(json.dumps(model))
    return folder / "model.json"


def test_torch_rebuild_equals_tfjs_in_node(tmp_path):
    import torch

    from edgephoto.export.importer import tfjs_runner
    from edgephoto.models.keras_layers import load_layers_model
    mj = write_tiny_sr_layers_model(tmp_path / "m")
    x = np.random.default_rng(1).uniform(0, 255, (1, 12, 16, 3)).astype(np.float32)
    want = tfjs_runner(mj)(x)[0]
    with torch.no_grad():
        got = load_layers_model(mj)(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
    assert got.shape == want.shape == (1, 48, 64, 3)
    assert np.abs(got - want).max() < 1e-3 * max(1.0, float(np.abs(want).max()))


def test_import_layers_model_gives_onnx_and_tfjs_artifacts(tmp_path):
    from edgephoto import runtime
    from edgephoto.export.importer import import_model
    mj = write_tiny_sr_layers_model(tmp_path / "m")
    spec = {"size": "32", "range": "0,255", "mean": "0,0,0", "std": "1,1,1", "output_range": "0,255"}
    res = import_model(mj, "upscale", "tiny", tmp_path / "dist", overrides=spec, parity_images=1,
                       progress=lambda s: None)
    root = tmp_path / "dist" / "upscale" / "tiny"
    assert sorted(p.name for p in root.iterdir()) == ["onnx_fp32", "tfjs_fp32"]
    assert res.manifest["parity"]["max_abs"] <= 1e-3
    js = json.loads((root / "tfjs_fp32" / "manifest.json").read_text())
    assert js["format"] == "tfjs" and js["input"]["layout"] == "NHWC" and js["parity"]["max_abs"] <= 1e-3
    assert js["inference"]["mode"] == "tile" and js["output"]["scale"] == 4
    rgb = np.random.default_rng(2).integers(0, 256, (40, 52, 3), dtype=np.uint8)
    outs = [runtime.load(root / k).predict(rgb, composite=False).outputs["image"] for k in ("onnx_fp32", "tfjs_fp32")]
    assert outs[0].shape == outs[1].shape == (160, 208, 3)
    assert np.abs(outs[0] - outs[1]).max() < 2e-3   # the two formats agree through tiles, too


def test_unsupported_layer_is_one_line(tmp_path):
    mj = write_tiny_sr_layers_model(tmp_path / "m", extra_layer={
        "class_name": "Lambda", "name": "odd", "inbound_nodes": [[["F0", 0, 0, {}]]], "config": {"name": "odd"}})
    r = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-m", "edgephoto", "import", str(mj), "--task",
                        "upscale", "--name", "x", "--dist", str(tmp_path / "dist"), "--size", "32"],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode != 0
    lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and "Lambda" in lines[0] and "not support" in lines[0], r.stderr
    assert not (tmp_path / "dist" / "upscale" / "x").exists()
