"""The latency reference networks of the device estimates: MobileNetV1, MobileNetV2 and ResNet-50 at 224.

These are the networks the published device figures in ``device_refs.toml`` were measured on (the
ncnn benchmark's ``mobilenet``, ``mobilenet_v2`` and ``resnet50``). The bench times them on this
host with the artifact's own engine, threads and precision; latency does not depend on the weights,
so they are built with random weights (seeded) and never trained. Build stage only (torch):
``python -m edgephoto.bench.references --build`` writes them to ``build/device_refs/``.
"""

from __future__ import annotations

from typing import Callable, Dict

import torch
from torch import nn


# ---------------------------------------------------------------------------------- blocks
def conv_bn_relu(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, relu6: bool = False) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU6(inplace=True) if relu6 else nn.ReLU(inplace=True))


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand, 3x3 depthwise, 1x1 linear projection, residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers = [conv_bn_relu(cin, hidden, 1, relu6=True)] if expand != 1 else []
        layers += [conv_bn_relu(hidden, hidden, 3, stride, groups=hidden, relu6=True),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class Bottleneck(nn.Module):
    """ResNet-50's block: 1x1, 3x3 (stride), 1x1 x4, projection shortcut when shapes change."""

    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * 4
        self.body = nn.Sequential(conv_bn_relu(cin, width, 1), conv_bn_relu(width, width, 3, stride),
                                  nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.short = nn.Identity() if stride == 1 and cin == cout else \
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.short(x))


def classifier(cin: int, classes: int = 1000) -> nn.Sequential:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))


# ---------------------------------------------------------------------------------- networks
def mobilenet_v1() -> nn.Module:
    """Howard et al. 2017, width 1.0: 4.2 M parameters, 569 M MACs at 224."""
    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    layers, c = [conv_bn_relu(3, 32, 3, 2)], 32
    for cout, s in cfg:
        layers += [conv_bn_relu(c, c, 3, s, groups=c), conv_bn_relu(c, cout, 1)]
        c = cout
    return nn.Sequential(*layers, classifier(c))


def mobilenet_v2() -> nn.Module:
    """Sandler et al. 2018, width 1.0: 3.5 M parameters, 300 M MACs at 224."""
    cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    layers, c = [conv_bn_relu(3, 32, 3, 2, relu6=True)], 32
    for t, cout, n, s in cfg:
        for i in range(n):
            layers.append(InvertedResidual(c, cout, s if i == 0 else 1, t))
            c = cout
    layers.append(conv_bn_relu(c, 1280, 1, relu6=True))
    return nn.Sequential(*layers, classifier(1280))


def resnet50() -> nn.Module:
    """He et al. 2016: 25.6 M parameters, 4.1 G MACs at 224."""
    layers = [conv_bn_relu(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
    c = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(c, width, stride if i == 0 else 1))
            c = width * 4
    return nn.Sequential(*layers, classifier(c))


# the ncnn benchmark's names -> builders (device_refs.toml's `model`)
REFERENCE_NETS: Dict[str, Callable[[], nn.Module]] = {
    "mobilenet": mobilenet_v1,
    "mobilenet_v2": mobilenet_v2,
    "resnet50": resnet50,
}
INPUT_SIZE = 224


def build(name: str, seed: int = 0) -> nn.Module:
    """The reference network ``name`` with seeded random weights and BatchNorm statistics that
    keep activations in a realistic range (so int8 calibration sees ordinary tensors)."""
    torch.manual_seed(seed)
    net = REFERENCE_NETS[name]()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None   # a cumulative average over the settling batches
    net.train()
    with torch.no_grad():   # a few batches settle the BatchNorm running statistics
        for _ in range(3):
            net(torch.randn(4, 3, INPUT_SIZE, INPUT_SIZE))
    return net.eval()
