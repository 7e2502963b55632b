"""Training profiles: how long and how big each role trains. Data, not code.

``demo`` finishes the whole pipeline on 2 CPU cores in minutes (quality is modest);
``starter`` is what the committed starter weights were trained with; ``paper`` follows the
published recipe (Adam 1e-4 -> 1e-5, at 320x320) for users with a GPU.
"""

from __future__ import annotations

from typing import Any, Dict

PROFILES: Dict[str, Dict[str, Dict[str, Any]]] = {
    "smoke": {  # tests: seconds
        "teacher": dict(steps=4, batch=2, lr=1e-3, size=64),
        "student": dict(steps=4, batch=2, lr=1e-3, size=64),
        "distill": dict(steps=4, batch=2, lr=1e-3, size=64),
    },
    "demo": {   # `make demo`: every task end to end in under 30 minutes on 2 cores
        "teacher": dict(steps=100, batch=8, lr=2e-3),
        "student": dict(steps=100, batch=8, lr=2e-3),
        "distill": dict(steps=100, batch=8, lr=2e-3),
    },
    "starter": {
        "teacher": dict(steps=1000, batch=8, lr=2e-3),
        "student": dict(steps=2000, batch=8, lr=2e-3),
        "distill": dict(steps=2000, batch=8, lr=2e-3),
    },
    "paper": {
        "teacher": dict(steps=400000, batch=12, lr=1e-4, size=320, arch="u2net"),
        "student": dict(steps=400000, batch=12, lr=1e-4, size=320, arch="u2netp"),
        "distill": dict(steps=400000, batch=12, lr=1e-4, size=320, arch="u2netp"),
    },
}


def profile(name: str, role: str, task=None) -> Dict[str, Any]:
    """The profile's settings for ``role``, with the task's own overrides (``Task.profiles``) on top."""
    if name not in PROFILES:
        from ..errors import UserError
        raise UserError(f"unknown profile '{name}' (known: {', '.join(PROFILES)})")
    out = dict(PROFILES[name][role])
    out.update(((getattr(task, "profiles", None) or {}).get(name) or {}).get(role) or {})
    return out
