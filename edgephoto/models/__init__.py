"""Architectures, registered by name in ``ARCHS``; build one with ``create_model("u2netp")``.

Each model file follows timm's shape: blocks, the main module, then named variants as kwargs dicts.
Importing this package imports torch: it belongs to the build stages, never to the runtime.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry

ARCHS = Registry("architecture")


def create_model(name: str, **overrides: Any):
    """Build a registered architecture by name, e.g. ``create_model("u2net")``."""
    return ARCHS.get(name)(**overrides)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


# Importing the model files registers their variants.
from . import u2net  # noqa: E402,F401
from . import pix2pixhd  # noqa: E402,F401
from . import retouchnet  # noqa: E402,F401
from . import srgan  # noqa: E402,F401
from . import unet  # noqa: E402,F401
from . import resunet  # noqa: E402,F401
from . import colornet  # noqa: E402,F401
from . import dcgan  # noqa: E402,F401
