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
