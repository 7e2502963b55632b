"""FID / KID (edgephoto.gen_metrics), the FID Inception module and the in-house artfeat network.

No network access and no real Inception file: the Inception tests load weights saved from the
module itself; artfeat trains for a few steps on a tiny synthetic ArtBench-layout folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from edgephoto import gen_metrics as gm
from edgephoto.errors import UserError
from edgephoto.models import artfeat
from edgephoto.models import fid_inception as fi


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


# ---------------------------------------------------------------- FID
def test_fid_closed_form_gaussians():
    # N(mu1, diag a) vs N(mu2, diag b): FID = |mu1 - mu2|^2 + sum (sqrt a - sqrt b)^2
    rng = np.random.default_rng(0)
    d = 6
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    a, b = rng.uniform(0.5, 2, d), rng.uniform(0.5, 2, d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert gm.fid_from_stats(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-8)
    # a full covariance against itself, shifted: exactly the squared shift
    q = rng.normal(size=(d, d))
    s = q @ q.T + np.eye(d)
    assert gm.fid_from_stats(mu1, s, mu1 + 0.5, s) == pytest.approx(0.25 * d, rel=1e-6)


def test_fid_of_samples_zero_for_itself_and_grows_with_shift():
    rng = np.random.default_rng(1)
    d, n = 8, 4000
    x = rng.normal(size=(n, d))
    assert abs(gm.fid(x, x)) < 1e-6
    scores = []
    for shift in (0.25, 0.5, 1.0, 2.0):
        y = rng.normal(size=(n, d)) + shift
        scores.append(gm.fid(x, y))
        # sample estimate of the closed form d * shift^2 (plus a small finite-sample bias)
        assert scores[-1] == pytest.approx(d * shift ** 2, abs=0.05 + 0.05 * d * shift ** 2)
    assert scores == sorted(scores)


def test_fid_singular_covariance_and_bad_input():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(10, 32)), rng.normal(size=(10, 32)) + 1.0   # n < d: singular covariances
    v = gm.fid(x, y)
    assert np.isfinite(v) and v > 0
    with pytest.raises(UserError) as e:
        gm.fid(x, y[:, :16])
    _one_line_error(e)
    with pytest.raises(UserError):
        gm.fid(x[:1], y)


# ---------------------------------------------------------------- KID
def test_mmd2_matches_the_definition():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3)) + 0.3
    k = lambda a, b: (a @ b / 3 + 1) ** 3  # noqa: E731
    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    assert gm.mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_kid_unbiased_near_zero_for_one_distribution():
    rng = np.random.default_rng(4)
    d = 16
    # the estimator's expectation is 0: its mean over many independent small samples is ~0 (the
    # biased V-statistic, with the diagonal, would be clearly positive)
    vals = [gm.mmd2_unbiased(rng.normal(size=(20, d)), rng.normal(size=(20, d))) for _ in range(300)]
    se = np.std(vals) / np.sqrt(len(vals))
    assert abs(np.mean(vals)) < 4 * se
    shifted = gm.mmd2_unbiased(rng.normal(size=(20, d)), rng.normal(size=(20, d)) + 0.5)
    assert shifted > 10 * se

    x, y = rng.normal(size=(600, d)), rng.normal(size=(600, d))
    same_mean, same_std = gm.kid(x, y, subsets=50, subset_size=300)
    diff_mean, diff_std = gm.kid(x, rng.normal(size=(600, d)) + 0.3, subsets=50, subset_size=300)
    assert abs(same_mean) < 0.01
    assert diff_mean > 0.1 and diff_mean > 20 * abs(same_mean)
    assert same_std >= 0 and diff_std >= 0


def test_kid_subsets_deterministic_and_small_sets():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(12, 4))
    assert gm.kid(x, y, subsets=5, seed=1) == gm.kid(x, y, subsets=5, seed=1)   # subset size min(1000, 30, 12)
    assert gm.kid(x, y, subsets=5, seed=1) != gm.kid(x, y, subsets=5, seed=2)
    with pytest.raises(UserError):
        gm.kid(x[:1], y)


def test_kid_cached_kernels_equal_direct(monkeypatch):
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(50, 8)), rng.normal(size=(40, 8)) + 0.2
    cached = gm.kid(x, y, subsets=10, subset_size=30)
    monkeypatch.setattr(gm, "KERNEL_CACHE_ELEMENTS", 0)
    assert gm.kid(x, y, subsets=10, subset_size=30) == pytest.approx(cached, rel=1e-9)


# ---------------------------------------------------------------- FID Inception
@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    torch.manual_seed(0)
    model = fi.FIDInceptionV3()
    with torch.no_grad():   # non-trivial BatchNorm statistics, so a wrong load would show
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("inception") / "fid_inception_test.pth"
    state = model.state_dict()
    torch.save(state, path)
    return model, state, path


def test_fid_inception_architecture_and_parameter_count(inception_file):
    model, state, _ = inception_file
    # 23,850,960: torchvision's published 27,161,264 (inception_v3, 1000 classes, aux head) minus
    # the aux head, with the 1008-class classifier; see PARAM_COUNT's comment for the sources
    aux = (768 * 128 + 2 * 128) + (128 * 768 * 25 + 2 * 768) + (768 * 1000 + 1000)
    assert 27_161_264 - aux + 8 * 2049 == fi.PARAM_COUNT == 23_850_960
    assert fi.count_parameters(model) == fi.PARAM_COUNT
    assert fi.FEATURE_PARAM_COUNT == 21_785_568
    assert state["fc.weight"].shape == (1008, 2048)
    assert "Mixed_7c.branch3x3dbl_3b.bn.running_var" in state and "Conv2d_1a_3x3.conv.weight" in state
    assert not any(k.startswith("AuxLogits") for k in state) and not any(".bias" in k and ".conv." in k for k in state)
    assert model.Mixed_7b.pool == "avg" and model.Mixed_7c.pool == "max"
    with torch.no_grad():
        out = model(torch.rand(1, 3, 80, 80))
    assert out.shape == (1, 2048) and bool((out >= 0).all())


def test_inception_extractor_loads_state_dict_from_file(inception_file, monkeypatch):
    model, _, path = inception_file
    monkeypatch.delenv(gm.ENV_INCEPTION, raising=False)
    ex = gm.load_extractor(inception_path=path)
    assert ex.comparable_to_published and ex.dim == 2048 and ex.name == "fid-inception-v3"
    assert ex.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert ex.weights_match_published is False and "sha256" in ex.note    # not pytorch-fid's file
    rec = ex.record()
    assert rec["comparable_to_published"] is True and rec["sha256"] == ex.sha256
    for a, b in zip(model.state_dict().values(), ex.net.state_dict().values()):
        assert torch.equal(a, b)
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), rng.integers(0, 256, (48, 40), dtype=np.uint8)]
    f = gm.features(imgs, ex)
    assert f.shape == (2, 2048) and np.isfinite(f).all()
    # the env variable is the default Inception path
    monkeypatch.setenv(gm.ENV_INCEPTION, str(path))
    assert gm.load_extractor().sha256 == ex.sha256


def test_inception_file_without_batch_counters_loads(inception_file, tmp_path):
    _, state, _ = inception_file
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}   # pre-0.4.1 files
    p = tmp_path / "old.pth"
    torch.save(old, p)
    assert gm.load_extractor(inception_path=p).dim == 2048


def test_wrong_inception_files_are_one_line_user_errors(inception_file, tmp_path, monkeypatch):
    _, state, _ = inception_file
    monkeypatch.delenv(gm.ENV_INCEPTION, raising=False)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(UserError) as e:
        gm.load_extractor(inception_path=junk)
    assert "not a readable PyTorch weight file" in _one_line_error(e)

    missing = dict(state)
    del missing["Mixed_6e.branch7x7dbl_4.conv.weight"]
    p = tmp_path / "missing.pth"
    torch.save(missing, p)
    with pytest.raises(UserError) as e:
        gm.load_extractor(inception_path=p)
    msg = _one_line_error(e)
    assert "1 missing keys" in msg and "Mixed_6e.branch7x7dbl_4.conv.weight" in msg

    tv = {k: v for k, v in state.items() if not k.startswith("fc.")}   # torchvision's ImageNet layout
    tv.update({"fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000),
               "AuxLogits.fc.weight": torch.zeros(1000, 768), "AuxLogits.fc.bias": torch.zeros(1000)})
    p = tmp_path / "torchvision_like.pth"
    torch.save(tv, p)
    with pytest.raises(UserError) as e:
        gm.load_extractor(inception_path=p)
    msg = _one_line_error(e)
    assert "AuxLogits" in msg and "wrong shape" in msg and "fc." in msg

    p = tmp_path / "list.pth"
    torch.save([torch.zeros(3)], p)
    with pytest.raises(UserError) as e:
        gm.load_extractor(inception_path=p)
    _one_line_error(e)
    with pytest.raises(UserError) as e:
        gm.load_extractor(inception_path=tmp_path / "absent.pth")
    assert "no such file" in _one_line_error(e)
    with pytest.raises(UserError) as e:
        gm.load_extractor()
    assert "--inception" in _one_line_error(e)
    monkeypatch.setenv(gm.ENV_INCEPTION, str(junk))
    with pytest.raises(UserError):
        gm.load_extractor()


# ---------------------------------------------------------------- artfeat
def _stripes(rng: np.random.Generator, side: int = 64) -> Image.Image:
    im = Image.new("RGB", (side, side))
    d = ImageDraw.Draw(im)
    y = 0
    while y < side:
        h = int(rng.integers(3, 10))
        d.rectangle([0, y, side, y + h], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        y += h
    return im


def _blobs(rng: np.random.Generator, side: int = 64) -> Image.Image:
    base = rng.integers(150, 256, 3)
    im = Image.new("RGB", (side, side), tuple(int(c) for c in base))
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(2, 5))):
        x0, y0 = rng.integers(-10, side - 10, 2)
        w, h = rng.integers(12, 36, 2)
        d.ellipse([int(x0), int(y0), int(x0 + w), int(y0 + h)], fill=tuple(int(c) for c in rng.integers(0, 120, 3)))
    return im


@pytest.fixture(scope="module")
def art_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("artbench")
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("val", 4), ("test", 48)):
        for style, draw in (("stripes", _stripes), ("blobs", _blobs)):
            folder = root / split / style
            folder.mkdir(parents=True)
            for i in range(n):
                draw(rng).save(folder / f"{split}_{i:05d}.png")
    return root


def test_artfeat_network_size():
    net = artfeat.ArtFeatNet(n_styles=10)
    assert artfeat.count_parameters(net) < 1_000_000
    with torch.no_grad():
        f, s, r = net(torch.zeros(2, 3, 64, 64))
    assert f.shape == (2, 256) and s.shape == (2, 10) and r.shape == (2, 4)


def test_artfeat_trains_and_separates_folders(art_root, tmp_path, monkeypatch):
    monkeypatch.delenv(gm.ENV_INCEPTION, raising=False)
    ckpt = tmp_path / "artfeat.pt"
    seen = []
    info = artfeat.train(art_root, ckpt, steps=10, batch=16, seed=0, progress=lambda s, n, l: seen.append(l))
    assert ckpt.is_file() and len(seen) == 10 and np.isfinite(seen[-1]["loss"])
    assert info["train_images"] == 24 and "val_style_acc" in info and 0 <= info["train_rotation_acc"] <= 1

    ex = gm.load_extractor(artfeat_path=ckpt)
    assert ex.name == "artfeat" and ex.dim == 256 and not ex.comparable_to_published
    assert ex.sha256 == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert "not comparable" in ex.record()["note"]

    stripes = gm.load_folder(art_root / "test" / "stripes")
    blobs = gm.load_folder(art_root / "test" / "blobs")
    fs, fb = gm.features(stripes, ex), gm.features(blobs, ex)
    assert fs.shape == (48, 256)
    same_s, _ = gm.kid(fs[:24], fs[24:], subsets=20)
    same_b, _ = gm.kid(fb[:24], fb[24:], subsets=20)
    different, _ = gm.kid(fs, fb, subsets=20)
    # (about 10-40x on seeds 0-5 after 10 steps)
    assert different > 0 and different > 5 * max(abs(same_s), abs(same_b))

    rep = gm.evaluate(stripes, blobs, ex, subsets=20)
    assert rep["fid"] is None and rep["feature_net"] == "artfeat" and rep["comparable_to_published"] is False
    assert rep["kid"] == pytest.approx(different)


def test_bad_artfeat_checkpoint_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.delenv(gm.ENV_INCEPTION, raising=False)
    p = tmp_path / "bad.pt"
    p.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError) as e:
        gm.load_extractor(artfeat_path=p)
    _one_line_error(e)
    torch.save({"format": artfeat.FORMAT, "styles": ["a"], "state_dict": {"x": torch.zeros(1)}}, p)
    with pytest.raises(UserError) as e:
        gm.load_extractor(artfeat_path=p)
    assert "do not fit" in _one_line_error(e)
    with pytest.raises(UserError):
        artfeat.train(tmp_path / "nowhere", tmp_path / "o.pt", steps=1)
