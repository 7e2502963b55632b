"""Real photographs available without a download: the samples inside installed wheels.

scikit-image ships a handful of photos in its wheel (``skimage.data``) and scikit-learn two
(``load_sample_images``). The built-in datasets use them as backgrounds and fillers when they
are installed; otherwise generation falls back to procedural textures only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import List

import numpy as np

SKIMAGE_PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry",
                  "hubble_deep_field", "retina", "cat", "camera", "grass", "gravel", "brick"]


@lru_cache(maxsize=1)
def builtin_photos() -> List[np.ndarray]:
    """uint8 RGB photos found in installed wheels (possibly empty)."""
    out: List[np.ndarray] = []
    try:
        from skimage import data as skdata  # optional
        for name in SKIMAGE_PHOTOS:
            fn = getattr(skdata, name, None)
            if fn is None:
                continue
            try:
                img = np.asarray(fn())
            except Exception:  # a sample missing from this wheel
                continue
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            if img.dtype != np.uint8:
                img = (255 * (img.astype(np.float64) / max(img.max(), 1))).astype(np.uint8)
            out.append(np.ascontiguousarray(img[..., :3]))
    except ImportError:
        pass
    try:
        from sklearn.datasets import load_sample_images  # optional
        out.extend(np.asarray(i, dtype=np.uint8) for i in load_sample_images().images)
    except Exception:
        pass
    return out


def photo_sources() -> str:
    """A line for model cards: where the photos came from, with licences."""
    return ("scikit-image sample images (skimage.data: astronaut, rocket, hubble_deep_field: public "
            "domain; coffee, chelsea, cat, camera, retina, grass, gravel, brick: CC0; "
            "immunohistochemistry: no known copyright restrictions; per each function's docstring) "
            "and scikit-learn sample images (china.jpg, flower.jpg: CC-BY 2.0, per "
            "sklearn/datasets/images/README.txt)")
