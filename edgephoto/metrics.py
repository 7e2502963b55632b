"""Task metrics on numpy arrays, importable without torch (the bench and devices use them).

``METRICS`` maps a manifest ``output.kind`` to its metric function, so the bench can score a model
directory from its manifest alone; tasks import their function from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence

import numpy as np

from .registry import Registry

BETA2 = 0.3  # the salient-object literature's precision weighting

METRICS = Registry("metric set")


@dataclass(frozen=True)
class MetricInfo:
    """What one number means: its label, unit and which direction is better. Selection, parity's
    quality drops, the bench's int8 loss and the model cards all read the direction from here."""

    name: str
    label: str
    higher_is_better: bool
    unit: str = ""
    # the largest drop quantization may cause, in the metric's units (export's parity gate)
    parity_tolerance: float = 0.05

    def worse_by(self, value: float, reference: float) -> float:
        """How much worse ``value`` is than ``reference`` (positive: worse, negative: better)."""
        return float(reference - value) if self.higher_is_better else float(value - reference)

    def sort_key(self, value: float) -> float:
        """Ascending order of this key is best first."""
        return -float(value) if self.higher_is_better else float(value)

    def format(self, value: float) -> str:
        return f"{self.label} {value:.4f}" + (f" {self.unit}" if self.unit else "")


METRIC_INFO = Registry("metric")
for _m in (MetricInfo("mae", "MAE", False), MetricInfo("max_f", "max F-measure", True),
           MetricInfo("iou", "IoU@0.5", True), MetricInfo("l1", "L1", False),
           MetricInfo("psnr", "PSNR", True, "dB", 1.0), MetricInfo("ssim", "SSIM", True),
           MetricInfo("ciede2000", "CIEDE2000", False, "", 1.0),
           MetricInfo("psnr_y", "PSNR-Y", True, "dB", 1.0), MetricInfo("ssim_y", "SSIM-Y", True),
           MetricInfo("ab_mse", "ab MSE", False, "", 0.002),
           MetricInfo("colourfulness", "colourfulness", True, "", 5.0),
           MetricInfo("colourfulness_ratio", "colourfulness / truth", True, "", 0.1),
           MetricInfo("diversity_ratio", "diversity / real", True, "", 0.05),
           MetricInfo("memorisation_ratio", "nearest-train distance / real", True, "", 0.05),
           MetricInfo("kid", "KID", False, "", 0.01)):
    METRIC_INFO.register(_m.name, _m)


def metric_info(name: str) -> MetricInfo:
    """The registered :class:`MetricInfo` of a metric name (one clear error for an unknown one)."""
    return METRIC_INFO.get(name)


@METRICS.register("alpha")
def mask_metrics(preds: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Dict[str, float]:
    """MAE, max F-measure and IoU@0.5 over pairs of [0,1] masks of equal shape."""
    if len(preds) != len(targets) or not preds:
        raise ValueError("need equally many predictions and targets (at least one)")
    maes, ious = [], []
    prec = np.zeros(256)
    rec = np.zeros(256)
    for p, g in zip(preds, targets):
        p = np.asarray(p, np.float64).squeeze()
        g = np.asarray(g, np.float64).squeeze()
        if p.shape != g.shape:
            raise ValueError(f"prediction {p.shape} and target {g.shape} differ in shape")
        maes.append(np.abs(p - g).mean())
        gb = g >= 0.5
        pb = p >= 0.5
        union = np.logical_or(gb, pb).sum()
        ious.append(np.logical_and(gb, pb).sum() / union if union else 1.0)
        # precision/recall at 256 thresholds via a histogram of prediction values
        bins = np.clip((p * 255).round().astype(int), 0, 255)
        pos = np.bincount(bins[gb], minlength=256)[::-1].cumsum()[::-1]   # TP at threshold k
        allp = np.bincount(bins.ravel(), minlength=256)[::-1].cumsum()[::-1]
        n_gt = gb.sum()
        prec += np.where(allp > 0, pos / np.maximum(allp, 1), 1.0 if n_gt == 0 else 0.0)
        rec += pos / n_gt if n_gt else np.ones(256)
    prec /= len(preds)
    rec /= len(preds)
    f = (1 + BETA2) * prec * rec / np.maximum(BETA2 * prec + rec, 1e-12)
    return {"mae": float(np.mean(maes)), "max_f": float(f.max()), "iou": float(np.mean(ious))}


# --------------------------------------------------------------------------------------------
# Image-to-image ("retouch") metrics: L1, PSNR, SSIM and CIEDE2000, in plain numpy.
# They follow scikit-image's conventions (tests check them against it) without importing it.
# --------------------------------------------------------------------------------------------

PSNR_CAP_DB = 100.0  # PSNR reported for identical images (and the ceiling for near-identical ones)

SSIM_WIN = 7  # skimage's default uniform window
SSIM_K1 = 0.01
SSIM_K2 = 0.03

def _as_image(x: np.ndarray, what: str = "image") -> np.ndarray:
    """A float64 HxWx3 array; uint8 is scaled by 1/255 (uint16 by 1/65535)."""
    a = np.asarray(x)
    if a.dtype == np.uint8:
        a = a.astype(np.float64) / 255.0
    elif a.dtype == np.uint16:
        a = a.astype(np.float64) / 65535.0
    else:
        a = a.astype(np.float64, copy=False)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"{what} must be an HxWx3 array, got shape {a.shape}")
    return a


