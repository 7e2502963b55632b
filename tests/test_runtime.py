"""The device runtime: odd real-world images, refusals with one-line errors, and no heavy imports."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from runtime_fixtures import make_onnx_dir, make_tflite_int8_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist")
    make_onnx_dir(d, variant="student", size=64, shipped=True)
    return d


@pytest.fixture(scope="module")
def model(dist):
    from edgephoto import runtime
    return runtime.load(runtime.find_model("matte", dist), threads=1)


def _photo(w=80, h=60, seed=0):
    rng = np.random.default_rng(seed)
    a = np.zeros((h, w, 3), np.uint8) + 40
    a[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = rng.integers(120, 255, 3, dtype=np.uint8)
    return a


def _odd_images(tmp: Path):
    """(path, expected (H, W)) for each kind of real-world image."""
    out = []
    base = Image.fromarray(_photo(80, 60))
    exif = Image.Exif()
    exif[0x0112] = 6                                        # rotate 90 CW on display
    p = tmp / "exif_rotated.jpg"
    base.save(p, exif=exif)
    out.append((p, (80, 60)))                               # displayed 60 wide, 80 tall
    p = tmp / "cmyk.jpg"
    base.convert("CMYK").save(p)
    out.append((p, (60, 80)))
    p = tmp / "palette.png"
    base.convert("P", palette=Image.ADAPTIVE, colors=16).save(p)
    out.append((p, (60, 80)))
    p = tmp / "sixteen_bit.png"
    Image.fromarray((np.linspace(0, 65535, 60 * 80).reshape(60, 80)).astype(np.uint16)).save(p)
    out.append((p, (60, 80)))
    p = tmp / "rgba.png"
    rgba = np.dstack([_photo(80, 60), np.full((60, 80), 255, np.uint8)])
    rgba[:10, :10, 3] = 0
    Image.fromarray(rgba, "RGBA").save(p)
    out.append((p, (60, 80)))
    p = tmp / "gray.jpg"
    base.convert("L").save(p)
    out.append((p, (60, 80)))
    p = tmp / "tiny.png"
    Image.fromarray(_photo(3, 2)).save(p)
    out.append((p, (2, 3)))
    return out


def test_odd_images_give_full_resolution_masks(model, tmp_path):
    for path, hw in _odd_images(tmp_path):
        res = model.predict(path)
        assert res.mask.shape == hw, path.name
        assert res.mask.dtype == np.float32 and 0.0 <= res.mask.min() and res.mask.max() <= 1.0
        assert res.rgba.shape == hw + (4,), path.name
        if path.name == "rgba.png":   # input transparency is kept in the cut-out
            assert (res.rgba[:10, :10, 3] == 0).all()
        out = tmp_path / f"{path.stem}_out.png"
        res.save(out)
        with Image.open(out) as im:
            assert im.mode == "RGBA" and im.size == (hw[1], hw[0])


def test_predict_accepts_arrays_and_pil(model):
    a = _photo(50, 40)
    assert model.predict(a).mask.shape == (40, 50)
    assert model.predict(Image.fromarray(a).convert("LA")).mask.shape == (40, 50)


def test_find_model_prefers_shipped_and_reports_missing(dist, tmp_path):
    from edgephoto import runtime
    assert runtime.find_model("matte", dist).name == "onnx_fp32"
    with pytest.raises(runtime.ManifestError, match="no exported model"):
        runtime.find_model("matte", tmp_path)
    with pytest.raises(runtime.EngineError, match="no runnable"):
        runtime.find_model("matte", dist, format="tflite")


def test_engine_choice_errors(dist):
    from edgephoto import runtime
    d = runtime.find_model("matte", dist)
    with pytest.raises(runtime.EngineError, match="does not run 'onnx'"):
        runtime.load(d, engine="litert")
    with pytest.raises(KeyError, match="unknown engine"):
        runtime.load(d, engine="nope")


def test_checksum_mismatch_is_a_clear_error(dist, tmp_path):
    import json
    import shutil

    from edgephoto import runtime
    d = tmp_path / "m"
    shutil.copytree(runtime.find_model("matte", dist), d)
    m = json.loads((d / "manifest.json").read_text())
    m["sha256"] = "0" * 64
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(runtime.ManifestError, match="sha256"):
        runtime.load(d)


# ------------------------------------------------------------------------------- CLI refusals
def _cli(*args, mod="edgephoto.runtime"):
    return subprocess.run([sys.executable, "-m", mod, *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    t = tmp_path_factory.mktemp("bad")
    Image.fromarray(_photo(1500, 1200)).save(t / "big.jpg", quality=90)
    Image.fromarray(_photo(40, 40)).save(t / "anim.gif")
    Image.fromarray(_photo(40, 40)).save(t / "bitmap.bmp")
    Image.fromarray(_photo(40, 40)).save(t / "disguised.png", format="BMP")   # name lies
    Image.fromarray(_photo(400, 300)).save(t / "ok.jpg", quality=95)
    data = (t / "ok.jpg").read_bytes()
    (t / "truncated.jpg").write_bytes(data[: len(data) // 2])
    with open(t / "huge.png", "wb") as fh:                 # sparse: 36 MB on paper
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.truncate(36 * 1000 * 1000)
    return t


@pytest.mark.parametrize("name,msg", [
    ("huge.png", "36.0 MB; the largest accepted upload is 35 MB"),
    ("anim.gif", "GIF image; only JPEG and PNG are accepted"),
    ("bitmap.bmp", "BMP image; only JPEG and PNG are accepted"),
    ("disguised.png", "BMP image; only JPEG and PNG are accepted"),
    ("truncated.jpg", "corrupt or truncated"),
    ("big.jpg", "1500x1200; the largest accepted image is 1024x1024"),
])
def test_cli_refuses_with_one_line(dist, bad_files, tmp_path, name, msg):
    out = tmp_path / "o.png"
    r = _cli("run", "matte", bad_files / name, "-o", out, "--dist", dist)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert msg in lines[0] and lines[0].startswith("edgephoto run: error:"), lines[0]
    assert not out.exists() and not list(tmp_path.iterdir())   # no partial output


def test_cli_downscale_and_outputs(dist, bad_files, tmp_path):
    out, mask = tmp_path / "cut.png", tmp_path / "mask.png"
    r = _cli("run", "matte", bad_files / "big.jpg", "-o", out, "--mask", mask, "--dist", dist,
             "--downscale", "--threads", "1")
    assert r.returncode == 0, r.stderr
    with Image.open(out) as a, Image.open(mask) as m:
        assert a.mode == "RGBA" and a.size == (1024, 819)
        assert m.mode == "L" and m.size == (1024, 819)
    assert "downscaled from 1500x1200" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.png", "mask.png"]  # no temp files left


def test_main_cli_run_and_missing_model(bad_files, tmp_path):
    r = _cli("run", "matte", bad_files / "ok.jpg", "-o", tmp_path / "o.png", "--dist", tmp_path,
             mod="edgephoto")
    assert r.returncode == 2 and "no exported model for task 'matte'" in r.stderr
    assert "Traceback" not in r.stderr


# ------------------------------------------------------------------ no torch / tensorflow
def _clean_site(tmp: Path, engine_pkgs):
    """A folder holding only numpy, Pillow and the engine (symlinked from this environment)."""
    import numpy
    import PIL
    site = Path(numpy.__file__).resolve().parents[1]
    assert (site / "PIL").resolve() == Path(PIL.__file__).resolve().parent
    shim = tmp / "site"
    shim.mkdir()
    for name in ["numpy", "numpy.libs", "PIL", "pillow.libs", *engine_pkgs]:
        if (site / name).exists():
            (shim / name).symlink_to(site / name)
    return shim


BLOCKED_CODE = textwrap.dedent("""
    import importlib.util, sys
    sys.path[:0] = [{shim!r}, {repo!r}]
    for heavy in ("torch", "tensorflow", "keras", "tf_keras", "jax"):
        assert importlib.util.find_spec(heavy) is None, heavy + " is importable"
    from edgephoto import runtime
    m = runtime.load({model!r}, threads=1)
    r = m.predict({image!r})
    assert r.mask.shape == (300, 400), r.mask.shape
    assert r.rgba.shape == (300, 400, 4)
    bad = sorted(k for k in sys.modules if k.split(".")[0] in ("torch", "tensorflow", "keras", "tf_keras"))
    assert not bad, bad
    print("OK", m.engine.name, sorted(k for k in sys.modules if k.split(".")[0] in ("onnxruntime", "ai_edge_litert"))[:1])
