"""Retouch ("image") metrics: PSNR/SSIM/CIEDE2000 against scikit-image, Sharma's CIEDE2000 test
data, sanity ordering, errors, speed, and that ``edgephoto.metrics`` stays free of torch/scipy/skimage."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from edgephoto.metrics import (
    METRICS,
    PSNR_CAP_DB,
    ciede2000,
    deltaE_ciede2000_lab,
    image_metrics,
    psnr,
    srgb_to_lab,
    ssim,
)

skm = pytest.importorskip("skimage.metrics")
skc = pytest.importorskip("skimage.color")

# Sharma, Wu & Dalal (2005), Table 1: (L1, a1, b1), (L2, a2, b2), expected dE00 (all 34 pairs)
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -1.1848, -84.8006), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -0.9009, -85.5211), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0012), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0010, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2972, 0.0000), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 1.8634, 0.5757), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def _images(kind: str, seed: int = 0, shape=(48, 64, 3)):
    rng = np.random.default_rng(seed)
    if kind == "random":
        a = rng.random(shape)
        b = np.clip(a + rng.normal(0, 0.15, shape), 0, 1)
    else:  # smooth gradients with a mild, smooth colour shift
        h, w, _ = shape
        y, x = np.mgrid[0:h, 0:w] / max(h, w)
        a = np.stack([x, y, 0.5 + 0.4 * np.sin(6 * x + 3 * y)], axis=-1)
        b = np.clip(a * np.array([1.05, 0.97, 1.0]) + 0.02 * np.cos(5 * y)[..., None], 0, 1)
    return a, b


@pytest.mark.parametrize("kind", ["random", "smooth"])
def test_psnr_ssim_match_skimage(kind):
    a, b = _images(kind)
    assert psnr(b, a) == pytest.approx(skm.peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-4)
    ref = skm.structural_similarity(a, b, channel_axis=2, data_range=1.0)
    assert ssim(b, a) == pytest.approx(ref, abs=1e-4)
    assert ssim(a, b) == pytest.approx(ref, abs=1e-4)


@pytest.mark.parametrize("kind", ["random", "smooth"])
def test_ciede2000_matches_skimage(kind):
    a, b = _images(kind, seed=3)
    ref = skc.deltaE_ciede2000(skc.rgb2lab(a), skc.rgb2lab(b)).mean()
    assert ciede2000(b, a) == pytest.approx(ref, abs=1e-3)
    np.testing.assert_allclose(srgb_to_lab(a), skc.rgb2lab(a), atol=1e-6)


def test_ciede2000_sharma_pairs():
    lab1 = np.array([p[0] for p in SHARMA])
    lab2 = np.array([p[1] for p in SHARMA])
    expected = np.array([p[2] for p in SHARMA])
    got = deltaE_ciede2000_lab(lab1, lab2)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_allclose(deltaE_ciede2000_lab(lab2, lab1), expected, atol=1e-4)  # symmetric
    # and against skimage's own implementation on the same data
    np.testing.assert_allclose(got, skc.deltaE_ciede2000(lab1, lab2), atol=1e-9)


def test_identical_images():
    a, _ = _images("random")
    m = image_metrics([a, a], [a.copy(), a.copy()])
    assert m == {"l1": 0.0, "psnr": PSNR_CAP_DB, "ssim": pytest.approx(1.0, abs=1e-12), "ciede2000": 0.0}


def test_noisier_scores_worse():
    rng = np.random.default_rng(1)
    a, _ = _images("smooth", shape=(64, 64, 3))
    little = np.clip(a + rng.normal(0, 0.02, a.shape), 0, 1)
    lots = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    good = image_metrics([little], [a])
    bad = image_metrics([lots], [a])
    assert bad["l1"] > good["l1"]
    assert bad["psnr"] < good["psnr"]
    assert bad["ssim"] < good["ssim"]
    assert bad["ciede2000"] > good["ciede2000"]


def test_uint8_is_scaled_and_registered():
    a, b = _images("random", seed=5)
    a8 = np.round(a * 255).astype(np.uint8)
    b8 = np.round(b * 255).astype(np.uint8)
    m8 = image_metrics([b8], [a8])
    mf = image_metrics([b8 / 255.0], [a8 / 255.0])
    assert m8 == pytest.approx(mf, abs=1e-12)
    assert METRICS.get("image") is image_metrics
    assert METRICS.get("alpha").__name__ == "mask_metrics"


def test_errors():
    a = np.zeros((16, 16, 3))
    with pytest.raises(ValueError, match="differ in shape"):
        image_metrics([a], [np.zeros((16, 17, 3))])
    with pytest.raises(ValueError, match="equally many"):
        image_metrics([a, a], [a])
    with pytest.raises(ValueError, match="equally many"):
        image_metrics([], [])
    with pytest.raises(ValueError, match="HxWx3"):
        image_metrics([np.zeros((16, 16))], [np.zeros((16, 16))])
    with pytest.raises(ValueError, match="differ in shape"):
        ssim(a, np.zeros((8, 16, 3)))
    with pytest.raises(ValueError, match="at least 7x7"):
        ssim(np.zeros((5, 16, 3)), np.zeros((5, 16, 3)))


def test_import_needs_only_numpy():
    code = textwrap.dedent(
        """
        import sys
        BLOCKED = ("torch", "scipy", "skimage")

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"blocked: {name}")
                return None

        sys.meta_path.insert(0, Block())
        import numpy as np
        import edgephoto.metrics as m
        a = np.random.default_rng(0).random((16, 16, 3))
        print(sorted(m.image_metrics([a], [a * 0.9])))
        assert not [k for k in sys.modules if k.split(".")[0] in BLOCKED]
        """
    )
    from conftest import ROOT

    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "ciede2000" in r.stdout
