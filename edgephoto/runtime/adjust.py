"""Automatic and manual photo adjustments: brightness, contrast, colour balance (no network).

Each adjustment takes a number or ``"auto"``; at most three at once (the original system's limit),
applied in the order colour balance -> brightness -> contrast, on sRGB values in [0, 1]:

- **colour balance** ``v`` in [-100, 100] is a warm/cool shift: red gain ``1 + v/200``, blue gain
  ``1 - v/200``. ``auto`` is the gray-world method: each channel is scaled so that its mean equals
  the mean of the three channel means (gains clamped to [0.5, 2]).
- **brightness** ``v`` in [-100, 100] is an exposure gain ``2 ** (v/100)`` (one stop at +-100).
  ``auto`` targets a mean luma (BT.601) of 0.46: gain ``0.46 / mean_luma``, clamped to one stop.
- **contrast** ``v`` in [-100, 100] scales around mid-gray: ``(x - 0.5) * (1 + v/100) + 0.5``.
  ``auto`` is a percentile levels stretch: the 1st and 99th percentiles of luma map to 0 and 1
  (no stretch when they are closer than 0.02 — a flat image stays flat).

The same formulas are meant for the web page's JavaScript; keep the constants here in one place.
Run from the command line: ``edgephoto adjust in.jpg -o out.jpg --brightness auto --contrast 20``.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple, Union

import numpy as np

from ..errors import UserError

Value = Union[float, str]
ORDER = ("color", "brightness", "contrast")
RANGE = (-100.0, 100.0)
MAX_AT_ONCE = 3
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
AUTO_BRIGHTNESS_TARGET = 0.46
AUTO_CONTRAST_PERCENTILES = (1.0, 99.0)
AUTO_CONTRAST_MIN_SPAN = 0.02
GAIN_LIMITS = (0.5, 2.0)


def parse_value(name: str, value: Value) -> Value:
    """``"auto"`` or a number within [-100, 100]; anything else is a one-line UserError."""
    if isinstance(value, str):
        if value.strip().lower() == "auto":
            return "auto"
        try:
            value = float(value)
        except ValueError:
            raise UserError(f"{name} must be a number in [-100, 100] or 'auto', got '{value}'") from None
    v = float(value)
    if not (RANGE[0] <= v <= RANGE[1]) or v != v:
        raise UserError(f"{name} {v:g} is out of range: use a number in [-100, 100] or 'auto'")
    return v


def _luma(x: np.ndarray) -> np.ndarray:
    return x @ LUMA


def color_balance(x: np.ndarray, value: Value) -> Tuple[np.ndarray, Dict[str, object]]:
    if value == "auto":
        means = x.reshape(-1, 3).mean(axis=0)
        gains = np.clip(means.mean() / np.maximum(means, 1e-6), *GAIN_LIMITS)
    else:
        gains = np.array([1 + value / 200.0, 1.0, 1 - value / 200.0], np.float32)
    return x * gains.astype(np.float32), {"gains": [round(float(g), 4) for g in gains]}


def brightness(x: np.ndarray, value: Value) -> Tuple[np.ndarray, Dict[str, object]]:
    if value == "auto":
        gain = float(np.clip(AUTO_BRIGHTNESS_TARGET / max(float(_luma(x).mean()), 1e-6), *GAIN_LIMITS))
    else:
        gain = float(2.0 ** (value / 100.0))
    return x * gain, {"gain": round(gain, 4)}


def contrast(x: np.ndarray, value: Value) -> Tuple[np.ndarray, Dict[str, object]]:
    if value == "auto":
        lo, hi = np.percentile(_luma(np.clip(x, 0, 1)), AUTO_CONTRAST_PERCENTILES)
        if hi - lo < AUTO_CONTRAST_MIN_SPAN:
            return x, {"low": float(lo), "high": float(hi), "stretched": False}
        return (x - lo) / (hi - lo), {"low": round(float(lo), 4), "high": round(float(hi), 4)}
    k = 1 + value / 100.0
    return (x - 0.5) * k + 0.5, {"factor": round(k, 4)}


OPS = {"color": color_balance, "brightness": brightness, "contrast": contrast}


def adjust(rgb: np.ndarray, adjustments: Union[Dict[str, Value], Sequence[Tuple[str, Value]]]
           ) -> Tuple[np.ndarray, List[Dict[str, object]]]:
    """Apply up to three adjustments to an HxWx3 uint8 image; returns (uint8 image, what was done)."""
    items = list(adjustments.items() if isinstance(adjustments, dict) else adjustments)
    if not items:
        raise UserError("no adjustment given: use brightness, contrast and/or color (a value or 'auto')")
    if len(items) > MAX_AT_ONCE:
        raise UserError(f"at most {MAX_AT_ONCE} adjustments at once, got {len(items)}")
    names = [n for n, _ in items]
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise UserError(f"unknown adjustment '{unknown[0]}' (known: {', '.join(ORDER)})")
    if len(set(names)) != len(names):
        raise UserError("each adjustment may be given once")
    wanted = {n: parse_value(n, v) for n, v in items}
    x = np.asarray(rgb, np.float32) / 255.0
    if x.ndim != 3 or x.shape[2] != 3:
        raise UserError("adjustments need an RGB image")
    done = []
    for name in ORDER:
        if name in wanted:
            x, info = OPS[name](x, wanted[name])
            done.append({"name": name, "value": wanted[name], **info})
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8), done
