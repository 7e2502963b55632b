"""FID and KID of generated images (build stage: torch + scipy), with a record of the feature network.

Two feature networks, never mixed up:

- **Inception** (``load_extractor(inception_path=...)``, or env ``EDGEPHOTO_INCEPTION``): pytorch-fid's
  ``pt_inception-2015-12-05-6726825d.pth``, supplied by the user (this project downloads nothing; the
  README says where to get it), in ``edgephoto.models.fid_inception``. 2048-d pool3 features of the
  image resized bilinearly to 299 and scaled to [-1, 1]: FID and KID *comparable to published
  numbers* (``comparable_to_published=True``), up to the usual caveats (same number of images, same
  resizing of the real set).
- **artfeat** (``load_extractor(artfeat_path=...)``): the 256-d features of
  ``edgephoto.models.artfeat``, a small network trained here on an ArtBench-layout folder. KID on
  it ranks this project's models against each other; it is **not comparable to published FID/KID**
  (``comparable_to_published=False``), and ``evaluate`` reports no FID for it.

Every score carries ``extractor.record()``: the network's name, the sha256 of its weight file, the
feature size and the comparability flag, so a number in a report says which features made it.

The statistics:

- ``fid``: Fréchet distance between Gaussians fitted to the two feature sets,
  ``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``; the square root by ``scipy.linalg.sqrtm``, with
  pytorch-fid's safeguards (``eps`` added to the diagonals when the product is singular and the root
  not finite; the imaginary part dropped when it is numerical noise).
- ``kid``: Binkowski et al.'s (2018) kernel inception distance, the unbiased estimator of MMD^2 with
  the cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over ``subsets`` random
  subsets of ``min(subset_size, n_real, n_fake)`` features of each set: ``(mean, std)``. Unbiased:
  its expectation is 0 when both sets come from one distribution (single estimates can be < 0).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import UserError

ENV_INCEPTION = "EDGEPHOTO_INCEPTION"
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
NOT_COMPARABLE = ("KID on features of a network trained in this project (artfeat): not comparable to "
                  "published FID/KID, only between this project's models scored with the same weights")


@dataclass
class Extractor:
    """A feature network with what a report needs to say about it.

    ``net``: a torch module whose ``method`` maps ``N x 3 x side x side`` floats in ``[0, 1]``
    (Inception) or ``[-1, 1]`` (artfeat: ``signed_input``) to ``N x dim``."""

    name: str
    sha256: str
    comparable_to_published: bool
    dim: int
    side: int
    net: object = field(repr=False)
    path: str = ""
    antialias: bool = False        # pytorch-fid resizes without antialiasing; artfeat with
    signed_input: bool = False     # artfeat takes [-1, 1]; the Inception module scales itself
    batch_size: int = 32
    method: str = "forward"        # the net's method that returns the features
    note: str = ""
    weights_match_published: Optional[bool] = None

    def record(self) -> Dict[str, object]:
        """JSON-ready description, to store next to every FID/KID number."""
        rec = {"feature_net": self.name, "sha256": self.sha256, "dim": self.dim,
               "comparable_to_published": self.comparable_to_published, "weights": self.path}
        if self.weights_match_published is not None:
            rec["weights_match_published"] = self.weights_match_published
        if self.note:
            rec["note"] = self.note
        return rec


def load_extractor(inception_path: Optional[Union[str, Path]] = None,
                   artfeat_path: Optional[Union[str, Path]] = None) -> Extractor:
    """The Inception extractor when Inception weights are given (``inception_path``, else env
    ``EDGEPHOTO_INCEPTION``), else the artfeat one from ``artfeat_path``. Any problem with either
    file, or neither given, is one ``UserError`` line."""
    if inception_path is None or str(inception_path) == "":
        inception_path = os.environ.get(ENV_INCEPTION) or None
    if inception_path is not None:
        from .models.fid_inception import (FEATURE_DIM, INPUT_SIDE, WEIGHTS_NAME, WEIGHTS_SHA256_PREFIX,
                                           load_fid_inception)
        net, sha = load_fid_inception(inception_path)
        match = sha.startswith(WEIGHTS_SHA256_PREFIX)
        note = "" if match else (f"the file's sha256 does not start with {WEIGHTS_SHA256_PREFIX} (the name of "
                                 f"pytorch-fid's {WEIGHTS_NAME}); it fits the network, but the numbers are "
                                 f"comparable to published ones only if its weights are pytorch-fid's")
        return Extractor("fid-inception-v3", sha, True, FEATURE_DIM, INPUT_SIDE, net,
                         path=str(inception_path), note=note, weights_match_published=match)
    if artfeat_path is not None and str(artfeat_path) != "":
        from .models import artfeat
        net, meta = artfeat.load(artfeat_path)
        from .models.fid_inception import file_sha256
        return Extractor(artfeat.NAME, file_sha256(Path(artfeat_path).expanduser()), False, net.dim,
                         artfeat.INPUT_SIDE, net, path=str(artfeat_path), antialias=True, signed_input=True,
                         batch_size=128, method="features", note=NOT_COMPARABLE)
    raise UserError("no feature network for FID/KID: pass --inception PATH (pytorch-fid's "
                    "pt_inception-2015-12-05-6726825d.pth, see the README; or set EDGEPHOTO_INCEPTION), "
                    "or the in-house artfeat weights (not comparable to published FID)")


# ---------------------------------------------------------------- images -> features
def _as_rgb(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img)
    if a.dtype != np.uint8:
        raise UserError(f"features: images must be uint8, got {a.dtype}")
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]
    if a.ndim != 3 or a.shape[2] != 3:
        raise UserError(f"features: expected H x W x 3 images, got shape {a.shape}")
    return a


def features(images: Union[Sequence[np.ndarray], np.ndarray], extractor: Extractor,
             batch_size: Optional[int] = None) -> np.ndarray:
    """``n x dim`` float64 features of uint8 ``H x W x 3`` images (RGB; grey and RGBA accepted;
    sizes may differ). Each image is resized to the network's input side (Inception: bilinear, no
    antialiasing, as pytorch-fid; artfeat: bilinear with antialiasing, as in its training)."""
    import torch
    import torch.nn.functional as F

    imgs = [_as_rgb(im) for im in images]
    if not imgs:
        return np.zeros((0, extractor.dim), np.float64)
    bs = int(batch_size or extractor.batch_size)
    side = extractor.side
    out: List[np.ndarray] = []
    net = extractor.net
    net.eval()
    with torch.no_grad():
        for i in range(0, len(imgs), bs):
            chunk = []
            for im in imgs[i:i + bs]:
                x = torch.from_numpy(np.array(im, np.uint8)).permute(2, 0, 1)[None].float() / 255.0
                if tuple(x.shape[-2:]) != (side, side):
                    x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False,
                                      antialias=extractor.antialias)
                chunk.append(x)
            x = torch.cat(chunk)
            if extractor.signed_input:
                x = x * 2 - 1
            f = getattr(net, extractor.method)(x)
            out.append(f.reshape(f.shape[0], -1).double().numpy())
    return np.concatenate(out)


def load_folder(folder: Union[str, Path], limit: Optional[int] = None) -> List[np.ndarray]:
    """The images under ``folder`` (recursively, sorted paths), as uint8 RGB arrays."""
    from PIL import Image

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"no image folder {folder}")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    if limit is not None:
        paths = paths[:limit]
    if not paths:
        raise UserError(f"no images under {folder}")
    out = []
    for p in paths:
        with Image.open(p) as im:
            out.append(np.asarray(im.convert("RGB")))
    return out


# ---------------------------------------------------------------- statistics
def _check(feats: np.ndarray, what: str, min_n: int = 2) -> np.ndarray:
    f = np.asarray(feats, np.float64)
    if f.ndim != 2:
        raise UserError(f"{what}: features must be n x d, got shape {f.shape}")
    if f.shape[0] < min_n:
        raise UserError(f"{what}: needs at least {min_n} feature vectors, got {f.shape[0]}")
    if not np.isfinite(f).all():
        raise UserError(f"{what}: the features are not all finite")
    return f


def gaussian_stats(feats: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    f = _check(feats, "FID")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def fid_from_stats(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                   eps: float = 1e-6) -> float:
    """Fréchet distance of ``N(mu1, sigma1)`` and ``N(mu2, sigma2)`` (pytorch-fid's safeguards)."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise UserError(f"FID: feature sizes differ ({mu1.shape} / {mu2.shape}, {sigma1.shape} / {sigma2.shape})")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        # singular product: shift both covariances by eps on the diagonal, as pytorch-fid does
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.max(np.abs(np.diagonal(covmean).imag))
        if imag > 1e-3:
            raise UserError(f"FID: the covariance square root has an imaginary part of {imag:.3g} "
                            f"(too few images for {mu1.size}-d features?)")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid(real_feats: np.ndarray, fake_feats: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to two ``n x d`` feature sets."""
    r, f = _check(real_feats, "FID"), _check(fake_feats, "FID")
    if r.shape[1] != f.shape[1]:
        raise UserError(f"FID: feature sizes differ ({r.shape[1]} vs {f.shape[1]})")
    return fid_from_stats(*gaussian_stats(r), *gaussian_stats(f), eps=eps)


def _poly_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1) ** 3


def _mmd2_from_kernels(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    m = kxx.shape[0]
    sum_xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    sum_yy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(sum_xx + sum_yy - 2 * kxy.mean())


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size samples with the cubic kernel ``(x.y / d + 1)^3``: the
    within-set kernel means leave out the diagonal (``k(x_i, x_i)``)."""
    return _mmd2_from_kernels(_poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y))


# kernel matrices of the whole sets are computed once when they hold at most this many values
# (float64: 8 bytes each); the subsets then only index them (else every subset computes its own)
KERNEL_CACHE_ELEMENTS = 30_000_000


def kid(real_feats: np.ndarray, fake_feats: np.ndarray, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> Tuple[float, float]:
    """KID ``(mean, std)`` over ``subsets`` random subsets of ``min(subset_size, n_real, n_fake)``
    vectors of each set (drawn without replacement within a subset; deterministic for ``seed``)."""
    r, f = _check(real_feats, "KID"), _check(fake_feats, "KID")
    if r.shape[1] != f.shape[1]:
        raise UserError(f"KID: feature sizes differ ({r.shape[1]} vs {f.shape[1]})")
    nr, nf = r.shape[0], f.shape[0]
    m = min(int(subset_size), nr, nf)
    if m < 2:
        raise UserError("KID: subsets need at least 2 vectors")
    cached = nr * nr + nf * nf + nr * nf <= KERNEL_CACHE_ELEMENTS
    if cached:
        k_rr, k_ff, k_rf = _poly_kernel(r, r), _poly_kernel(f, f), _poly_kernel(r, f)
    rng = np.random.default_rng(seed)
    vals = np.empty(max(1, int(subsets)))
    for i in range(len(vals)):
        ix = rng.choice(nr, m, replace=False)
        iy = rng.choice(nf, m, replace=False)
        if cached:
            vals[i] = _mmd2_from_kernels(k_rr[np.ix_(ix, ix)], k_ff[np.ix_(iy, iy)], k_rf[np.ix_(ix, iy)])
        else:
            vals[i] = mmd2_unbiased(r[ix], f[iy])
    return float(vals.mean()), float(vals.std())


def evaluate(real_images: Union[Sequence[np.ndarray], np.ndarray], fake_images: Union[Sequence[np.ndarray], np.ndarray],
             extractor: Extractor, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> Dict[str, object]:
    """KID (and, on the Inception features only, FID) of two image sets, with the extractor's record.

    ``{"kid": mean, "kid_std": std, "fid": float or None, "n_real": .., "n_fake": .., **record}``."""
    rf, ff = features(real_images, extractor), features(fake_images, extractor)
    k_mean, k_std = kid(rf, ff, subsets=subsets, subset_size=subset_size, seed=seed)
    out: Dict[str, object] = {"kid": k_mean, "kid_std": k_std,
                              "fid": fid(rf, ff) if extractor.comparable_to_published else None,
                              "n_real": int(rf.shape[0]), "n_fake": int(ff.shape[0]),
                              "kid_subsets": int(subsets), "kid_subset_size": int(min(subset_size, len(rf), len(ff)))}
    out.update(extractor.record())
    return out


# ---------------------------------------------------------------- the bench's and training's KID
ARTFEAT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "artfeat.pt"   # committed, trained here
_DEFAULT: Dict[str, Extractor] = {}


def default_extractor() -> Optional[Extractor]:
    """The Inception file of ``EDGEPHOTO_INCEPTION`` when set, else the committed artfeat weights
    (None when neither exists); loaded once per process."""
    key = os.environ.get(ENV_INCEPTION) or str(ARTFEAT_WEIGHTS)
    if key not in _DEFAULT:
        if not os.environ.get(ENV_INCEPTION) and not ARTFEAT_WEIGHTS.is_file():
            return None
        _DEFAULT[key] = load_extractor(artfeat_path=None if os.environ.get(ENV_INCEPTION) else ARTFEAT_WEIGHTS)
    return _DEFAULT[key]


def kid_report(samples: Sequence[np.ndarray], real: Sequence[np.ndarray],
               extractor: Optional[Extractor] = None) -> Dict[str, object]:
    """What the generate task reports beside the collapse detector: ``kid`` (mean), ``kid_std``,
    ``fid`` (Inception only), ``kid_features`` and ``kid_comparable`` (False: artfeat's features,
    not comparable to published numbers). {} when no feature network is available."""
    ext = extractor or default_extractor()
    if ext is None:
        return {}
    r = evaluate(real, samples, ext, subsets=50)
    out: Dict[str, object] = {"kid": float(r["kid"]), "kid_std": float(r["kid_std"]),
                              "kid_features": ext.name, "kid_comparable": float(ext.comparable_to_published)}
    if r.get("fid") is not None:
        out["fid"] = float(r["fid"])
    return out