def _pair(pred: np.ndarray, target: np.ndarray) -> tuple:
    p = _as_image(pred, "prediction")
    t = _as_image(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"prediction {p.shape} and target {t.shape} differ in shape")
    return p, t


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two HxWx3 images in [0,1] (peak 1).

    ``10 * log10(1 / MSE)`` with the MSE over all pixels and channels, as
    ``skimage.metrics.peak_signal_noise_ratio(target, pred, data_range=1)``; identical images
    (MSE 0) give ``PSNR_CAP_DB`` (100 dB), which is also the ceiling for any pair.
    """
    p, t = _pair(pred, target)
    return _psnr(p, t)


def _psnr(p: np.ndarray, t: np.ndarray) -> float:
    mse = float(np.mean((p - t) ** 2))
    if mse <= 0.0:
        return PSNR_CAP_DB
    return float(min(10.0 * np.log10(1.0 / mse), PSNR_CAP_DB))


def _box_valid(a: np.ndarray, k: int) -> np.ndarray:
    """Mean over every full k x k window of axes 0 and 1 ('valid' output, (H-k+1)x(W-k+1)x...).

    Separable running sums: a cumulative sum down each axis and one subtraction per output, so
    the cost does not depend on k. Only the windows that lie fully inside the image are returned,
    which are exactly the ones skimage keeps after cropping its reflect-padded filter output.
    """
    c = np.cumsum(a, axis=0, dtype=np.float64)
    s = np.empty((a.shape[0] - k + 1,) + a.shape[1:], dtype=np.float64)
    s[0] = c[k - 1]
    np.subtract(c[k:], c[:-k], out=s[1:])
    c = np.cumsum(s, axis=1)
    out = np.empty((s.shape[0], s.shape[1] - k + 1) + s.shape[2:], dtype=np.float64)
    out[:, 0] = c[:, k - 1]
    np.subtract(c[:, k:], c[:, :-k], out=out[:, 1:])
    out *= 1.0 / (k * k)
    return out


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean structural similarity (Wang et al. 2004) of two HxWx3 images in [0,1].

    Computed as ``skimage.metrics.structural_similarity(pred, target, channel_axis=2,
    data_range=1.0)`` does by default: per channel, local means, variances and covariance over a
    7x7 uniform window (sample covariance, i.e. scaled by 49/48), constants
    ``C1 = (0.01 * 1)**2`` and ``C2 = (0.03 * 1)**2``, the SSIM map

        ((2 ux uy + C1) (2 sxy + C2)) / ((ux**2 + uy**2 + C1) (sx**2 + sy**2 + C2)),

    averaged over the pixels at least 3 (= (7-1)//2) away from every border (skimage's crop),
    then over the three channels. Images must be at least 7x7.
    """
    p, t = _pair(pred, target)
    return _ssim(p, t)


