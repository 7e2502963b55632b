"""Rebuild a TF.js *layers model* (Keras ``model.json`` + weight shards) as a PyTorch module.

Published TF.js models (UpscalerJS's ``esrgan-slim``, ...) come as a Keras functional graph in
``model.json`` and float32 weights in binary shards. ``load_layers_model(path)`` reads both and
returns a :class:`LayersGraph`, an ``nn.Module`` that runs the same graph in NCHW, so the importer
can write it as ONNX (``edgephoto import model.json``) and the trainer can distill from it.

Supported layers are the table :data:`LAYERS` (one builder each: ``Conv2D``, ``Activation``,
``Add``, ``Concatenate``, ``UpSampling2D``, ``ReLU``, ``LeakyReLU``, ``PReLU``); anything else,
a non-float32 weight or a shape mismatch is refused with one line naming the layer.

    python -m edgephoto.models.keras_layers sources/models/esrgan-slim/model.json   # summary
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import UserError

_ACTIVATIONS: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda x: x, "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
    "elu": F.elu, "selu": F.selu, "softplus": F.softplus, "swish": F.silu, "gelu": F.gelu,
}
_DTYPES = {"float32": np.float32, "float16": np.float16}


def is_layers_model(path: Path) -> bool:
    """True when ``path`` is a TF.js ``model.json`` holding a Keras layers model."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
        m = json.loads(head)
    except (OSError, ValueError):
        return False
    return isinstance(m, dict) and m.get("format") == "layers-model" and "modelTopology" in m


