"""Tiled inference (mode ``tile``/``pad``) and the ``image`` output kind: the retouch task's path.

The fixture model (``runtime_fixtures.retouch_net``) is a random-init, mostly-identity conv net with
zero padding, a stride-2 stage and a ~15 px receptive field, exported at 64x64: each tile's zero-padded
edges change its output there by up to ~3/255, so a tile grid would show unless the overlaps are
cross-faded. The numbers the bounds below are set against (measured with this fixture, in 1/255):

- gradient, overlap 32: max |second difference| within 2 px of tile edges 0.08 (horizontal) /
  0.07 (vertical), in tile interiors 0.008 / 0.006; overlap 0: 4.1 / 3.6 (the bound: interior + 1);
- tiled vs. the same torch net on the whole image (gradient, random noise): max 0.19 / 0.17,
  mean 0.007 / 0.007 (overlap 0: max 3.3 / 3.2, mean 0.063 / 0.062; bounds 0.5 and 0.02);
- flat image, 8 px or more from the image border: max - min 0.22 (overlap 0: 3.7; bound 2). Nearer
  the border the net's own zero padding moves it by up to 3.7, exactly as on a whole image.

A 4 px ramp instead of the full overlap passes the seam check (0.6) but not the whole-image one
(max 0.97, mean 0.037); plain averaging or a ramp on one side only fails both.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from runtime_fixtures import make_image_onnx_dir, make_onnx_dir, retouch_net

TILE = 64
LEVEL = 1.0 / 255.0
MARGIN = 8          # beyond the net's receptive field from the image border (its own zero padding)


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist")
    make_image_onnx_dir(d, size=TILE, overlap=32)
    return d


@pytest.fixture(scope="module")
def model(dist):
    from edgephoto import runtime
    return runtime.load(runtime.find_model("retouch", dist), threads=1)


@pytest.fixture(scope="module")
def bad_model(tmp_path_factory):
    """A deliberately bad manifest: tiles that abut (overlap 0), so nothing is cross-faded."""
    from edgephoto import runtime
    d = make_image_onnx_dir(tmp_path_factory.mktemp("bad"), size=TILE, overlap=0)
    return runtime.load(d, threads=1)


def _gradient(h, w, axis=1):
    """Exactly one 8-bit level per pixel along ``axis`` (no quantization steps: d2 of the input is 0)."""
    n = w if axis == 1 else h
    g = (128 - n // 2 + np.arange(n)).astype(np.uint8)
    r, b = (g[None, :], g[None, ::-1]) if axis == 1 else (g[:, None], g[::-1, None])
    return np.stack(np.broadcast_arrays(r, np.full((h, w), 128, np.uint8), b), axis=-1).copy()


def _reference(model, rgb):
    """The fixture's torch net on the whole image at once (what tiling should reproduce)."""
    import torch

    from edgephoto.runtime import normalize
    x = torch.from_numpy(normalize(rgb, model.spec.input)).permute(2, 0, 1)[None]
    with torch.no_grad():
        return retouch_net(seed=0)(x)[0].permute(1, 2, 0).numpy()


def _seam(out, model, axis):
    """(max |d2| within 2 px of a tile edge, max |d2| in tile interiors), in 8-bit levels.

    d2 is the second difference along ``axis`` (the gradient's direction); tile edges are where a tile
    starts or ends inside the image; interiors are more than ``MARGIN`` px from any edge and from the
    image border.
    """
    from edgephoto.runtime.model import tile_params, tile_starts
    (t, _), (ov, _) = tile_params(model.spec)
    d2 = np.abs(np.diff(out, n=2, axis=axis))
    d2 = d2 if axis == 1 else d2.transpose(1, 0, 2)
    n = out.shape[axis]
    starts = tile_starts(n, t, ov)
    edges = np.array(sorted({s for s in starts if s > 0} | {s + t for s in starts if s + t < n}), float)
    centre = np.arange(1, n - 1)                            # d2[:, i] is centred on pixel i + 1
    dist = np.abs(centre[:, None] - (edges[None] - 0.5)).min(axis=1)   # an edge lies between pixels
    near = dist <= 2.5
    inner = (dist > MARGIN) & (centre >= MARGIN) & (centre < n - MARGIN)
    assert near.any() and inner.any()
    return float(d2[:, near].max()) / LEVEL, float(d2[:, inner].max()) / LEVEL


