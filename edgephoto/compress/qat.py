"""Quantization-aware training (QAT): fine-tune a network with int8 quantization simulated in its forward pass.

Why: post-training quantization (PTQ, ``quantize.py``) rounds a network trained in float; where that
costs more quality than ``int8_quality_rel_loss`` allows, training *through* the rounding lets the
weights adapt to it. NNCF's PyTorch QAT does not run with this project's torch (2.13), so the fake
quantization is ``torch.ao.quantization.FakeQuantize`` (straight-through gradients) placed exactly where
the int8 converter quantizes: every weighted layer (Conv, ConvTranspose, Linear) sees its input as
uint8 per-tensor affine and its weights as int8 per-channel symmetric on onnxruntime's 7-bit range
(``reduce_range``). The trained weights are saved as a plain checkpoint of the same architecture, and
the int8 artifact is made by the same static quantizer as PTQ: the PTQ and QAT rows differ only in
the weights they were given.

The loss is the task's distillation loss against the network's own float model (frozen): the
ground truth keeps it honest, the float outputs keep it where it was.

    edgephoto compress --task upscale --qat --from starter --steps 600   # runs/<task>/starter-qat/ckpt.pt
    edgephoto export --task upscale --variant starter-qat ...           # its onnx_int8 row beside PTQ's
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Dict, List

import torch
import torch.nn.functional as F
from torch import nn

WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
QAT_SUFFIX = "-qat"
QAT_STEPS = 500
QAT_LR = 1e-4


def _act_fq():
    from torch.ao.quantization import FakeQuantize, MovingAverageMinMaxObserver
    return FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, dtype=torch.quint8,
                        qscheme=torch.per_tensor_affine)


def _weight_fq(ch_axis: int):
    from torch.ao.quantization import FakeQuantize, MovingAveragePerChannelMinMaxObserver
    return FakeQuantize(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-64, quant_max=63,
                        dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=ch_axis)


def _fq_forward(self, x):
    fq = self.__dict__["_edgephoto_fq"]
    x = fq["act"](x)
    w = fq["weight"](self.weight)
    if isinstance(self, nn.Linear):
        return F.linear(x, w, self.bias)
    if isinstance(self, nn.ConvTranspose2d):
        return F.conv_transpose2d(x, w, self.bias, self.stride, self.padding, self.output_padding, self.groups,
                                  self.dilation)
    if self.padding_mode != "zeros":
        x = F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
        return F.conv2d(x, w, self.bias, self.stride, 0, self.dilation, self.groups)
    return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


def add_fake_quant(model: nn.Module) -> int:
    """Simulate int8 in every weighted layer of ``model`` (in place); returns how many. The
    quantizers are kept out of the module tree, so ``state_dict`` stays the architecture's own."""
    n = 0
    for m in model.modules():
        if isinstance(m, WEIGHTED) and "_edgephoto_fq" not in m.__dict__:
            # ConvTranspose2d weights are (in, out, ...): per output channel is axis 1
            m.__dict__["_edgephoto_fq"] = {"act": _act_fq(), "weight": _weight_fq(1 if isinstance(m, nn.ConvTranspose2d) else 0)}
            m.forward = types.MethodType(_fq_forward, m)
            n += 1
    return n


def remove_fake_quant(model: nn.Module) -> None:
    for m in model.modules():
        if "_edgephoto_fq" in m.__dict__:
            del m.__dict__["_edgephoto_fq"]
            del m.forward            # back to the class's forward


def fake_quant_layers(model: nn.Module) -> List[nn.Module]:
    return [m for m in model.modules() if "_edgephoto_fq" in m.__dict__]


def qat_variant(name: str) -> str:
    return name + QAT_SUFFIX


def run_qat(args) -> Dict[str, Any]:
    """``compress --qat``: fine-tune ``runs/<task>/<from>/ckpt.pt`` (or the starter weights) with
    fake quantization into ``runs/<task>/<from>-qat/`` (resumable); returns the trainer's summary."""
    from ..errors import UserError
    from ..tasks import get_task
    from ..train.checkpoint import read_checkpoint
    from ..train.command import make_config
    from ..train.trainer import train
    from ..weights import starter_path

    task = get_task(args.task)
    src = Path(args.runs) / args.task / args.qat_from / "ckpt.pt"
    if not src.is_file() and args.qat_from == "starter" and starter_path(args.task).is_file():
        src = starter_path(args.task)
    if not src.is_file():
        raise UserError(f"no checkpoint to fine-tune at {src} (train it first, or pass --from <variant>)")
    state = read_checkpoint(src)
    name = qat_variant(args.qat_from)
    args.init = str(src)
    args.steps = args.steps or QAT_STEPS       # a fine-tune: short, at a small learning rate
    args.lr = args.lr or QAT_LR
    if args.size is None and state.get("input_size"):
        args.size = int(state["input_size"])
    cfg = make_config(args, name, "distill", Path(args.runs) / args.task / name, state["arch"],
                      recipe="qat", teacher=str(src), temperature=1.0, alpha=args.alpha)
    return train(cfg)