def _ssim(p: np.ndarray, t: np.ndarray) -> float:
    k = SSIM_WIN
    if p.shape[0] < k or p.shape[1] < k:
        raise ValueError(f"SSIM needs images of at least {k}x{k} pixels, got {p.shape[:2]}")
    cov_norm = k * k / (k * k - 1.0)
    c1 = SSIM_K1**2
    c2 = SSIM_K2**2
    ux = _box_valid(p, k)
    uy = _box_valid(t, k)
    uxuy = ux * uy
    ux *= ux  # ux, uy now hold the squared means
    uy *= uy
    # 2 * covariance + C2 and variance sum + C2, built in place to keep big temporaries few
    num = _box_valid(p * t, k)
    num -= uxuy
    num *= 2.0 * cov_norm
    num += c2
    den = _box_valid(p * p, k)
    den += _box_valid(t * t, k)
    den -= ux
    den -= uy
    den *= cov_norm
    den += c2
    num *= 2.0 * uxuy + c1
    ux += uy
    ux += c1
    den *= ux
    num /= den
    # every channel's valid region has the same size, so the overall mean is the channel mean
    return float(np.mean(num))


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65 white, 2-degree observer) of sRGB values in [0,1], channels last.

    sRGB transfer (IEC 61966-2-1: ``v / 12.92`` up to 0.04045, else ``((v + 0.055) / 1.055)**2.4``)
    to linear RGB, the sRGB/D65 matrix to XYZ, then CIELAB relative to the D65 white
    (0.95047, 1, 1.08883) with the cube root above 0.008856 and ``7.787 t + 16/116`` below;
    the same constants as ``skimage.color.rgb2lab``'s default (``runtime/lab.py``, in float64).
    """
    from .runtime.lab import rgb_to_lab
    return rgb_to_lab(np.asarray(rgb, np.float64), np.float64)


def deltaE_ciede2000_lab(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference of CIELAB values (channels last), elementwise; kL = kC = kH = 1.

    Sharma, Wu and Dalal, "The CIEDE2000 color-difference formula: implementation notes,
    supplementary test data, and mathematical observations" (Color Res. Appl. 30, 2005), eqs. 1-17:
    ``a`` is stretched by ``1 + G`` with ``G = 0.5 (1 - sqrt(Cab^7 / (Cab^7 + 25^7)))`` from the mean
    chroma; hue angles in [0, 360) (0 where the chroma is 0); the hue difference and mean hue take
    the short way round the circle (and are ``0`` / the plain sum when a chroma is 0); then
    ``sqrt((dL/SL)^2 + (dC/SC)^2 + (dH/SH)^2 + RT (dC/SC) (dH/SH))``.
    Returns an array of the inputs' shape without the last axis.
    """
    lab1 = np.asarray(lab1, np.float64)
    lab2 = np.asarray(lab2, np.float64)
    if lab1.shape != lab2.shape or lab1.shape[-1:] != (3,):
        raise ValueError(f"need two Lab arrays of one shape (..., 3), got {lab1.shape} and {lab2.shape}")
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]

    cab = 0.5 * (np.hypot(a1, b1) + np.hypot(a2, b2))
    cab7 = cab**7
    g = 0.5 * (1.0 - np.sqrt(cab7 / (cab7 + 25.0**7)))
    ap1 = (1.0 + g) * a1
    ap2 = (1.0 + g) * a2
    cp1 = np.hypot(ap1, b1)
    cp2 = np.hypot(ap2, b2)
    hp1 = np.where(cp1 == 0, 0.0, np.mod(np.degrees(np.arctan2(b1, ap1)), 360.0))
    hp2 = np.where(cp2 == 0, 0.0, np.mod(np.degrees(np.arctan2(b2, ap2)), 360.0))

    cc = cp1 * cp2
    zero = cc == 0
    dh = hp2 - hp1
    dhp = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dhp = np.where(zero, 0.0, dhp)
    dLp = L2 - L1
    dCp = cp2 - cp1
    dHp = 2.0 * np.sqrt(cc) * np.sin(np.radians(dhp) / 2.0)

    Lbar = 0.5 * (L1 + L2)
    Cbar = 0.5 * (cp1 + cp2)
    hsum = hp1 + hp2
    hbar = np.where(
        np.abs(dh) <= 180.0, 0.5 * hsum, np.where(hsum < 360.0, 0.5 * (hsum + 360.0), 0.5 * (hsum - 360.0))
    )
    hbar = np.where(zero, hsum, hbar)

    hr = np.radians(hbar)
    T = (
        1.0
        - 0.17 * np.cos(hr - np.radians(30.0))
        + 0.24 * np.cos(2.0 * hr)
        + 0.32 * np.cos(3.0 * hr + np.radians(6.0))
        - 0.20 * np.cos(4.0 * hr - np.radians(63.0))
    )
    dtheta = 30.0 * np.exp(-(((hbar - 275.0) / 25.0) ** 2))
    cbar7 = Cbar**7
    Rc = 2.0 * np.sqrt(cbar7 / (cbar7 + 25.0**7))
    l50 = (Lbar - 50.0) ** 2
    SL = 1.0 + 0.015 * l50 / np.sqrt(20.0 + l50)
    SC = 1.0 + 0.045 * Cbar
    SH = 1.0 + 0.015 * Cbar * T
    RT = -np.sin(np.radians(2.0 * dtheta)) * Rc

    lt = dLp / SL
    ct = dCp / SC
    ht = dHp / SH
    return np.sqrt(np.maximum(lt * lt + ct * ct + ht * ht + RT * ct * ht, 0.0))


