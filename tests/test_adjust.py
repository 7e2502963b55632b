"""Automatic adjustments: each auto method does what its docstring says; bad values are one line."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgephoto.cli import main
from edgephoto.errors import UserError
from edgephoto.runtime.adjust import AUTO_BRIGHTNESS_TARGET, LUMA, adjust


def _photo(seed=0, h=64, w=80):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.2, 0.8, (h, w, 1)) * np.ones(3)
    return base


def _u8(x):
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def test_auto_brightness_reaches_the_target_luma():
    dark = _u8(_photo() * 0.6)
    out, done = adjust(dark, {"brightness": "auto"})
    assert abs((out / 255.0 @ LUMA).mean() - AUTO_BRIGHTNESS_TARGET) < 0.02
    assert done[0]["gain"] > 1.4
    # a very dark photo gets at most one stop, not a blown-out noise image
    assert adjust(_u8(_photo() * 0.1), {"brightness": "auto"})[1][0]["gain"] == 2.0


def test_auto_contrast_stretches_percentiles_and_leaves_flat_images_alone():
    dull = _u8(0.4 + 0.2 * _photo())
    out, _ = adjust(dull, {"contrast": "auto"})
    luma = out / 255.0 @ LUMA
    assert np.percentile(luma, 1) < 0.02 and np.percentile(luma, 99) > 0.98
    flat = np.full((16, 16, 3), 90, np.uint8)
    assert np.array_equal(adjust(flat, {"contrast": "auto"})[0], flat)


def test_auto_color_balance_removes_a_cast():
    cast = _u8(_photo() * np.array([1.0, 0.8, 0.55]))
    out, _ = adjust(cast, {"color": "auto"})
    means = out.reshape(-1, 3).mean(axis=0)
    assert means.max() - means.min() < 2.0
    warm, _ = adjust(_u8(_photo()), {"color": 50})
    assert warm[..., 0].mean() > warm[..., 2].mean() + 20


def test_manual_values_and_identity():
    img = _u8(_photo())
    assert np.array_equal(adjust(img, {"brightness": 0, "contrast": 0, "color": 0})[0], img)
    brighter, _ = adjust(img, {"brightness": 100})
    assert brighter.mean() > 1.6 * img.mean()


@pytest.mark.parametrize("adj,msg", [
    ({"brightness": 101}, "out of range"),
    ({"contrast": "loud"}, "must be a number"),
    ({"saturation": 10}, "unknown adjustment"),
    ([("brightness", 1), ("contrast", 1), ("color", 1), ("brightness", 2)], "at most 3"),
    ([("brightness", 1), ("brightness", 2)], "once"),
    ({}, "no adjustment"),
])
def test_bad_requests_are_clear(adj, msg):
    with pytest.raises(UserError, match=msg):
        adjust(np.zeros((4, 4, 3), np.uint8), adj)


def test_cli_adjust(tmp_path, capsys):
    src = tmp_path / "in.png"
    Image.fromarray(_u8(_photo() * 0.3)).save(src)
    out = tmp_path / "out.jpg"
    assert main(["adjust", str(src), "-o", str(out), "--brightness", "auto", "--contrast", "10"]) == 0
    assert Image.open(out).size == (80, 64)
    assert main(["adjust", str(src), "-o", str(out), "--color", "500"]) == 2
    assert "out of range" in capsys.readouterr().err


WEB = Path(__file__).resolve().parents[1] / "web"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
@pytest.mark.parametrize("adj", [{"brightness": "auto", "contrast": "auto", "color": "auto"},
                                 {"brightness": -40, "contrast": 35, "color": 60},
                                 {"contrast": "auto"}])
def test_javascript_matches_python(tmp_path, adj):
    rng = np.random.default_rng(1)
    img = _u8(_photo(2, 48, 40) * np.array([1.0, 0.85, 0.6]) + rng.normal(0, 0.05, (48, 40, 3)))
    (tmp_path / "in.rgb").write_bytes(img.tobytes())
    r = subprocess.run(["node", str(WEB / "adjust-cli.mjs"), str(tmp_path / "in.rgb"), "40", "48",
                        str(tmp_path / "out.rgb"), json.dumps(adj)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    js = np.frombuffer((tmp_path / "out.rgb").read_bytes(), np.uint8).reshape(48, 40, 3)
    py, _ = adjust(img, adj)
    diff = np.abs(js.astype(int) - py.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (diff.max(), (diff > 0).mean())


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_rejects_out_of_range(tmp_path):
    (tmp_path / "in.rgb").write_bytes(bytes(12))
    r = subprocess.run(["node", str(WEB / "adjust-cli.mjs"), str(tmp_path / "in.rgb"), "2", "2",
                        str(tmp_path / "out.rgb"), '{"brightness": 101}'], capture_output=True, text=True)
    assert r.returncode == 2 and "out of range" in r.stderr
