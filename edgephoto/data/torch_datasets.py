"""torch Datasets over the folder readers (build stages only: imports torch)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ..runtime.model import normalize, photo_thumbnail, whole_input, with_context
from ..runtime.spec import InputSpec
from .folders import PairFolder, load_gray, load_rgb


def to_input_tensor(rgb_u8: np.ndarray, inp: InputSpec) -> torch.Tensor:
    """uint8 HxWx3 (a whole photo) -> CxHxW as the runtime feeds it (:func:`whole_input`: normalized,
    plus the global-context planes the spec declares)."""
    return _chw(whole_input(rgb_u8, inp))


def to_target_tensor(rgb_u8: np.ndarray, inp: InputSpec) -> torch.Tensor:
    """A target photo in the input's value space (normalized, no context planes), CxHxW."""
    return _chw(normalize(rgb_u8, inp))


def _chw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


class SeededAugment:
    """Augmentation randomness that depends only on (seed, epoch, sample index): the same command
    gives the same crops and flips, in any process, and a resumed run continues the same sequence.
    The trainer calls ``set_epoch`` at the start of every pass over the data."""

    seed: int = 0
    epoch: int = 0

    def set_epoch(self, epoch: int, seed: int | None = None) -> None:
        self.epoch = int(epoch)
        if seed is not None:
            self.seed = int(seed)

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(index)])


class MaskDataset(SeededAugment, Dataset):
    """(image, mask) pairs resized to ``size`` x ``size``; ``augment`` adds flips and crops."""

    def __init__(self, pairs: PairFolder, size: int, inp: InputSpec, augment: bool = False) -> None:
        self.pairs, self.size, self.inp, self.augment = pairs, size, inp, augment

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int):
        ip, mp = self.pairs[i]
        s = self.size
        if self.augment:
            # random crop keeping >= 80% of each side, then resize: mild scale jitter
            rng = self.rng(i)
            img = load_rgb(ip)
            mask = load_gray(mp, (img.shape[1], img.shape[0]))
            h, w = mask.shape
            ch, cw = int(h * rng.uniform(0.8, 1.0)), int(w * rng.uniform(0.8, 1.0))
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            img, mask = img[y:y + ch, x:x + cw], mask[y:y + ch, x:x + cw]
            from PIL import Image
            img = np.asarray(Image.fromarray(img).resize((s, s), Image.BILINEAR))
            mask = np.asarray(Image.fromarray((mask * 255).astype(np.uint8)).resize((s, s), Image.BILINEAR),
                              dtype=np.float32) / 255.0
            if rng.random() < 0.5:
                img, mask = img[:, ::-1], mask[:, ::-1]
        else:
            img = load_rgb(ip, (s, s))
            mask = load_gray(mp, (s, s))
        return to_input_tensor(np.ascontiguousarray(img), self.inp), torch.from_numpy(np.ascontiguousarray(mask)[None])


class ImagePairDataset(SeededAugment, Dataset):
    """(input photo, target photo) pairs, both normalized. Training: a random flip of the pair, then
    the same random ``size`` crop of both (upscaled first if the pair is smaller); otherwise the whole
    pair resized to ``size``. With ``context``, the input also carries the *whole* input photo's
    thumbnail and the crop's position in it, exactly as the runtime gives them to each tile."""

    def __init__(self, pairs: PairFolder, size: int, inp: InputSpec, augment: bool = False) -> None:
        self.pairs, self.size, self.inp, self.augment = pairs, size, inp, augment
        self.context = inp.context

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int):
        ip, tp = self.pairs[i]
        s = self.size
        if self.augment:
            rng = self.rng(i)
            img = load_rgb(ip)
            tgt = load_rgb(tp, (img.shape[1], img.shape[0]))
            h, w = img.shape[:2]
            if min(h, w) < s:
                k = s / min(h, w)
                size = (max(s, round(w * k)), max(s, round(h * k)))
                img, tgt = load_rgb(ip, size), load_rgb(tp, size)
                h, w = img.shape[:2]
            y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
            if rng.random() < 0.5:
                img, tgt = img[:, ::-1], tgt[:, ::-1]
                x = w - s - x
            if self.context:   # the crop sees the whole photo's thumbnail and its place in it, as a tile does
                full = normalize(np.ascontiguousarray(img), self.inp)
                xin = with_context(full[y:y + s, x:x + s], photo_thumbnail(full, self.context), self.context,
                                   int(y), int(x), (h, w))
            else:
                xin = normalize(np.ascontiguousarray(img[y:y + s, x:x + s]), self.inp)
            tgt = tgt[y:y + s, x:x + s]
        else:
            img, tgt = load_rgb(ip, (s, s)), load_rgb(tp, (s, s))
            xin = whole_input(img, self.inp)
        return _chw(xin), to_target_tensor(np.ascontiguousarray(tgt), self.inp)


