"""The Inception-v3 variant behind published FID numbers, to load ``pt_inception-2015-12-05-6726825d.pth``.

FID as published (Heusel et al.'s TTUR code, and every paper since) uses the TensorFlow graph
``inception-2015-12-05``. pytorch-fid ported its weights to a PyTorch ``state_dict`` of torchvision's
``Inception3`` layout (1008 classes, no auxiliary head) with four patched blocks, and that file is
what this module loads. The architecture is written out here (no torchvision dependency) with the
same module and parameter names, so ``load_state_dict(strict=True)`` takes the file as it is.

What differs from torchvision's ImageNet Inception-v3 (the "FID patches"):

- the average pools inside the A, C and first E blocks do not count the zero padding
  (TensorFlow's ``AVG`` pooling with ``SAME`` padding: ``count_include_pad=False``);
- the last E block (``Mixed_7c``) pools its fourth branch with a *max* pool, not an average;
- the classifier has 1008 outputs (an artefact of the old Google-internal label set); it is
  unused for FID but is part of the file, so it is part of the module.

Features: the 2048 values after the final global average pool ("pool3"). Input: ``N x 3 x H x W``
in ``[0, 1]``, resized bilinearly (``align_corners=False``, no antialiasing) to 299 x 299, then scaled
to ``[-1, 1]``, as pytorch-fid's ``InceptionV3(resize_input=True, normalize_input=True)`` does.

This module never downloads anything: the user supplies the file (see the README).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Dict, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError

INPUT_SIDE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1008
WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
# torch.hub's naming convention: the part after the last "-" is the start of the file's sha256.
WEIGHTS_SHA256_PREFIX = "6726825d"

# Parameter count (weights and biases, BatchNorm buffers excluded) of the full FID Inception,
# classifier included: 23,850,960. Sources: torchvision's model card for inception_v3
# (https://pytorch.org/vision/stable/models/generated/torchvision.models.inception_v3.html,
# Inception_V3_Weights.IMAGENET1K_V1, "num_params 27161264") is the same trunk with a 1000-class
# classifier and the auxiliary head; minus the auxiliary head (3,326,696: 1x1 conv 768->128 + BN,
# 5x5 conv 128->768 + BN, fc 768->1000) and with 8 more classifier rows (8 x 2049) that is
# 27,161,264 - 3,326,696 + 16,392 = 23,850,960, the figure public code logs for pytorch-fid's
# ``fid_inception_v3()`` ("Number of inception model parameters ... # 23850960"). The FID patches
# change pooling only, never a parameter. Without the 1008-way classifier (2048 x 1008 + 1008):
# 21,785,568 parameters produce the 2048-d features.
PARAM_COUNT = 23_850_960
FEATURE_PARAM_COUNT = PARAM_COUNT - (FEATURE_DIM * NUM_CLASSES + NUM_CLASSES)


class BasicConv2d(nn.Module):
    """Convolution without bias, BatchNorm (TensorFlow's eps 0.001), ReLU. Keys: ``conv``, ``bn``."""

    def __init__(self, cin: int, cout: int, **conv_kw) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **conv_kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 stride-1 average pool that ignores the padding, like TensorFlow's SAME average pool."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | pool-1x1 (``Mixed_5b``..``Mixed_5d``)."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        d = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([a, b, c, d], 1)


class InceptionB(nn.Module):
    """35 -> 17 reduction (``Mixed_6a``): 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        c = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([a, b, c], 1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (``Mixed_6b``..``Mixed_6e``)."""

    def __init__(self, cin: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            c = layer(c)
        d = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([a, b, c, d], 1)


class InceptionD(nn.Module):
    """17 -> 8 reduction (``Mixed_7a``): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b = layer(b)
        c = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([a, b, c], 1)


class InceptionE(nn.Module):
    """8x8 block with split 1x3 / 3x1 outputs (``Mixed_7b``, ``Mixed_7c``).

    ``pool="avg"``: padding-excluding average pool (``Mixed_7b``); ``pool="max"``: the max pool of
    the FID graph's last block (``Mixed_7c``)."""

    def __init__(self, cin: int, pool: str = "avg") -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', not {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(b), self.branch3x3_2b(b)], 1)
        c = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        c = torch.cat([self.branch3x3dbl_3a(c), self.branch3x3dbl_3b(c)], 1)
        pooled = _tf_avg_pool(x) if self.pool == "avg" else F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        d = self.branch_pool(pooled)
        return torch.cat([a, b, c, d], 1)


class FIDInceptionV3(nn.Module):
    """``N x 3 x H x W`` in ``[0, 1]`` -> ``N x 2048`` pool3 features (see the module docstring).

    Module names are torchvision's ``Inception3`` ones, so the keys of pytorch-fid's weight file
    (``Conv2d_1a_3x3.conv.weight``, ``Mixed_7c.branch_pool.bn.running_var``, ``fc.bias``, ...) load
    with ``strict=True``."""

    def __init__(self, resize_input: bool = True, normalize_input: bool = True) -> None:
        super().__init__()
        self.resize_input = resize_input
        self.normalize_input = normalize_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)   # unused by FID; part of the weight file
        self.eval()

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        if self.resize_input and tuple(x.shape[-2:]) != (INPUT_SIDE, INPUT_SIDE):
            x = F.interpolate(x, size=(INPUT_SIDE, INPUT_SIDE), mode="bilinear", align_corners=False)
        if self.normalize_input:
            x = 2 * x - 1
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.preprocess(x)
        for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
                     "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
                     "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c",
                     "avgpool"):
            x = getattr(self, name)(x)
        return torch.flatten(x, 1)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """The 1008-way classifier on pool3 features (Inception Score would use it; FID does not)."""
        return self.fc(features)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def file_sha256(path: Union[str, Path]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _one_line(e: BaseException, limit: int = 160) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _examples(keys, n: int = 3) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:n]) + (f" (+{len(keys) - n} more)" if len(keys) > n else "")