""")


def _run_blocked(tmp_path, model_dir, image, pkgs):
    shim = _clean_site(tmp_path, pkgs)
    code = BLOCKED_CODE.format(shim=str(shim), repo=str(REPO), model=str(model_dir), image=str(image))
    # -I: no user site / env vars, -S: no site-packages at all: only the stdlib + our shim + the repo
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)


def test_runtime_imports_and_predicts_without_torch_or_tensorflow(dist, bad_files, tmp_path):
    from edgephoto import runtime
    r = _run_blocked(tmp_path, runtime.find_model("matte", dist), bad_files / "ok.jpg", ["onnxruntime"])
    assert r.returncode == 0 and "OK onnxruntime" in r.stdout, r.stdout + r.stderr


# ------------------------------------------------------------------------------ int8 TFLite
@pytest.fixture(scope="module")
def tflite_dist(tmp_path_factory):
    pytest.importorskip("tensorflow")
    d = tmp_path_factory.mktemp("tfl")
    # build in a subprocess so this test process does not import TensorFlow
    code = f"import sys; sys.path.insert(0, {str(REPO / 'tests')!r}); " \
           f"from runtime_fixtures import make_tflite_int8_dir as f; f({str(d)!r}, size=32)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    return d


def test_tflite_int8_quantization_and_litert_without_tensorflow(tflite_dist, bad_files, tmp_path):
    from edgephoto import runtime
    if not runtime.ENGINES.get("litert").available():
        pytest.skip("ai-edge-litert not installed")
    d = runtime.find_model("matte", tflite_dist)
    assert d.name == "tflite_int8"
    m = runtime.load(d, threads=1)
    assert m.engine.name == "litert" and m.engine.describe()["input_dtype"] == "int8"
    res = m.predict(bad_files / "ok.jpg")
    assert res.mask.shape == (300, 400)
    # dequantized sigmoid output: within [0, 1] and not constant-zero int8 garbage
    assert 0.0 <= res.mask.min() <= res.mask.max() <= 1.0 and res.mask.std() > 0
    r = _run_blocked(tmp_path, d, bad_files / "ok.jpg", ["ai_edge_litert"])
    assert r.returncode == 0 and "OK litert" in r.stdout, r.stdout + r.stderr