def _activation(name: str, layer: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name not in _ACTIVATIONS:
        raise UserError(f"layer '{layer}': activation '{name}' is not supported "
                        f"(supported: {', '.join(sorted(_ACTIVATIONS))})")
    return _ACTIVATIONS[name]


class _Conv2D(nn.Module):
    def __init__(self, cfg: Dict[str, Any], w: Dict[str, np.ndarray], name: str) -> None:
        super().__init__()
        if cfg.get("data_format", "channels_last") != "channels_last" or cfg.get("groups", 1) != 1:
            raise UserError(f"layer '{name}': only channels_last, ungrouped Conv2D is supported")
        kernel = w[f"{name}/kernel"]                     # kh, kw, in, out
        kh, kw, cin, cout = kernel.shape
        stride, dil = tuple(cfg.get("strides", (1, 1))), tuple(cfg.get("dilation_rate", (1, 1)))
        pad = cfg.get("padding", "valid")
        if pad == "same":
            if stride != (1, 1) or kh % 2 == 0 or kw % 2 == 0:
                # TF's 'same' pads asymmetrically for strides > 1 or even kernels
                raise UserError(f"layer '{name}': 'same' padding needs stride 1 and an odd kernel here")
            padding: Tuple[int, int] = (dil[0] * (kh // 2), dil[1] * (kw // 2))
        else:
            padding = (0, 0)
        use_bias = cfg.get("use_bias", True)
        self.conv = nn.Conv2d(cin, cout, (kh, kw), stride, padding, dil, bias=use_bias)
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
            if use_bias:
                self.conv.bias.copy_(torch.from_numpy(w[f"{name}/bias"]))
        self.act = _activation(cfg.get("activation", "linear"), name)

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        return self.act(self.conv(xs[0]))


class _Activation(nn.Module):
    def __init__(self, cfg, w, name):
        super().__init__()
        self.act = _activation(cfg.get("activation", "linear"), name)

    def forward(self, xs):
        return self.act(xs[0])


class _ReLU(nn.Module):
    def __init__(self, cfg, w, name):
        super().__init__()
        if cfg.get("max_value") is not None or cfg.get("threshold", 0) or cfg.get("negative_slope", 0):
            raise UserError(f"layer '{name}': only the plain ReLU is supported")

    def forward(self, xs):
        return F.relu(xs[0])


class _LeakyReLU(nn.Module):
    def __init__(self, cfg, w, name):
        super().__init__()
        self.alpha = float(cfg.get("alpha", 0.3))

    def forward(self, xs):
        return F.leaky_relu(xs[0], self.alpha)


class _PReLU(nn.Module):
    def __init__(self, cfg, w, name):
        super().__init__()
        alpha = w[f"{name}/alpha"]                      # (h, w, c) with shared axes of size 1
        self.alpha = nn.Parameter(torch.from_numpy(np.ascontiguousarray(alpha.transpose(2, 0, 1)))[None])

    def forward(self, xs):
        x = xs[0]
        return torch.where(x >= 0, x, x * self.alpha)


class _Add(nn.Module):
    def __init__(self, cfg, w, name):
        super().__init__()

    def forward(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class _Concatenate(nn.Module):
    def __init__(self, cfg, w, name):
        super().__init__()
        if cfg.get("axis", -1) not in (-1, 3):
            raise UserError(f"layer '{name}': only channel concatenation (axis -1) is supported")

    def forward(self, xs):
        return torch.cat(xs, dim=1)


class _UpSampling2D(nn.Module):
    def __init__(self, cfg, w, name):
        super().__init__()
        self.size = tuple(int(s) for s in cfg.get("size", (2, 2)))
        self.mode = cfg.get("interpolation", "nearest")
        if self.mode not in ("nearest", "bilinear"):
            raise UserError(f"layer '{name}': UpSampling2D interpolation '{self.mode}' is not supported")

    def forward(self, xs):
        if self.mode == "nearest":
            return F.interpolate(xs[0], scale_factor=self.size, mode="nearest")
        return F.interpolate(xs[0], scale_factor=self.size, mode="bilinear", align_corners=False)


# class_name -> builder(config, weights by name, layer name); adding a layer kind is one row
LAYERS: Dict[str, Callable[[Dict[str, Any], Dict[str, np.ndarray], str], nn.Module]] = {
    "Conv2D": _Conv2D, "Activation": _Activation, "ReLU": _ReLU, "LeakyReLU": _LeakyReLU,
    "PReLU": _PReLU, "Add": _Add, "Concatenate": _Concatenate, "UpSampling2D": _UpSampling2D,
}


class LayersGraph(nn.Module):
    """A Keras functional graph run in NCHW: ``forward(x)`` with x (N, C, H, W) float32."""

    def __init__(self, layers: List[Tuple[str, List[str], nn.Module]], inputs: List[str],
                 outputs: List[str]) -> None:
        super().__init__()
        self.order = [(name, srcs) for name, srcs, _ in layers]
        self.inputs, self.outputs = inputs, outputs
        self.blocks = nn.ModuleDict({_key(name): mod for name, _, mod in layers})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: Dict[str, torch.Tensor] = {self.inputs[0]: x}
        for name, srcs in self.order:
            values[name] = self.blocks[_key(name)]([values[s] for s in srcs])
        return values[self.outputs[0]]


def _key(name: str) -> str:
    return name.replace(".", "_")


def read_weights(model_json: Dict[str, Any], folder: Path) -> Dict[str, np.ndarray]:
    """The named float arrays of a TF.js ``weightsManifest`` (its shards concatenated per group)."""
    out: Dict[str, np.ndarray] = {}
    for group in model_json.get("weightsManifest", []):
        blob = b""
        for p in group["paths"]:
            f = folder / p
            if not f.is_file():
                raise UserError(f"weight shard missing: {f}")
            blob += f.read_bytes()
        offset = 0
        for spec in group["weights"]:
            if spec.get("quantization"):
                raise UserError(f"weight '{spec['name']}' is quantized ({spec['quantization'].get('dtype')}): "
                                f"only float weights are supported")
            dtype = _DTYPES.get(spec.get("dtype", "float32"))
            if dtype is None:
                raise UserError(f"weight '{spec['name']}' has dtype {spec.get('dtype')}: only float32/float16")
            n = int(np.prod(spec["shape"])) if spec["shape"] else 1
            nbytes = n * np.dtype(dtype).itemsize
            if offset + nbytes > len(blob):
                raise UserError(f"weight shards too short for '{spec['name']}': truncated download?")
            out[spec["name"]] = np.frombuffer(blob, dtype, n, offset).astype(np.float32).reshape(spec["shape"])
            offset += nbytes
    return out


def load_layers_model(path: Path) -> LayersGraph:
    """The torch twin of TF.js layers model ``path`` (its ``model.json``), in eval mode."""
    path = Path(path)
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {path}: {e}") from None
    if not is_layers_model(path):
        raise UserError(f"{path} is not a TF.js layers model (model.json with format 'layers-model')")
    topo = m["modelTopology"]
    cfg = topo.get("model_config", topo)
    if cfg.get("class_name") not in ("Functional", "Model", "Sequential"):
        raise UserError(f"{path}: model class '{cfg.get('class_name')}' is not supported")
    conf = cfg["config"]
    layer_list = conf["layers"] if isinstance(conf, dict) else conf
    weights = read_weights(m, path.parent)
    sequential = cfg["class_name"] == "Sequential"
    built: List[Tuple[str, List[str], nn.Module]] = []
    inputs, prev = [], None
    for i, layer in enumerate(layer_list):
        cls, lcfg = layer["class_name"], layer["config"]
        name = layer.get("name") or lcfg.get("name") or f"layer_{i}"
        if cls == "InputLayer":
            inputs.append(name)
            prev = name
            continue
        if sequential:
            if prev is None:
                inputs.append("input")
                prev = "input"
            srcs = [prev]
        else:
            nodes = layer.get("inbound_nodes") or []
            if len(nodes) != 1:
                raise UserError(f"layer '{name}' is called {len(nodes)} times: shared layers are not supported")
            srcs = [n[0] for n in nodes[0]]
        if cls not in LAYERS:
            raise UserError(f"layer '{name}' is a {cls}, which the importer does not support "
                            f"(supported: {', '.join(LAYERS)})")
        built.append((name, srcs, LAYERS[cls](lcfg, weights, name)))
        prev = name
    outputs = [o[0] for o in conf["output_layers"]] if not sequential else [prev]
    if len(inputs) != 1 or len(outputs) != 1:
        raise UserError(f"{path}: {len(inputs)} inputs / {len(outputs)} outputs; one of each is supported")
    return LayersGraph(built, inputs, outputs).eval()


if __name__ == "__main__":
    import sys
    g = load_layers_model(Path(sys.argv[1]))
    n = sum(p.numel() for p in g.parameters())
    with torch.no_grad():
        y = g(torch.zeros(1, 3, 32, 32))
    print(f"{sys.argv[1]}: {len(g.order)} layers, {n:,} params, 1x3x32x32 -> {tuple(y.shape)}")