def _read_state_dict(path: Path) -> Dict[str, torch.Tensor]:
    hint = f"(expected pytorch-fid's {WEIGHTS_NAME}; see the README)"
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:   # noqa: BLE001 - any unreadable file is the user's to replace
        raise UserError(f"Inception weights {path}: not a readable PyTorch weight file "
                        f"({_one_line(e, 100)}) {hint}") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) and torch.is_tensor(v)
                                                       for k, v in obj.items()):
        raise UserError(f"Inception weights {path}: the file holds a {type(obj).__name__}, not a "
                        f"state_dict of tensors {hint}")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def check_state_dict(state: Dict[str, torch.Tensor], model: nn.Module,
                     path: Union[str, Path]) -> Dict[str, torch.Tensor]:
    """Missing / unexpected keys and wrong shapes as one line (``UserError``). Returns the
    state_dict with absent BatchNorm ``num_batches_tracked`` counters filled in (files written
    before PyTorch 0.4.1 have none; they do not affect inference)."""
    expected = model.state_dict()
    state = dict(state)
    for k, v in expected.items():
        if k.endswith("num_batches_tracked") and k not in state:
            state[k] = torch.zeros_like(v)
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    wrong = [k for k in set(expected) & set(state) if tuple(state[k].shape) != tuple(expected[k].shape)]
    problems = []
    if any(k.startswith("AuxLogits.") for k in unexpected):
        problems.append("it has an AuxLogits head, so it looks like torchvision's ImageNet Inception "
                        "(inception_v3_google-*.pth), whose features differ from the FID network's")
    if missing:
        problems.append(f"{len(missing)} missing keys: {_examples(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_examples(unexpected)}")
    if wrong:
        k = sorted(wrong)[0]
        problems.append(f"{len(wrong)} tensors of the wrong shape, e.g. {k} "
                        f"{tuple(state[k].shape)} instead of {tuple(expected[k].shape)}")
    if problems:
        raise UserError(f"Inception weights {path}: not the FID Inception-v3 state_dict "
                        f"({'; '.join(problems)}); expected pytorch-fid's {WEIGHTS_NAME}, see the README")
    return state


def load_fid_inception(path: Union[str, Path]) -> Tuple[FIDInceptionV3, str]:
    """The FID Inception with the user's weights, in eval mode, and the file's sha256.

    Every problem with the file (missing, unreadable, another network's weights) is one
    ``UserError`` line."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"Inception weights {path}: no such file (download pytorch-fid's "
                        f"{WEIGHTS_NAME} yourself, see the README, and pass --inception PATH)")
    state = _read_state_dict(path)
    model = FIDInceptionV3()
    state = check_state_dict(state, model, path)
    try:
        model.load_state_dict(state, strict=True)
    except Exception as e:   # noqa: BLE001 - checked above; anything left is still a bad file
        raise UserError(f"Inception weights {path}: {_one_line(e)}") from None
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval(), file_sha256(path)