class SRDataset(SeededAugment, Dataset):
    """Super-resolution training crops from high-resolution photos alone (DIV2K-style: LR is made
    here): a random ``scale * size`` HR crop (photos smaller than that are upscaled first), a
    random flip / 90-degree rotation, and LR = ``degradation(HR)`` (``data/sr_degrade.py``).
    Returns (LR normalized CxHxW, HR normalized Cx(scale H)x(scale W))."""

    def __init__(self, hr_paths, size: int, scale: int, inp: InputSpec, degradation: str = "bicubic") -> None:
        from .sr_degrade import DEGRADATIONS
        self.paths, self.size, self.scale, self.inp = list(hr_paths), size, scale, inp
        self.degrade = DEGRADATIONS.get(degradation)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        rng = self.rng(i)
        hr = load_rgb(self.paths[i])
        s = self.size * self.scale
        h, w = hr.shape[:2]
        if min(h, w) < s:
            k = s / min(h, w)
            hr = load_rgb(self.paths[i], (max(s, round(w * k)), max(s, round(h * k))))
            h, w = hr.shape[:2]
        y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        hr = hr[y:y + s, x:x + s]
        if rng.random() < 0.5:
            hr = hr[:, ::-1]
        hr = np.ascontiguousarray(np.rot90(hr, int(rng.integers(4))))
        lr = self.degrade(hr, self.scale, rng)
        return to_input_tensor(lr, self.inp), to_target_tensor(hr, self.inp)


class ColourDataset(SeededAugment, Dataset):
    """Colorization samples from colour photos alone: (L* normalized 1xHxW, a* b* / 128 2xHxW).
    Training: a random crop keeping >= 70% of each side, resized to ``size``, and a random flip;
    otherwise the whole photo resized to ``size`` (what the runtime's ``resize`` mode feeds)."""

    def __init__(self, paths, size: int, inp: InputSpec, augment: bool = False) -> None:
        self.paths, self.size, self.inp, self.augment = list(paths), size, inp, augment

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        from PIL import Image

        from ..metrics import AB_NORM
        from ..runtime.lab import rgb_to_lab
        s = self.size
        img = load_rgb(self.paths[i])
        if self.augment:
            rng = self.rng(i)
            h, w = img.shape[:2]
            ch, cw = int(h * rng.uniform(0.7, 1.0)), int(w * rng.uniform(0.7, 1.0))
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            img = img[y:y + ch, x:x + cw]
            if rng.random() < 0.5:
                img = img[:, ::-1]
        img = np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize((s, s), Image.BILINEAR))
        ab = rgb_to_lab(img)[..., 1:] / np.float32(AB_NORM)
        return to_input_tensor(img, self.inp), _chw(ab.astype(np.float32))


class LatentImageDataset(SeededAugment, Dataset):
    """Unconditional generation: (latent, real image). The latent is standard normal, drawn from
    the sample's seeded stream (so a resumed run sees the same ones); the real image is resized to
    ``size`` x ``size``, flipped at random in training, in [-1, 1] (the generator's tanh)."""

    def __init__(self, paths, size: int, latent_dim: int, augment: bool = False) -> None:
        self.paths, self.size, self.latent_dim, self.augment = list(paths), size, latent_dim, augment

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        rng = self.rng(i)
        img = load_rgb(self.paths[i], (self.size, self.size))
        if self.augment and rng.random() < 0.5:
            img = img[:, ::-1]
        z = rng.standard_normal(self.latent_dim).astype(np.float32)
        y = np.ascontiguousarray(img, np.float32) / np.float32(127.5) - np.float32(1.0)
        return torch.from_numpy(z), _chw(y)
