"""Built-in data and folder readers."""

import numpy as np
import pytest
from PIL import Image

from edgephoto.data.folders import DatasetError, PairFolder, find_split
from edgephoto.data.synthetic_matte import make_sample


def test_generation_is_deterministic():
    a_img, a_mask = make_sample(3, "train", 7)
    b_img, b_mask = make_sample(3, "train", 7)
    assert np.array_equal(a_img, b_img) and np.array_equal(a_mask, b_mask)
    c_img, _ = make_sample(3, "test", 7)
    assert not np.array_equal(a_img, c_img) if a_img.shape == c_img.shape else True


def test_masks_are_exact_and_varied():
    fractions, soft = [], 0
    for i in range(24):
        img, mask = make_sample(0, "train", i)
        assert img.shape[:2] == mask.shape and img.dtype == np.uint8
        fractions.append((mask > 127).mean())
        soft += ((mask > 10) & (mask < 245)).any()
    assert min(fractions) > 0.005, "every scene has an object"
    assert max(fractions) < 0.95
    assert soft == 24, "edges are anti-aliased or feathered"
    assert np.std(fractions) > 0.03, "object sizes vary"


def test_duts_layout_written(tiny_matte_data):
    pairs = find_split(tiny_matte_data, "train")
    assert len(pairs) == 12
    ip, mp = pairs[0]
    assert ip.stem == mp.stem and ip.suffix == ".jpg" and mp.suffix == ".png"
    assert Image.open(ip).size == Image.open(mp).size


def test_pair_folder_reports_missing_targets(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "gt").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "img" / "a.jpg")
    with pytest.raises(DatasetError, match="no target"):
        PairFolder(tmp_path / "img", tmp_path / "gt")


def test_deblur_data_records_each_samples_blur(tmp_path):
    """The blur a sample got is replayed into blur.json (metrics can be split by blur type); box 14
    really is the document's 14x14 mean."""
    import json
    from edgephoto.data import synthetic_deblur
    from edgephoto.data.blur import BLURS, blur, convolve
    synthetic_deblur.generate(tmp_path, sizes={"test": 6}, workers=1)
    index = json.loads((tmp_path / "test" / "blur.json").read_text())
    assert sorted(index) == [f"test_{i:05d}" for i in range(6)] and set(index.values()) <= set(BLURS.names())
    for i in range(6):
        rng = synthetic_deblur._rng(0, "test", i)
        assert blur(np.zeros((16, 16, 3), np.uint8), rng)[1] == index[f"test_{i:05d}"]
    flat = np.full((20, 20, 3), 200.0)
    assert np.allclose(convolve(flat, BLURS.get("box14")(None)), 200.0)


def test_sr_degradations_make_a_quarter_size_input():
    from edgephoto.data.sr_degrade import DEGRADATIONS
    hr = (np.random.RandomState(0).rand(64, 48, 3) * 255).astype(np.uint8)
    for name in DEGRADATIONS.names():
        a = DEGRADATIONS.get(name)(hr, 4, np.random.default_rng(3))
        b = DEGRADATIONS.get(name)(hr, 4, np.random.default_rng(3))
        assert a.shape == (16, 12, 3) and a.dtype == np.uint8 and np.array_equal(a, b), name


def test_colorize_fallback_has_no_grey_truths():
    """scikit-image's grey photos (camera, moon, ...) are redrawn: on a grey truth the grey input
    scores a capped 100 dB PSNR, which swamped the split's mean and steered calibration to grey."""
    from edgephoto.data.real_colorize import MIN_COLOURFULNESS, colour_sample
    from edgephoto.data.synthetic_colorize import make_pair
    from edgephoto.metrics import colourfulness
    for i in range(30):
        grey, colour = make_pair(0, "val", i)
        assert grey.shape == colour.shape[:2] and colourfulness(colour) >= MIN_COLOURFULNESS, i
    with pytest.raises(ValueError, match="no colour photos"):
        colour_sample(lambda _: np.full((8, 8, 3), 128, np.uint8))
