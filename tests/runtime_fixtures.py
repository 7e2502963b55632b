"""Tiny exported-model fixtures for the runtime and bench tests (no exporter needed).

``make_onnx_dir`` exports a random-init ``u2netp_slim`` (the matte task's export module) to ONNX at
a small input size and writes its manifest by hand, per ``edgephoto/runtime/manifest.py``.
``make_tflite_int8_dir`` converts a tiny Keras conv net to full-integer int8 TFLite (slower: imports
TensorFlow), to exercise the int8 (de)quantization path of the TFLite engines.
``make_image_onnx_dir`` exports :func:`retouch_net` (a tiny fully convolutional photo -> photo net)
at a fixed input size with an ``image`` output and ``tile`` inference, like the retouch task.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # tests run from a plain checkout too (no pip install -e)
    sys.path.insert(0, str(REPO))

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def write_manifest(d: Path, *, variant: str, fmt: str, precision: str, file: str, size: int,
                   layout: str, shipped: bool, engine: str, macs=None, extra=None) -> dict:
    f = d / file
    m = {"version": 1, "task": "matte", "variant": variant, "arch": "u2netp_slim",
         "format": fmt, "precision": precision, "engine": engine, "file": file,
         "sha256": _sha(f), "bytes": f.stat().st_size, "shipped": shipped,
         "input": {"name": "image", "layout": layout, "size": [size, size], "channels": "RGB",
                   "range": [0.0, 1.0], "mean": MEAN, "std": STD, "dtype": "float32"},
         "output": {"name": "mask", "kind": "alpha", "range": [0.0, 1.0], "channels": 1,
                    "meaning": "probability that the pixel belongs to the foreground object"},
         "inference": {"mode": "resize", "resample": "bilinear"},
         "params": None, "macs": macs,
         "parity": {"reference": "torch-fp32", "images": 2, "max_abs": 0.0, "mean_abs": 0.0},
         "metrics": {}, "source": {"checkpoint": "random-init (test fixture)", "edgephoto": "0.1.0"}}
    m.update(extra or {})
    (d / "manifest.json").write_text(json.dumps(m, indent=2))
    return m


def make_onnx_dir(dist: Path, variant: str = "student", size: int = 64, shipped: bool = True,
                  arch: str = "u2netp_slim", seed: int = 0) -> Path:
    import torch

    from edgephoto.models import create_model
    from edgephoto.tasks import get_task

    torch.manual_seed(seed)
    d = Path(dist) / "matte" / variant / "onnx_fp32"
    d.mkdir(parents=True, exist_ok=True)
    mod = get_task("matte").export_module(create_model(arch))
    x = torch.randn(1, 3, size, size)
    torch.onnx.export(mod, (x,), str(d / "model.onnx"), input_names=["image"], output_names=["mask"],
                      opset_version=17, dynamo=False)
    write_manifest(d, variant=variant, fmt="onnx", precision="fp32", file="model.onnx", size=size,
                   layout="NCHW", shipped=shipped, engine="onnxruntime")
    return d


def make_tflite_int8_dir(dist: Path, variant: str = "student", size: int = 32, shipped: bool = True) -> Path:
    import tensorflow as tf

    tf.random.set_seed(0)
    d = Path(dist) / "matte" / variant / "tflite_int8"
    d.mkdir(parents=True, exist_ok=True)
    inp = tf.keras.Input((size, size, 3), name="image")
    h = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    h = tf.keras.layers.MaxPool2D()(h)
    h = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(h)
    h = tf.keras.layers.UpSampling2D(interpolation="bilinear")(h)
    out = tf.keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask")(h)
    model = tf.keras.Model(inp, out)
    rng = np.random.default_rng(0)

    def rep():
        for _ in range(8):
            yield [((rng.random((1, size, size, 3)) - np.array(MEAN)) / np.array(STD)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    (d / "model.tflite").write_bytes(conv.convert())
    write_manifest(d, variant=variant, fmt="tflite", precision="int8", file="model.tflite", size=size,
                   layout="NHWC", shipped=shipped, engine="litert")
    return d


def retouch_net(seed: int = 0, mean=MEAN, std=STD, strength: float = 0.1):
    """A random-init, mostly-identity photo -> photo net (torch, NCHW, normalized input).

    ``out = clamp(x01 + strength * tanh(f(x)), 0, 1)`` with ``x01 = x * std + mean`` and ``f`` three
    zero-padded 3x3 convs, one of stride 2, a bilinear x2 upsample and a last 3x3 conv: a receptive
    field of about 15 pixels that sees each tile's zero padding, so wrongly blended tiles show seams.
    Fully convolutional: the same module runs on a whole image of any (even) size as a reference.
    """
    import torch
    from torch import nn
    from torch.nn import functional as F

    class RetouchNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(3, 8, 3, padding=1)
            self.c2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
            self.c3 = nn.Conv2d(8, 8, 3, padding=1)
            self.c4 = nn.Conv2d(8, 3, 3, padding=1)
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
            self.strength = float(strength)

        def forward(self, x):
            h = F.relu(self.c1(x))
            h = F.relu(self.c2(h))
            h = F.relu(self.c3(h))
            h = F.interpolate(h, size=x.shape[-2:], mode="bilinear", align_corners=False)
            x01 = x * self.std + self.mean
            return torch.clamp(x01 + self.strength * torch.tanh(self.c4(h)), 0.0, 1.0)

    torch.manual_seed(seed)
    return RetouchNet().eval()


def make_image_onnx_dir(dist: Path, size: int = 64, variant: str = "student", shipped: bool = True,
                        overlap=32, mode: str = "tile", task: str = "retouch", seed: int = 0) -> Path:
    """``dist/<task>/<variant>/onnx_fp32``: :func:`retouch_net` at ``size`` x ``size``, output kind
    ``image`` in [0, 1], ``inference`` ``{"mode": mode, "tile": size, "overlap": overlap}``
    (``overlap=None`` leaves the key out: the runtime's default)."""
    import torch

    d = Path(dist) / task / variant / "onnx_fp32"
    d.mkdir(parents=True, exist_ok=True)
    net = retouch_net(seed)
    x = torch.randn(1, 3, size, size)
    torch.onnx.export(net, (x,), str(d / "model.onnx"), input_names=["image"], output_names=["image"],
                      opset_version=17, dynamo=False)
    inference = {"mode": mode, "tile": size}
    if overlap is not None:
        inference["overlap"] = overlap
    write_manifest(d, variant=variant, fmt="onnx", precision="fp32", file="model.onnx", size=size,
                   layout="NCHW", shipped=shipped, engine="onnxruntime",
                   extra={"task": task, "arch": "retouch_net_fixture",
                          "output": {"name": "image", "kind": "image", "range": [0.0, 1.0], "channels": 3,
                                     "meaning": "the retouched photo, RGB in [0, 1], same size as the input"},
                          "inference": inference})
    return d


def make_data(root: Path, n_test: int = 3) -> Path:
    from edgephoto.data.synthetic_matte import generate
    generate(Path(root), seed=0, sizes={"test": n_test})
    return Path(root)
