"""Shared fixtures: a tiny generated dataset (deterministic) in a session temp dir."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "2")
# tests never read a developer's fetch cache (sources/): built-in data is the generated scenes, as
# on CI. Tests of the real-photo recipes point EDGEPHOTO_SOURCES at fixtures or at the real cache.
REAL_SOURCES = Path(os.environ.get("EDGEPHOTO_SOURCES", ROOT / "sources"))
os.environ["EDGEPHOTO_SOURCES"] = str(ROOT / "tests" / ".no-sources")


@pytest.fixture(scope="session")
def tiny_matte_data(tmp_path_factory) -> Path:
    from edgephoto.data.synthetic_matte import generate
    root = tmp_path_factory.mktemp("matte_data")
    generate(root, seed=0, sizes={"train": 12, "val": 4, "test": 4})
    return root


@pytest.fixture(scope="session")
def tiny_retouch_data(tmp_path_factory) -> Path:
    from edgephoto.data.synthetic_retouch import generate
    root = tmp_path_factory.mktemp("retouch_data")
    generate(root, seed=0, sizes={"train": 8, "val": 4, "test": 4})
    return root
