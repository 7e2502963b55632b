"""``artfeat``: a small feature network trained here, for KID when no Inception weights are at hand.

Published FID/KID numbers need pytorch-fid's Inception file, which this project never downloads.
Without it, ``edgephoto.gen_metrics`` measures KID on the 256-d features of this network instead,
trained in this repository on an ArtBench-10-layout folder (``root/<split>/<style>/*.png``, what
``edgephoto.data.real_art`` and ``edgephoto.data.procedural_art`` write). Its numbers rank models
against each other on the same features; they are **not comparable to published FID/KID**.

Network (``ArtFeatNet``, ~0.8 M parameters, ``N x 3 x 64 x 64`` in ``[-1, 1]``): a 3x3 stem at 64x64,
four residual stages (basic blocks; 32, 64, 128, 160 channels at 32, 16, 8, 4 px), a 1x1 projection
to 256 channels, BatchNorm + ReLU and a global average pool: the 256-d feature. Two linear heads on
it, used only in training.

Training (``train``): classification with strong augmentation, two labels per image:

- the style folder (class ids from ``styles.json`` when present, else the sorted folder names);
- a self-supervised one: which of 4 rotations (0, 90, 180, 270 degrees) was applied. With only a
  handful of styles the style head alone would let the features collapse to a few directions;
  predicting the rotation needs the layout of the picture (sky above ground, where shapes sit),
  so the features keep describing content, not just the 3-4 style classes.

Augmentation (on batches, in torch): random resized crop (area 30-100 %, aspect 3/4-4/3) with a
random horizontal flip, brightness / contrast / saturation jitter (+-40 %), a hue rotation
(+-0.1 turn), random greyscale (20 %) and a little Gaussian noise; then the rotation.

Checkpoint (``save`` / ``load``): ``{"format": "edgephoto-artfeat-v1", "config": ..., "styles": ...,
"state_dict": ..., "train": ...}`` written with ``torch.save``; ``load`` turns any problem with the
file into one ``UserError`` line.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..errors import UserError

FORMAT = "edgephoto-artfeat-v1"
NAME = "artfeat"
INPUT_SIDE = 64
FEATURE_DIM = 256
N_ROTATIONS = 4
LOAD_SIDE = 96            # images are kept at this size in memory; crops are resampled to 64
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
DEFAULTS = dict(widths=(32, 64, 128, 160), stem=24, dim=FEATURE_DIM)


# ---------------------------------------------------------------- network
class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 strided) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class ArtFeatNet(nn.Module):
    """``N x 3 x 64 x 64`` in ``[-1, 1]`` -> ``N x dim`` features (``features``); ``forward`` also
    returns the style and rotation logits used in training."""

    def __init__(self, n_styles: int, widths: Sequence[int] = DEFAULTS["widths"], stem: int = DEFAULTS["stem"],
                 dim: int = DEFAULTS["dim"], n_rotations: int = N_ROTATIONS) -> None:
        super().__init__()
        self.n_styles, self.dim = int(n_styles), int(dim)
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU(inplace=True))
        stages, cin = [], stem
        for w in widths:
            stages.append(BasicBlock(cin, w, stride=2))
            cin = w
        self.stages = nn.Sequential(*stages)
        self.project = nn.Sequential(nn.Conv2d(cin, dim, 1, bias=False), nn.BatchNorm2d(dim), nn.ReLU(inplace=True))
        self.style_head = nn.Linear(dim, max(1, self.n_styles))
        self.rotation_head = nn.Linear(dim, n_rotations)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for block in self.stages:   # residual branches start near zero: stable early training
            nn.init.zeros_(block.bn2.weight)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.stages(self.stem(x))).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return f, self.style_head(f), self.rotation_head(f)


def count_parameters(model: nn.Module, heads: bool = True) -> int:
    """All parameters, or (``heads=False``) only those of the feature trunk."""
    return sum(p.numel() for n, p in model.named_parameters() if heads or "_head." not in n)


def to_input(batch_uint8: np.ndarray, side: int = INPUT_SIDE) -> torch.Tensor:
    """``N x H x W x 3`` uint8 -> ``N x 3 x side x side`` in ``[-1, 1]`` (antialiased resize)."""
    x = torch.from_numpy(np.ascontiguousarray(batch_uint8)).permute(0, 3, 1, 2).float() / 255.0
    if tuple(x.shape[-2:]) != (side, side):
        x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
    return x * 2 - 1


# ---------------------------------------------------------------- data
def list_styled_images(root: Union[str, Path], split: str = "train") -> Tuple[List[Path], List[int], List[str]]:
    """Files and style ids of ``root/<split>/<style>/*``; class list from ``root/styles.json`` when
    it has one (the same ids in every split), else the sorted style folders of the split."""
    root = Path(root)
    base = root / split
    if not base.is_dir():
        raise UserError(f"artfeat: no folder {base} (expected the ArtBench layout root/<split>/<style>/*.png)")
    folders = sorted(p.name for p in base.iterdir() if p.is_dir())
    styles: List[str] = []
    meta = root / "styles.json"
    if meta.is_file():
        try:
            styles = [str(s) for s in json.loads(meta.read_text())["styles"]]
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"artfeat: {meta} is not a styles.json ({e.__class__.__name__})") from None
    styles = styles or folders
    unknown = [f for f in folders if f not in styles]
    if unknown:
        raise UserError(f"artfeat: style folders {unknown} of {base} are not in {meta}")
    files, labels = [], []
    for f in folders:
        for p in sorted((base / f).iterdir()):
            if p.suffix.lower() in IMAGE_EXTS:
                files.append(p)
                labels.append(styles.index(f))
    if not files:
        raise UserError(f"artfeat: no images under {base}/<style>/")
    return files, labels, styles


def load_images(files: Sequence[Path], side: int = LOAD_SIDE) -> np.ndarray:
    """``N x side x side x 3`` uint8 (RGB; Lanczos resize of the whole picture)."""
    out = np.empty((len(files), side, side, 3), np.uint8)
    for i, p in enumerate(files):
        with Image.open(p) as im:
            im = im.convert("RGB")
            if im.size != (side, side):
                im = im.resize((side, side), Image.LANCZOS)
            out[i] = np.asarray(im)
    return out


# ---------------------------------------------------------------- augmentation
_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ2RGB = torch.linalg.inv(_RGB2YIQ)


def augment(x: torch.Tensor, g: torch.Generator, side: int = INPUT_SIDE) -> torch.Tensor:
    """Strong augmentation of ``N x 3 x H x W`` in ``[0, 1]`` -> ``N x 3 x side x side`` in ``[0, 1]``."""
    n = x.shape[0]
    u = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    # random resized crop + flip, as one affine resampling
    area = 0.3 + 0.7 * u(n)
    log_r = (u(n) * 2 - 1) * math.log(4 / 3)
    sx = torch.sqrt(area * torch.exp(log_r)).clamp(max=1.0)
    sy = torch.sqrt(area / torch.exp(log_r)).clamp(max=1.0)
    tx, ty = (u(n) * 2 - 1) * (1 - sx), (u(n) * 2 - 1) * (1 - sy)
    flip = torch.where(u(n) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = sx * flip, tx
    theta[:, 1, 1], theta[:, 1, 2] = sy, ty
    grid = F.affine_grid(theta, [n, 3, side, side], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    # colour: brightness, contrast, saturation, hue (a rotation of the YIQ chroma plane)
    x = x * (0.6 + 0.8 * u(n, 1, 1, 1))
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (0.6 + 0.8 * u(n, 1, 1, 1)) + mean
    grey = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    x = (x - grey) * (0.6 + 0.8 * u(n, 1, 1, 1)) + grey
    angle = (u(n) * 2 - 1) * 0.1 * 2 * math.pi
    c, s = torch.cos(angle), torch.sin(angle)
    rot = torch.zeros(n, 3, 3)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = c, -s, s, c
    mix = _YIQ2RGB @ rot @ _RGB2YIQ                       # n x 3 x 3
    x = torch.einsum("nij,njhw->nihw", mix, x)
    to_grey = (u(n) < 0.2).view(n, 1, 1, 1)
    grey = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).expand_as(x)
    x = torch.where(to_grey, grey, x)
    x = x + 0.02 * torch.randn(x.shape, generator=g)
    return x.clamp(0, 1)


def rotate(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Rotate image ``i`` of the (square) batch by ``k[i]`` quarter turns."""
    out = x.clone()
    for r in range(1, N_ROTATIONS):
        idx = (k == r).nonzero(as_tuple=True)[0]
        if len(idx):
            out[idx] = torch.rot90(x[idx], r, dims=(2, 3))
    return out


# ---------------------------------------------------------------- checkpoint
def save(path: Union[str, Path], model: ArtFeatNet, styles: Sequence[str], config: dict, train_info: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, "config": dict(config), "styles": list(styles),
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "train": dict(train_info)}, tmp)
    os.replace(tmp, path)
    return path


def load(path: Union[str, Path]) -> Tuple[ArtFeatNet, dict]:
    """The network (eval mode, no gradients) and the checkpoint's metadata (without the weights)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"artfeat weights {path}: no such file (train them with "
                        f"edgephoto.models.artfeat.train on an ArtBench-layout folder)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:   # noqa: BLE001
        msg = " ".join(str(e).split())[:100]
        raise UserError(f"artfeat weights {path}: not a readable checkpoint ({msg})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or not isinstance(ckpt.get("state_dict"), dict):
        raise UserError(f"artfeat weights {path}: not an {FORMAT} checkpoint")
    cfg = dict(ckpt.get("config") or {})
    try:
        model = ArtFeatNet(n_styles=len(ckpt.get("styles") or []) or 1,
                           widths=tuple(cfg.get("widths", DEFAULTS["widths"])),
                           stem=int(cfg.get("stem", DEFAULTS["stem"])), dim=int(cfg.get("dim", DEFAULTS["dim"])))
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except Exception as e:   # noqa: BLE001
        msg = " ".join(str(e).split())[:160]
        raise UserError(f"artfeat weights {path}: the weights do not fit the network ({msg})") from None
    for p in model.parameters():
        p.requires_grad_(False)
    meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
    return model.eval(), meta


# ---------------------------------------------------------------- training
@torch.no_grad()
def _accuracy(model: ArtFeatNet, images: np.ndarray, labels: np.ndarray, batch: int = 128) -> Dict[str, float]:
    """Style accuracy on un-augmented images and rotation accuracy over all four rotations."""
    model.eval()
    style_ok = rot_ok = 0
    for i in range(0, len(images), batch):
        x = to_input(images[i:i + batch])
        y = torch.from_numpy(labels[i:i + batch])
        _, s, _ = model(x)
        style_ok += int((s.argmax(1) == y).sum())
        for r in range(N_ROTATIONS):
            _, _, rl = model(torch.rot90(x, r, dims=(2, 3)))
            rot_ok += int((rl.argmax(1) == r).sum())
    return {"style_acc": style_ok / len(images), "rotation_acc": rot_ok / (N_ROTATIONS * len(images))}


def train(root: Union[str, Path], out: Union[str, Path], steps: int = 2000, batch: int = 64, lr: float = 2e-3,
          weight_decay: float = 5e-4, rotation_weight: float = 1.0, seed: int = 0, threads: Optional[int] = 1,
          split: str = "train", val_split: Optional[str] = "val", limit: Optional[int] = None,
          progress: Optional[Callable[[int, int, Dict[str, float]], None]] = None,
          config: Optional[dict] = None) -> dict:
    """Train ``ArtFeatNet`` on ``root/<split>/<style>/*`` and save it to ``out``.

    Loss: cross-entropy of the style plus ``rotation_weight`` x cross-entropy of the rotation, on
    strongly augmented crops (``augment``). AdamW, linear warm-up (5 %) and cosine decay.
    ``limit``: at most that many training images (a quick run). Returns the training record
    (also stored in the checkpoint): steps, final losses, accuracies on the train split and, when
    ``root/<val_split>`` exists, on it."""
    if threads:
        torch.set_num_threads(int(threads))
    cfg = {**DEFAULTS, **(config or {})}
    files, labels, styles = list_styled_images(root, split)
    if limit:
        pick = np.random.default_rng(seed).permutation(len(files))[:limit]
        files, labels = [files[i] for i in sorted(pick)], [labels[i] for i in sorted(pick)]
    images = load_images(files)
    y_all = np.asarray(labels, np.int64)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = ArtFeatNet(len(styles), widths=tuple(cfg["widths"]), stem=int(cfg["stem"]), dim=int(cfg["dim"]))
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    warm = max(1, steps // 20)
    def lr_factor(s: int) -> float:
        return (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    images_t = torch.from_numpy(images)   # N x H x W x 3 uint8
    bs = min(batch, len(images))
    t0, ema = time.time(), {}
    model.train()
    for step in range(steps):
        idx = torch.randint(0, len(images), (bs,), generator=g)
        x = images_t[idx].permute(0, 3, 1, 2).float() / 255.0
        x = augment(x, g)
        k = torch.randint(0, N_ROTATIONS, (bs,), generator=g)
        x = rotate(x, k) * 2 - 1
        _, s_logits, r_logits = model(x)
        y = torch.from_numpy(y_all)[idx]
        style_loss = F.cross_entropy(s_logits, y)
        rot_loss = F.cross_entropy(r_logits, k)
        loss = style_loss + rotation_weight * rot_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        for name, v in (("loss", loss), ("style_loss", style_loss), ("rotation_loss", rot_loss)):
            v = float(v.detach())
            ema[name] = v if name not in ema else 0.9 * ema[name] + 0.1 * v
        if progress is not None:
            progress(step + 1, steps, dict(ema))
    info = {"steps": steps, "batch": bs, "lr": lr, "seed": seed, "train_images": len(images),
            "root": str(root), "split": split, "seconds": round(time.time() - t0, 1),
            **{f"final_{k}": round(v, 4) for k, v in ema.items()},
            **{f"train_{k}": round(v, 4) for k, v in _accuracy(model, images, y_all).items()}}
    if val_split and (Path(root) / val_split).is_dir():
        try:
            vf, vl, _ = list_styled_images(root, val_split)
            info.update({f"{val_split}_{k}": round(v, 4)
                         for k, v in _accuracy(model, load_images(vf), np.asarray(vl, np.int64)).items()})
        except UserError:
            pass
    model.eval()
    save(out, model, styles, cfg, info)
    return info


if __name__ == "__main__":  # python -m edgephoto.models.artfeat ROOT OUT.pt [STEPS]
    import sys

    if len(sys.argv) < 3:
        sys.exit("usage: python -m edgephoto.models.artfeat ROOT OUT.pt [STEPS]")

    def _show(step: int, total: int, losses: Dict[str, float]) -> None:
        if step % 50 == 0 or step == total:
            print(f"step {step}/{total} " + " ".join(f"{k} {v:.3f}" for k, v in losses.items()), flush=True)

    try:
        print(json.dumps(train(sys.argv[1], sys.argv[2], steps=int(sys.argv[3]) if len(sys.argv) > 3 else 2000,
                               progress=_show), indent=1))
    except UserError as e:
        sys.exit(f"error: {e}")
