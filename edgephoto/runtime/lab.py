"""sRGB <-> CIE L*a*b* (D65), numpy only: what colorization models see (L) and predict (a*, b*).

The same formulas are in ``web/edgephoto.js`` (``rgbToLab`` / ``labToRgb``); ``tests/test_lab.py``
runs both on the same pixels. sRGB is IEC 61966-2-1 (the 0.04045 / 0.0031308 knees), XYZ uses the
D65 white (0.95047, 1, 1.08883), and the Lab cube root has a linear toe ``7.787 t + 16/116`` below
0.008856 (scikit-image's ``rgb2lab`` constants, so both agree to 1e-6).

    python -m edgephoto.runtime.lab photo.jpg      # prints the photo's L, a, b ranges
"""

from __future__ import annotations

import sys

import numpy as np

WHITE = np.array([0.95047, 1.0, 1.08883], np.float64)
# linear sRGB -> XYZ (D65): the matrix scikit-image's ``xyz_from_rgb`` uses
RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                       [0.212671, 0.715160, 0.072169],
                       [0.019334, 0.119193, 0.950227]], np.float64)
XYZ_TO_RGB = np.linalg.inv(RGB_TO_XYZ)
_EPS, _K = 0.008856, 7.787        # the toe: t <= _EPS is mapped to _K t + 16/116
_FEPS = _K * _EPS + 16.0 / 116.0  # where the inverse switches back


def _unit(rgb: np.ndarray, dtype) -> np.ndarray:
    return rgb.astype(dtype) / 255.0 if rgb.dtype == np.uint8 else rgb.astype(dtype)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((np.maximum(c, 0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1.0 / 2.4) - 0.055)


def _f(t: np.ndarray) -> np.ndarray:
    return np.where(t > _EPS, np.cbrt(t), _K * t + 16.0 / 116.0)


def _finv(t: np.ndarray) -> np.ndarray:
    return np.where(t > _FEPS, t ** 3, (t - 16.0 / 116.0) / _K)


def rgb_to_lab(rgb: np.ndarray, dtype=np.float32) -> np.ndarray:
    """uint8 (0..255) or float (0..1) ...x3 sRGB -> ...x3 Lab (L in [0, 100]), computed in ``dtype``."""
    xyz = (srgb_to_linear(_unit(rgb, dtype)) @ RGB_TO_XYZ.T.astype(dtype)) / WHITE.astype(dtype)
    f = _f(xyz)
    return np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]),
                     200.0 * (f[..., 1] - f[..., 2])], -1).astype(dtype)


def rgb_to_l(rgb: np.ndarray) -> np.ndarray:
    """uint8 or float ...x3 sRGB -> float32 ... lightness L in [0, 100] (it depends on Y alone)."""
    y = srgb_to_linear(_unit(rgb, np.float32)) @ RGB_TO_XYZ[1].astype(np.float32)
    return (116.0 * _f(y) - 16.0).astype(np.float32)


def lab_to_linear_rgb(lab: np.ndarray, dtype=np.float32) -> np.ndarray:
    """float ...x3 Lab -> ...x3 linear RGB, not clipped (outside [0, 1] = outside the sRGB gamut)."""
    lab = lab.astype(dtype)
    white, m = WHITE.astype(dtype), XYZ_TO_RGB.astype(dtype)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    xyz = _finv(np.stack([fx, fy, fz], -1)) * white
    return xyz @ m.T


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float ...x3 Lab -> float32 ...x3 sRGB in [0, 1] (out-of-gamut colours clipped)."""
    return linear_to_srgb(lab_to_linear_rgb(lab)).astype(np.float32)


def gray_rgb(rgb: np.ndarray) -> np.ndarray:
    """The photo with its colour removed (a* = b* = 0, its own L): float32 ...x3 in [0, 1]."""
    L = rgb_to_l(rgb)
    return lab_to_rgb(np.stack([L, np.zeros_like(L), np.zeros_like(L)], -1))


def main(argv=None) -> int:
    from PIL import Image
    for p in (sys.argv[1:] if argv is None else argv):
        lab = rgb_to_lab(np.asarray(Image.open(p).convert("RGB")))
        print(p, " ".join(f"{c} [{lab[..., i].min():.1f}, {lab[..., i].max():.1f}]" for i, c in enumerate("Lab")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