def ciede2000(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference over the pixels of two HxWx3 sRGB images in [0,1].

    Each image goes through ``srgb_to_lab`` (sRGB transfer -> linear -> XYZ (D65) -> CIELAB, D65
    white) and ``deltaE_ciede2000_lab`` (Sharma et al. 2005, kL = kC = kH = 1) per pixel; the same
    number as ``skimage.color.deltaE_ciede2000(rgb2lab(target), rgb2lab(pred)).mean()``.
    """
    p, t = _pair(pred, target)
    return _ciede2000(p, t)


def _ciede2000(p: np.ndarray, t: np.ndarray) -> float:
    return float(np.mean(deltaE_ciede2000_lab(srgb_to_lab(t), srgb_to_lab(p))))


@METRICS.register("image")
def image_metrics(preds: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Dict[str, float]:
    """L1, PSNR (dB), SSIM and CIEDE2000 over pairs of HxWx3 images in [0,1] (uint8: /255).

    Each is computed per image pair (see ``psnr``, ``ssim``, ``ciede2000``) and averaged over the
    pairs; ``l1`` is the mean absolute error over all pixels and channels of a pair. Pairs must
    match in shape; different pairs may differ.
    """
    if len(preds) != len(targets) or not preds:
        raise ValueError("need equally many predictions and targets (at least one)")
    l1s, psnrs, ssims, des = [], [], [], []
    for p, t in zip(preds, targets):
        p, t = _pair(p, t)
        l1s.append(float(np.abs(p - t).mean()))
        psnrs.append(_psnr(p, t))
        ssims.append(_ssim(p, t))
        des.append(_ciede2000(p, t))
    return {
        "l1": float(np.mean(l1s)),
        "psnr": float(np.mean(psnrs)),
        "ssim": float(np.mean(ssims)),
        "ciede2000": float(np.mean(des)),
    }


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness M of an HxWx3 image in [0,1] (uint8: /255), on the
    0..255 scale of their paper: rg = R - G, yb = (R + G) / 2 - B, M = sigma_rgyb + 0.3 mu_rgyb
    (0 for a grey image; about 30-60 for ordinary photos, 100+ for vivid ones)."""
    a = _as_image(rgb) * 255.0
    rg = a[..., 0] - a[..., 1]
    yb = 0.5 * (a[..., 0] + a[..., 1]) - a[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


AB_NORM = 128.0   # colorization's a*, b* in [-1, 1]: the document's loss is MSE on ab / 128


def colour_metrics(preds: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Dict[str, float]:
    """Colorization: ``ab_mse`` (the document's loss: MSE of a*, b* / 128 between the prediction's
    and the truth's Lab), RGB ``psnr``, and ``colourfulness`` with ``colourfulness_ratio``, the
    predictions' summed colourfulness over the truths' (a grey-washed output scores near 0, even
    when its MSE is low). Pairs of HxWx3 images in [0,1] of equal shape."""
    from .runtime.lab import rgb_to_lab
    if len(preds) != len(targets) or not preds:
        raise ValueError("need equally many predictions and targets (at least one)")
    mses, psnrs, cp, ct = [], [], [], []
    for p, t in zip(preds, targets):
        p, t = _pair(p, t)
        d = (rgb_to_lab(p)[..., 1:] - rgb_to_lab(t)[..., 1:]) / AB_NORM
        mses.append(float(np.mean(d.astype(np.float64) ** 2)))
        psnrs.append(_psnr(p, t))
        cp.append(colourfulness(p))
        ct.append(colourfulness(t))
    return {"ab_mse": float(np.mean(mses)), "psnr": float(np.mean(psnrs)),
            "colourfulness": float(np.mean(cp)),
            "colourfulness_ratio": float(np.sum(cp) / max(np.sum(ct), 1e-9))}


METRICS.register("ab", colour_metrics)


# --------------------------------------------------------------------------------------------
# Super-resolution metrics, as the SR literature reports them (BasicSR's calculate_psnr/ssim with
# test_y_channel=True and crop_border=scale).
# --------------------------------------------------------------------------------------------

def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an HxWx3 image in [0,1], in [16/255, 235/255] (MATLAB's rgb2ycbcr)."""
    a = _as_image(rgb)
    return (16.0 + a @ np.array([65.481, 128.553, 24.966])) / 255.0


def sr_metrics(preds: Sequence[np.ndarray], targets: Sequence[np.ndarray], border: int = 4) -> Dict[str, float]:
    """PSNR-Y and SSIM-Y (luma, ``border`` pixels cropped from every side), and RGB PSNR, averaged
    over pairs of HxWx3 images in [0,1] (uint8: /255) of equal shape."""
    if len(preds) != len(targets) or not preds:
        raise ValueError("need equally many predictions and targets (at least one)")
    py, sy, prgb = [], [], []
    for p, t in zip(preds, targets):
        p, t = _pair(p, t)
        b = int(border)
        if b and (p.shape[0] <= 2 * b or p.shape[1] <= 2 * b):
            raise ValueError(f"images of {p.shape[:2]} are too small to crop {b} border pixels")
        pc, tc = (p[b:-b, b:-b], t[b:-b, b:-b]) if b else (p, t)
        yp, yt = rgb_to_y(pc)[..., None], rgb_to_y(tc)[..., None]
        py.append(_psnr(yp, yt))
        sy.append(_ssim(yp, yt))
        prgb.append(_psnr(pc, tc))
    return {"psnr_y": float(np.mean(py)), "ssim_y": float(np.mean(sy)), "psnr": float(np.mean(prgb))}


# --------------------------------------------------------------------------------------------
# Image generation: mode collapse and memorisation (the document's DCGAN collapsed)
# --------------------------------------------------------------------------------------------

COLLAPSE_DIVERSITY = 0.5     # samples this much less diverse than real images: collapsed
DUPLICATE_SHARE = 0.05       # or this share of sample pairs closer than the closest real pairs
MEMORISED = 0.5              # samples this much closer to a training image than real test images are


def thumbnails(images: Sequence[np.ndarray], side: int = 16) -> np.ndarray:
    """N x (side*side*3) float64: each image box-averaged to ``side`` x ``side`` RGB in [0, 1], the
    space the collapse detector measures distances in (layout and colour, not texture)."""
    from PIL import Image
    out = []
    for im in images:
        a = np.asarray(im)
        a = a if a.dtype == np.uint8 else (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)
        out.append(np.asarray(Image.fromarray(a[..., :3]).resize((side, side), Image.BOX), np.float64).ravel() / 255.0)
    return np.stack(out)


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def generation_metrics(samples: Sequence[np.ndarray], real: Sequence[np.ndarray],
                       train: Sequence[np.ndarray] = ()) -> Dict[str, float]:
    """The mode-collapse detector, on :func:`thumbnails`:

    - ``diversity``: mean pairwise distance of the samples; ``diversity_ratio``: over the same for
      the real images (1 = as varied as real art; a collapsed GAN draws near-copies: << 1);
    - ``duplicate_share``: share of sample pairs closer than the 1st percentile of real pairs;
    - with ``train``: ``memorisation_ratio``, the samples' median distance to their nearest
      training image over the real (held-out) images' (<< 1: the generator reproduces training art);
    - ``collapsed`` / ``memorising``: 1.0 when past the thresholds above (``COLLAPSE_DIVERSITY``,
      ``DUPLICATE_SHARE``, ``MEMORISED``), else 0.0.
    """
    if len(samples) < 2 or len(real) < 2:
        raise ValueError("the collapse detector needs at least two samples and two real images")
    s, r = thumbnails(samples), thumbnails(real)
    iu_s, iu_r = np.triu_indices(len(s), 1), np.triu_indices(len(r), 1)
    ds, dr = pairwise_distances(s, s)[iu_s], pairwise_distances(r, r)[iu_r]
    out = {"diversity": float(ds.mean()), "diversity_ratio": float(ds.mean() / max(dr.mean(), 1e-12)),
           "duplicate_share": float((ds < np.percentile(dr, 1)).mean())}
    out["collapsed"] = float(out["diversity_ratio"] < COLLAPSE_DIVERSITY or out["duplicate_share"] > DUPLICATE_SHARE)
    if len(train):
        t = thumbnails(train)
        ns, nr = pairwise_distances(s, t).min(1), pairwise_distances(r, t).min(1)
        out["memorisation_ratio"] = float(np.median(ns) / max(np.median(nr), 1e-12))
        out["memorising"] = float(out["memorisation_ratio"] < MEMORISED)
    return out