def _flat_range(out):
    core = out[MARGIN:-MARGIN, MARGIN:-MARGIN]
    return (core.max(axis=(0, 1)) - core.min(axis=(0, 1))) / LEVEL


# ------------------------------------------------------------------------ shapes and kinds
@pytest.mark.parametrize("h,w", [(64, 64), (37, 100), (130, 200), (20, 20), (200, 33), (1, 5), (65, 129)])
def test_output_is_the_photo_size(model, h, w):
    rng = np.random.default_rng(h * 1000 + w)
    res = model.predict(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    img = res.outputs["image"]
    assert img.shape == (h, w, 3) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0
    assert model.primary_output == "image" and model.kind == "image"
    pil = res.image()
    assert pil.mode == "RGB" and pil.size == (w, h)


def test_tile_mode_returns_full_resolution_maps(model):
    from edgephoto import runtime
    from edgephoto.runtime.imageio import from_array
    photo = from_array(_gradient(130, 200))
    raw = runtime.MODES.get("tile")(model, photo)
    assert len(raw) == 1 and raw[0].shape == (130, 200, 3) and raw[0].dtype == np.float32
    assert runtime.MODES.get("pad") is runtime.MODES.get("tile")      # one implementation


def test_mostly_identity_and_rgba_input_keeps_alpha(model):
    rgb = _gradient(50, 90)
    alpha = np.full((50, 90), 255, np.uint8)
    alpha[:10, :20] = 0
    res = model.predict(np.dstack([rgb, alpha]))
    assert np.abs(res.outputs["image"] - rgb / 255.0).max() < 0.1 + 1e-6   # |0.1 * tanh| <= 0.1
    im = res.image()
    assert im.mode == "RGBA" and im.size == (90, 50)
    assert (np.asarray(im)[..., 3] == alpha).all()


def test_image_kind_in_resize_mode_is_resized_to_the_photo(dist, tmp_path):
    from edgephoto import runtime
    d = _copy_with(dist, tmp_path / "resize", {"mode": "resize"})
    m = runtime.load(d, threads=1)
    res = m.predict(_gradient(90, 150))
    assert res.outputs["image"].shape == (90, 150, 3) and res.image().size == (150, 90)


def _copy_with(dist, dest: Path, inference: dict) -> Path:
    from edgephoto import runtime
    shutil.copytree(runtime.find_model("retouch", dist), dest)
    m = json.loads((dest / "manifest.json").read_text())
    m["inference"] = inference
    (dest / "manifest.json").write_text(json.dumps(m))
    return dest


def test_pad_mode_and_default_overlap_match_tile(model, dist, tmp_path):
    from edgephoto import runtime
    img = _gradient(100, 150)
    want = model.predict(img).outputs["image"]
    for name, inf in [("pad", {"mode": "pad", "tile": TILE, "overlap": 32}),
                      ("default", {"mode": "tile"})]:             # overlap: default min(32, tile // 2)
        m = runtime.load(_copy_with(dist, tmp_path / name, inf), threads=1)
        assert np.array_equal(m.predict(img).outputs["image"], want), name


@pytest.mark.parametrize("inference,msg", [
    ({"mode": "tile", "tile": 32}, "differs from input.size"),
    ({"mode": "tile", "overlap": 64}, "must be in [0, 64)"),
    ({"mode": "tile", "overlap": -1}, "inference.overlap is -1; the minimum is 0"),
    ({"mode": "tile", "overlap": "wide"}, "inference.overlap must be array or integer or null"),
    ({"mode": "mosaic"}, 'inference.mode is "mosaic"; expected one of: pad, resize, sample, tile'),
])
def test_bad_tile_manifests_fail_at_load(dist, tmp_path, inference, msg):
    from edgephoto import runtime
    from edgephoto.registry import RegistryError
    d = _copy_with(dist, tmp_path / "m", inference)
    with pytest.raises((runtime.ManifestError, RegistryError)) as e:
        runtime.load(d, threads=1)
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_tile_weights_cross_fade_and_keep_borders():
    from edgephoto.runtime.model import tile_starts, tile_weights
    assert tile_starts(200, 64, 32) == [0, 32, 64, 96, 128, 136]
    assert tile_starts(64, 64, 32) == [0] and tile_starts(20, 64, 32) == [0]
    assert tile_starts(200, 64, 0) == [0, 64, 128, 136]
    for n, ov in [(200, 32), (121, 8), (65, 32), (130, 0), (1000, 63)]:
        starts = tile_starts(n, 64, ov)
        ws = tile_weights(starts, 64)
        assert starts[-1] == n - 64 and all(b - a <= 64 - ov for a, b in zip(starts, starts[1:]))
        assert all(w.min() > 0 for w in ws)
        assert ws[0][0] == 1.0 and ws[-1][-1] == 1.0            # image borders: full weight
        total = np.zeros(n)
        for s, w in zip(starts, ws):
            total[s:s + 64] += w
        assert total.min() >= 1.0 - 1e-6
    # two tiles overlapping by L: a linear cross-fade that sums to exactly 1
    a, b = tile_weights([0, 48], 64)
    assert np.allclose(a[48:] + b[:16], 1.0) and np.all(np.diff(a[48:]) < 0) and np.all(np.diff(b[:16]) > 0)


# ------------------------------------------------------------------------------ no seams
def test_flat_image_stays_flat(model):
    flat = np.zeros((130, 200, 3), np.uint8) + np.array([90, 140, 200], np.uint8)
    out = model.predict(flat).outputs["image"]
    assert (_flat_range(out) < 2.0).all(), _flat_range(out)
    # the image border differs only as the net itself makes it (its own zero padding): as on a whole image
    assert np.abs(out - _reference(model, flat)).max() < 0.5 * LEVEL


@pytest.mark.parametrize("axis", [1, 0])
def test_gradient_has_no_seams(model, axis):
    img = _gradient(130, 200) if axis == 1 else _gradient(200, 130, axis=0)
    out = model.predict(img).outputs["image"]
    at_edges, interior = _seam(out, model, axis)
    assert at_edges <= interior + 1.0, (at_edges, interior)


def test_tiles_match_the_whole_image(model):
    """Tiled output vs. the torch net run on the whole 130x200 image at once.

    Differences come only from each tile's zero-padded edges, down-weighted by the ramps, and from
    float32 ONNX vs. torch (~1e-7). Measured: max 0.19/255, mean 0.007/255. Bounds: max < 0.5/255
    (the 8-bit result rounds to within one level of the whole-image one everywhere) and
    mean < 0.02/255 (about 3x the measurement; overlap 0 gives 0.06).
    """
    for img in (_gradient(130, 200), np.random.default_rng(0).integers(0, 256, (130, 200, 3), dtype=np.uint8)):
        out = model.predict(img).outputs["image"]
        diff = np.abs(out - _reference(model, img))
        assert diff.max() < 0.5 * LEVEL and diff.mean() < 0.02 * LEVEL, (diff.max() / LEVEL, diff.mean() / LEVEL)


def test_the_seam_checks_catch_unblended_tiles(bad_model):
    """With overlap 0 the tiles abut: each check above fails, so they can fail."""
    img = _gradient(130, 200)
    out = bad_model.predict(img).outputs["image"]
    at_edges, interior = _seam(out, bad_model, 1)
    assert at_edges > interior + 2.0, (at_edges, interior)
    diff = np.abs(out - _reference(bad_model, img))
    assert diff.max() > 0.5 * LEVEL and diff.mean() > 0.02 * LEVEL
    flat = np.zeros((130, 200, 3), np.uint8) + np.array([90, 140, 200], np.uint8)
    assert (_flat_range(bad_model.predict(flat).outputs["image"]) > 2.0).any()
    vout = bad_model.predict(_gradient(200, 130, axis=0)).outputs["image"]
    at_edges, interior = _seam(vout, bad_model, 0)
    assert at_edges > interior + 2.0, (at_edges, interior)


# ------------------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    t = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(1)
    base = np.clip(_gradient(90, 150).astype(int) + rng.integers(-20, 21, (90, 150, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(base).save(t / "photo.jpg", quality=95)
    rgba = np.dstack([base, np.full((90, 150), 255, np.uint8)])
    rgba[:20, :30, 3] = 0
    Image.fromarray(rgba).save(t / "rgba.png")
    return t


def test_cli_run_retouch_writes_a_jpeg(dist, photos, tmp_path, capsys):
    from edgephoto.cli import main
    out = tmp_path / "out.jpg"
    assert main(["run", "retouch", str(photos / "photo.jpg"), "-o", str(out), "--dist", str(dist),
                 "--threads", "1"]) == 0
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.mode == "RGB" and im.size == (150, 90)
    assert "-> " + str(out) in capsys.readouterr().err
    out2 = tmp_path / "adjusted.jpg"
    assert main(["run", "retouch", str(photos / "photo.jpg"), "-o", str(out2), "--dist", str(dist),
                 "--threads", "1", "--brightness", "auto", "--contrast", "10"]) == 0
    with Image.open(out2) as im:
        assert im.format == "JPEG" and im.mode == "RGB" and im.size == (150, 90)
    assert "brightness auto" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adjusted.jpg", "out.jpg"]   # no temp files


def test_cli_adjusts_the_model_output(dist, model, photos, tmp_path):
    from edgephoto.cli import main
    from edgephoto.runtime.adjust import adjust
    out = tmp_path / "adj.png"
    assert main(["run", "retouch", str(photos / "photo.jpg"), "-o", str(out), "--dist", str(dist), "-q",
                 "--threads", "1", "--brightness", "auto", "--contrast", "10", "--color", "-20"]) == 0
    res = model.predict(photos / "photo.jpg")
    want, _ = adjust(np.asarray(res.image()), {"brightness": "auto", "contrast": 10, "color": -20})
    with Image.open(out) as im:
        assert np.array_equal(np.asarray(im), want)
    # an RGBA input keeps its alpha in a PNG output
    out = tmp_path / "rgba_out.png"
    assert main(["run", "retouch", str(photos / "rgba.png"), "-o", str(out), "--dist", str(dist), "-q"]) == 0
    with Image.open(out) as im:
        assert im.mode == "RGBA" and (np.asarray(im)[:20, :30, 3] == 0).all()


@pytest.mark.parametrize("extra,msg", [
    (["--mask", "m.png"], "--mask needs a model with a mask output; 'retouch' gives an 'image' output"),
    (["--brightness", "500"], "brightness 500 is out of range"),
    (["--contrast", "lots"], "contrast must be a number in [-100, 100] or 'auto'"),
])
def test_cli_refusals_are_one_line(dist, photos, tmp_path, capsys, extra, msg, monkeypatch):
    from edgephoto.cli import main
    monkeypatch.chdir(tmp_path)
    rc = main(["run", "retouch", str(photos / "photo.jpg"), "-o", "out.jpg", "--dist", str(dist), *extra])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 2 and len(err) == 1 and err[0].startswith("edgephoto run: error:") and msg in err[0], err
    assert not list(tmp_path.iterdir())                       # nothing written


def test_cli_adjusts_a_matte_cutout_before_compositing(tmp_path, photos):
    from edgephoto.cli import main
    d = tmp_path / "dist"
    make_onnx_dir(d, size=32)
    plain, bright = tmp_path / "plain.png", tmp_path / "bright.png"
    args = ["run", "matte", str(photos / "photo.jpg"), "--dist", str(d), "-q", "--threads", "1"]
    assert main([*args, "-o", str(plain)]) == 0
    assert main([*args, "-o", str(bright), "--brightness", "50"]) == 0
    with Image.open(plain) as a, Image.open(bright) as b:
        a, b = np.asarray(a).astype(int), np.asarray(b).astype(int)
    assert a.shape == b.shape == (90, 150, 4)
    assert np.array_equal(a[..., 3], b[..., 3])                 # same mask
    assert b[..., :3].mean() > a[..., :3].mean() + 10           # brighter RGB


# ------------------------------------------------------------------ no torch / tensorflow
def test_tiled_retouch_without_torch(dist, photos, tmp_path):
    import os
    import subprocess
    import sys
    import textwrap

    import numpy
    from edgephoto import runtime
    site = Path(numpy.__file__).resolve().parents[1]
    shim = tmp_path / "site"
    shim.mkdir()
    for name in ["numpy", "numpy.libs", "PIL", "pillow.libs", "onnxruntime"]:
        if (site / name).exists():
            (shim / name).symlink_to(site / name)
    repo = Path(__file__).resolve().parents[1]
    code = textwrap.dedent(f"""
        import importlib.util, sys
        sys.path[:0] = [{str(shim)!r}, {str(repo)!r}]
        assert importlib.util.find_spec("torch") is None
        from edgephoto import runtime
        r = runtime.load({str(runtime.find_model("retouch", dist))!r}, threads=1).predict({str(photos / "photo.jpg")!r})
        assert r.outputs["image"].shape == (90, 150, 3)
        assert not [k for k in sys.modules if k.split(".")[0] in ("torch", "tensorflow")]
        print("OK")
    """)
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=120,
                       env={"PATH": os.environ.get("PATH", "/usr/bin"), "HOME": os.environ.get("HOME", "/tmp")},
                       cwd=tmp_path)
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr


def test_context_model_tiles_equal_one_whole_photo_pass(tmp_path):
    """A model with global context (thumbnail + position channels): every tile sees the whole photo,
    so tiling (even without overlap: the pixel path has no spatial kernel) reproduces one pass over
    the whole photo; without the context the same tiles could not know the photo's statistics."""
    import torch

    from edgephoto import runtime
    from edgephoto.data.torch_datasets import to_input_tensor
    from edgephoto.models import create_model
    from runtime_fixtures import write_manifest
    torch.manual_seed(0)
    net = create_model("retouchnet_ctx").eval()
    for p in net.parameters():                 # leave the identity start: a visible correction
        torch.nn.init.normal_(p, std=0.05)
    ctx = {"grid": 16, "position": True}
    d = tmp_path / "retouch" / "ctx" / "onnx_fp32"
    d.mkdir(parents=True)
    torch.onnx.export(net, (torch.zeros(1, 8, TILE, TILE),), str(d / "model.onnx"), input_names=["image"],
                      output_names=["image"], opset_version=17, dynamo=False)
    write_manifest(d, variant="ctx", fmt="onnx", precision="fp32", file="model.onnx", size=TILE,
                   layout="NCHW", shipped=True, engine="onnxruntime",
                   extra={"task": "retouch", "arch": "retouchnet_ctx",
                          "output": {"name": "image", "kind": "image", "range": [-10.0, 10.0], "channels": 3},
                          "inference": {"mode": "tile", "tile": TILE, "overlap": 0}})
    m = json.loads((d / "manifest.json").read_text())
    m["input"]["context"] = ctx
    (d / "manifest.json").write_text(json.dumps(m))
    rgb = _gradient(144, 112)
    rgb[20:60, 30:90] = (200, 40, 90)
    model = runtime.load(d, threads=1)
    got = model.predict(rgb).outputs["image"] * 20.0 - 10.0
    with torch.no_grad():
        ref = net(to_input_tensor(rgb, model.spec.input)[None])[0].permute(1, 2, 0).numpy()
    assert got.shape == ref.shape == (144, 112, 3)
    assert np.abs(got - ref).max() < 1e-4
    # the context matters: the same tiles without it give another answer
    plain = dict(m)
    plain["input"] = {k: v for k, v in m["input"].items() if k != "context"}
    with pytest.raises(Exception):
        runtime.Model(plain, model.engine).predict(rgb)   # 3 channels into an 8-channel model


# ------------------------------------------------------------------------ scale-aware tiles (4x)
def _upscaler_dir(dist: Path, tile: int, overlap: int, pointwise: bool, scale_in_manifest: int = 4) -> Path:
    """A 4x 'upscaler' fixture: nearest x4 of the de-normalized photo, plus (unless ``pointwise``)
    a zero-padded 3x3 conv correction that sees each tile's border, so a bad blend shows seams."""
    import torch
    from torch import nn
    from torch.nn import functional as F
    from runtime_fixtures import MEAN, STD, write_manifest

    class Up4(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 3, 3, padding=1)
            self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

        def forward(self, x):
            up = F.interpolate(x * self.std + self.mean, scale_factor=4, mode="nearest")
            return up if pointwise else torch.clamp(up + 0.05 * torch.tanh(self.c(up)), 0.0, 1.0)

    torch.manual_seed(0)
    net = Up4().eval()
    d = dist / "upscale" / ("pointwise" if pointwise else "conv") / "onnx_fp32"
    d.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(net, (torch.randn(1, 3, tile, tile),), str(d / "model.onnx"), input_names=["image"],
                      output_names=["image"], opset_version=17, dynamo=False)
    write_manifest(d, variant=d.parent.name, fmt="onnx", precision="fp32", file="model.onnx", size=tile,
                   layout="NCHW", shipped=True, engine="onnxruntime",
                   extra={"task": "upscale", "arch": "up4_fixture",
                          "output": {"name": "image", "kind": "image", "range": [0.0, 1.0], "channels": 3,
                                     "scale": scale_in_manifest},
                          "inference": {"mode": "tile", "tile": tile, "overlap": overlap}})
    return d, net


def test_4x_tiles_land_on_the_output_grid(tmp_path):
    """Output 4x the photo; a pointwise 4x model gives exactly its whole-image result through
    overlapping (and edge-aligned, padded) tiles, i.e. offsets and blend weights are scaled."""
    import torch
    from edgephoto import runtime
    d, net = _upscaler_dir(tmp_path, tile=16, overlap=4, pointwise=True)
    rgb = _gradient(37, 29)
    got = runtime.load(d, threads=1).predict(rgb).outputs["image"]
    assert got.shape == (37 * 4, 29 * 4, 3)
    want = np.repeat(np.repeat(rgb.astype(np.float32) / 255.0, 4, 0), 4, 1)
    assert np.abs(got - want).max() < 1e-5


def test_4x_tiles_blend_without_seams(tmp_path):
    """A model that sees the zero padding of each tile: tiled output stays within a fraction of an
    8-bit level of the whole-image output (a 16-px tile with 8 px of blended overlap)."""
    import torch
    from edgephoto import runtime
    from edgephoto.runtime.model import normalize
    d, net = _upscaler_dir(tmp_path, tile=16, overlap=8, pointwise=False)
    model = runtime.load(d, threads=1)
    rgb = _gradient(40, 48)
    got = model.predict(rgb).outputs["image"]
    with torch.no_grad():
        x = torch.from_numpy(normalize(rgb, model.spec.input)).permute(2, 0, 1)[None]
        ref = net(x)[0].permute(1, 2, 0).numpy()
    assert got.shape == ref.shape == (160, 192, 3)
    assert np.abs(got - ref).max() < 2.0 / 255


def test_scale_in_the_manifest_must_match_the_model(tmp_path):
    from edgephoto import runtime
    d, _ = _upscaler_dir(tmp_path, tile=16, overlap=4, pointwise=True, scale_in_manifest=1)
    with pytest.raises(runtime.ManifestError, match="output.scale") as e:
        runtime.load(d, threads=1).predict(_gradient(20, 20))
    assert "\n" not in str(e.value)


def test_4x_input_is_capped_so_the_output_fits(tmp_path):
    from edgephoto import runtime
    d, _ = _upscaler_dir(tmp_path, tile=16, overlap=4, pointwise=True)
    model = runtime.load(d, threads=1)
    big = np.zeros((8, 1100, 3), np.uint8)
    with pytest.raises(runtime.ImageError, match="1024"):
        model.predict(big)
    assert model.predict(big, downscale=True).outputs["image"].shape[1] == 4096
