"""The art generator in web/edgephoto.js (Node, wasm) against the Python runtime: seeded latents
bit for bit, a generator's images, the generator -> 4x upscaler chain from the page's pipeline
file (written by web/make_index.py), the chain's one-line refusals and the 100-image limit.

Fixture (about a minute, once per module): a ``dcgan_g_lite`` generator with Kaiming-normal
weights (DCGAN's own N(0, 0.02) init gives flat grey images: std 1e-3) and an ``srvgg_s`` 4x
upscaler (random init: its bicubic base path makes it a bicubic upscaler plus noise), exported by
``edgephoto export`` to onnx_fp32 + tfjs_fp16, the upscaler at a 64-px tile; no training.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_web import ROOT, U8_TOL, WEB, _node, _run

EDGEPHOTO_JS = (WEB / "edgephoto.js").as_uri()
SEED, N = 7, 3


@pytest.fixture(scope="module")
def gen_dist(tmp_path_factory) -> Path:
    """dist/ with generate/fixture and upscale/fixture-tile64, each {onnx_fp32, tfjs_fp16}, and the
    device pipelines dist/pipelines/generate-{64,256}.json (ONNX steps, as `edgephoto chain` writes)."""
    _node()
    import torch

    from edgephoto.data import procedural_art, synthetic_upscale
    from edgephoto.models import create_model
    from edgephoto.runtime.pipeline import pipeline_path, write_pipeline
    from edgephoto.train.checkpoint import save_checkpoint
    base = tmp_path_factory.mktemp("gen_models")
    procedural_art.generate(base / "art", seed=0, sizes={"train": 4, "val": 2, "test": 2}, workers=1)
    synthetic_upscale.generate(base / "up", sizes={"train": 2, "val": 1, "test": 2}, workers=1)
    torch.manual_seed(0)
    gen = create_model("dcgan_g_lite")
    up = create_model("srvgg_s")
    with torch.no_grad():
        for m in gen.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.ConvTranspose2d)):
                torch.nn.init.kaiming_normal_(m.weight)
        # PReLU slopes all equal (the 0.25 init) make onnx2tf fail ("Layer weight shape (1, 1, 32) not
        # compatible with provided weight shape (32, 1, 1)"); a trained model's differ per channel
        for m in up.modules():
            if isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(0.1, 0.4)
    save_checkpoint(base / "gen.pt", gen, task="generate", arch="dcgan_g_lite", input_size=64, weights_only=True)
    save_checkpoint(base / "up.pt", up, task="upscale", arch="srvgg_s", input_size=64, weights_only=True)
    dist = base / "dist"
    ep = [sys.executable, "-m", "edgephoto", "export"]
    common = ["--formats", "onnx_fp32", "tfjs_fp16", "--dist", dist, "--runs", base / "runs", "--parity-images", 2]
    _run(ep + ["--task", "generate", "--checkpoint", base / "gen.pt", "--variant", "fixture", "--data", base / "art",
               *common], timeout=600)
    _run(ep + ["--task", "upscale", "--checkpoint", base / "up.pt", "--variant", "fixture-tile64", "--data",
               base / "up", "--size", 64, *common], timeout=600)
    for d in ("generate/fixture", "upscale/fixture-tile64"):
        for key in ("onnx_fp32", "tfjs_fp16"):
            assert (dist / d / key / "manifest.json").is_file(), f"export did not write {d}/{key}"
    g, u = dist / "generate/fixture/onnx_fp32", dist / "upscale/fixture-tile64/onnx_fp32"
    write_pipeline([g], pipeline_path(dist, 64))
    write_pipeline([g, u], pipeline_path(dist, 256))
    return dist


@pytest.fixture(scope="module")
def page_index(gen_dist, tmp_path_factory) -> dict:
    """web/make_index.py on the fixture dist: models.json (beside a pretend page) + the browser pipelines."""
    page = tmp_path_factory.mktemp("page") / "web"
    page.mkdir()
    _run([sys.executable, WEB / "make_index.py", "--dist", gen_dist, "--out", page / "models.json"])
    idx = json.loads((page / "models.json").read_text())
    idx["_page"] = page
    return idx


def _node_script(tmp: Path, body: str) -> str:
    (tmp / "t.mjs").write_text(f"import * as ep from {json.dumps(EDGEPHOTO_JS)};\n"
                               f"import {{ readFileSync, writeFileSync }} from 'node:fs';\n{body}")
    return _run([_node(), tmp / "t.mjs"], timeout=60).stdout


def _node_generate(target: Path, n: int, seed: int, tmp: Path, start: int = 0):
    """node-run.mjs --generate: (info, images uint8 n x H x W x 4) or (info with 'error', None)."""
    cmd = [_node(), WEB / "node-run.mjs", "--generate", target, n, seed, tmp / "gen", "--start", start]
    p = subprocess.run([str(c) for c in cmd], cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = p.stdout.strip().splitlines()
    assert lines, f"node-run printed nothing (rc {p.returncode}):\n{p.stderr[-3000:]}"
    info = json.loads(lines[-1])
    if "error" in info:
        assert p.returncode == 3, (p.returncode, p.stderr[-2000:])
        return info, None
    assert p.returncode == 0, p.stderr[-3000:]
    side = info["side"]
    raw = np.frombuffer((tmp / "gen.rgba").read_bytes(), np.uint8)
    return info, raw.reshape(info["n"], side, side, 4)


def _tolerance(*bundles: Path) -> int:
    """8-bit levels two runtimes may differ by along a chain of ``bundles``: one rounding level per
    step (each step's 8-bit output is the next one's input), plus twice what export measured for
    the TF.js fp16 weights against PyTorch (manifest parity max_abs, outputs in [0, 1]), summed."""
    fp16 = sum(json.loads((b / "manifest.json").read_text())["parity"]["max_abs"] for b in bundles)
    return len(bundles) * U8_TOL + int(np.ceil(2 * 255 * fp16))


# --------------------------------------------------------------------------------- pure JS pieces
LATENT_CASES = [(0, 3, 128, 0), (2 ** 32 - 1, 2, 128, 0), (7, 5, 5, 3), (12345, 1, 128, 99), (3, 3, 7, 1),
                (2 ** 31, 4, 1, 0), (1, 2, 3, 2 ** 20)]


def test_js_latents_are_python_latents_bit_for_bit(tmp_path):
    """(a) latents(seed, n, dim, start) in JS: the float32 bits of runtime/latent.py, seeds 0 and
    2^32 - 1 included, odd offsets (a Box-Muller pair split between samples) and a large start."""
    from edgephoto.errors import UserError
    from edgephoto.runtime.latent import latents
    cases = json.dumps(LATENT_CASES)
    out = _node_script(tmp_path, f"""
const res = {cases}.map(([s, n, d, st]) => Buffer.from(ep.latents(s, n, d, st).buffer).toString("base64"));
const errors = [-1, 2 ** 32, 1.5].map((s) => {{ try {{ ep.latents(s, 1, 4); return null; }} catch (e) {{ return e.message; }} }});
console.log(JSON.stringify({{ res, errors }}));
""")
    got = json.loads(out)
    for (seed, n, dim, start), b64 in zip(LATENT_CASES, got["res"]):
        js = np.frombuffer(base64.b64decode(b64), np.float32).reshape(n, dim)
        py = latents(seed, n, dim, start)
        assert js.tobytes() == py.tobytes(), (seed, n, dim, start, np.abs(js - py).max())
    for seed, msg in zip((-1, 2 ** 32), got["errors"]):
        with pytest.raises(UserError) as e:
            latents(seed, 1, 4)
        assert msg == str(e.value)
    assert got["errors"][2].startswith("seed must be an integer in [0, 4294967295]")


def test_js_count_limit_and_contact_sheet_match_python(tmp_path):
    """(d, pure part) checkCount's messages are pipeline.py check_count's; contactSheet lays images
    out as contact_sheet does (exactly, when the cells need no shrinking)."""
    from edgephoto.errors import UserError
    from edgephoto.runtime.pipeline import check_count, contact_sheet
    rng = np.random.default_rng(0)
    ims = rng.integers(0, 256, (5, 9, 11, 3), np.uint8)
    rgba = np.concatenate([ims, np.full((5, 9, 11, 1), 255, np.uint8)], -1)
    (tmp_path / "ims").write_bytes(rgba.tobytes())
    out = _node_script(tmp_path, f"""
const msg = (n) => {{ try {{ ep.checkCount(n); return null; }} catch (e) {{ return e.message; }} }};
const buf = new Uint8ClampedArray(readFileSync({json.dumps(str(tmp_path / 'ims'))}));
const ims = [0, 1, 2, 3, 4].map((i) => ({{ data: buf.subarray(i * 396, (i + 1) * 396), width: 11, height: 9 }}));
const sheet = ep.contactSheet(ims);
writeFileSync({json.dumps(str(tmp_path / 'sheet'))}, sheet.data);
console.log(JSON.stringify({{ m101: msg(101), m0: msg(0), m100: msg(100), m1: msg(1), size: [sheet.width, sheet.height],
                              max: ep.MAX_IMAGES }}));
""")
    got = json.loads(out)
    for n in (101, 0):
        with pytest.raises(UserError) as e:
            check_count(n)
        assert got[f"m{n}"] == str(e.value) and "\n" not in got[f"m{n}"]
    assert "at most 100 images per generation run, asked for 101" in got["m101"]
    assert got["m100"] is None and got["m1"] is None and got["max"] == 100
    ref = np.asarray(contact_sheet(list(ims)))
    assert tuple(got["size"]) == (ref.shape[1], ref.shape[0])
    js = np.frombuffer((tmp_path / "sheet").read_bytes(), np.uint8).reshape(ref.shape[0], ref.shape[1], 4)
    assert np.array_equal(js[..., :3], ref) and (js[..., 3] == 255).all()


# ------------------------------------------------------------------------------ models in Node
def test_node_generator_matches_python_runtime(gen_dist, tmp_path):
    """(b) Model.generate in edgephoto.js on the tfjs_fp16 bundle: the Python runtime's images of
    the same seed, exactly on the same bundle (Python's tfjs engine: the same weights and wasm, so
    latents and the 0..255 mapping are what is compared) and within the fp16 tolerance of onnx_fp32;
    samples do not depend on how many are drawn; no tensor leaks."""
    import edgephoto.runtime as rt
    tfjs = gen_dist / "generate/fixture/tfjs_fp16"
    info, js = _node_generate(tfjs / "manifest.json", N, SEED, tmp_path)
    assert info["backend"] == "wasm" and info["side"] == 64 and js.shape == (N, 64, 64, 4)
    assert (js[..., 3] == 255).all()
    n = info["numTensors"]
    assert n[1] == n[0] and n[-1] == 0, n
    ref = rt.load(gen_dist / "generate/fixture/onnx_fp32", threads=1).generate(N, SEED)
    same = rt.load(tfjs, threads=1).generate(N, SEED)
    d_ref = max(int(np.abs(js[i, ..., :3].astype(int) - ref[i]).max()) for i in range(N))
    d_same = max(int(np.abs(js[i, ..., :3].astype(int) - same[i]).max()) for i in range(N))
    tol = _tolerance(tfjs)
    print(f"node generate: vs onnx_fp32 max abs {d_ref} (tolerance {tol}), vs the same bundle in Python {d_same}, "
          f"image std {js[..., :3].std():.1f}, ms {info['ms']:.0f}")
    assert js[..., :3].std() > 20 and not np.array_equal(js[0], js[1])   # real pictures, not a grey copy
    assert d_same == 0
    assert d_ref <= tol
    # sample i does not depend on n: samples 1..2 of the seed alone are images 1..2 of the run
    _, tail = _node_generate(tfjs / "manifest.json", 2, SEED, tmp_path, start=1)
    assert np.array_equal(tail, js[1:])


def test_make_index_writes_browser_pipelines(gen_dist, page_index):
    """make_index.py: each device pipeline mirrored with the TF.js bundles of the same variants (their
    manifests' sha256, paths relative to the file), the missing 1024 composed as generator_chain does."""
    from edgephoto.runtime.pipeline import load_pipeline
    pipes = {p["side"]: p for p in page_index["pipelines"]}
    assert sorted(pipes) == [64, 256, 1024] and page_index["pipelines_skipped"] == []
    assert pipes[64]["steps"] == ["generate/fixture tfjs_fp16"] and pipes[64]["source"] == "generate-64.json"
    assert pipes[256]["steps"] == ["generate/fixture tfjs_fp16", "upscale/fixture-tile64 tfjs_fp16"]
    assert pipes[1024]["steps"] == pipes[256]["steps"] + ["upscale/fixture-tile64 tfjs_fp16"]
    assert pipes[1024]["source"].startswith("composed")
    for side, p in pipes.items():
        f = (page_index["_page"] / p["url"]).resolve()
        assert f == (gen_dist / "pipelines" / f"generate-{side}.tfjs.json").resolve()
        doc = json.loads(f.read_text())
        assert doc["kind"] == "pipeline" and doc["side"] == side and doc["format"] == "tfjs"
        for st in doc["steps"]:
            d = (f.parent / st["path"]).resolve()
            assert d.name == "tfjs_fp16" and st["sha256"] == json.loads((d / "manifest.json").read_text())["sha256"]
    # the same format as the device pipelines: the Python runtime reads it (sha256 and chain checks)
    assert load_pipeline(gen_dist / "pipelines/generate-256.tfjs.json", threads=1).side == 256


def test_node_chain_matches_python_pipeline(gen_dist, page_index, tmp_path):
    """(c) pipeline.generate from the page's generate-256.tfjs.json: the Python Pipeline's 256-px
    images from the device pipeline file (ONNX) within the tolerance of both fp16 steps, and the
    Python Pipeline of the same file (its tfjs engine: the same bundles and wasm) to one 8-bit level."""
    from edgephoto.runtime.pipeline import load_pipeline
    url = gen_dist / "pipelines/generate-256.tfjs.json"
    info, js = _node_generate(url, N, SEED, tmp_path)
    assert info["side"] == 256 and js.shape == (N, 256, 256, 4) and (js[..., 3] == 255).all()
    assert info["describe"] == "generate/fixture tfjs_fp16 @64 -> upscale/fixture-tile64 tfjs_fp16 @256"
    n = info["numTensors"]
    assert n[1] == n[0] and n[-1] == 0, n
    ref = load_pipeline(gen_dist / "pipelines/generate-256.json", threads=1).generate(N, SEED)
    d = max(int(np.abs(js[i, ..., :3].astype(int) - ref[i]).max()) for i in range(N))
    mean = float(np.mean([np.abs(js[i, ..., :3].astype(int) - ref[i]).mean() for i in range(N)]))
    tol = _tolerance(gen_dist / "generate/fixture/tfjs_fp16", gen_dist / "upscale/fixture-tile64/tfjs_fp16")
    same = load_pipeline(url, threads=1).generate(N, SEED)
    d_same = max(int(np.abs(js[i, ..., :3].astype(int) - same[i]).max()) for i in range(N))
    print(f"node chain 64 -> 256: vs onnx_fp32 max abs {d} (tolerance {tol}), mean abs {mean:.3f}; vs the same "
          f"bundles in Python {d_same}; ms {info['ms']:.0f}")
    assert d <= tol and mean < 0.5
    assert d_same <= U8_TOL


def _refusal(tmp_path: Path, doc: dict, name: str, n: int = 2):
    f = tmp_path / name
    f.write_text(json.dumps(doc))
    info, images = _node_generate(f, n, SEED, tmp_path)
    assert images is None and "error" in info, info
    return info


def test_node_chain_refusals_are_pythons_one_line_messages(gen_dist, page_index, tmp_path):
    """(c, d) a chain that does not fit (the upscaler first; five steps past 4096 px), a re-exported
    step (sha256) and 101 images are refused before any image, with the Python runtime's line."""
    from edgephoto.errors import UserError
    from edgephoto.runtime import load
    from edgephoto.runtime.manifest import ManifestError
    from edgephoto.runtime.pipeline import Pipeline
    src = gen_dist / "pipelines/generate-256.tfjs.json"
    doc = json.loads(src.read_text())
    g_step, u_step = [dict(s, path=str((src.parent / s["path"]).resolve())) for s in doc["steps"]]
    g = load(gen_dist / "generate/fixture/onnx_fp32", threads=1)
    u = load(gen_dist / "upscale/fixture-tile64/onnx_fp32", threads=1)
    said = []
    for steps, models in (([u_step, g_step], [u, g]), ([g_step] + [u_step] * 4, [g] + [u] * 4)):
        with pytest.raises(ManifestError) as e:
            Pipeline(models)
        info = _refusal(tmp_path, dict(doc, steps=steps), "wrong.json")
        print(f"refused: {info['error']}")
        assert info["error"] == str(e.value) and info["stage"] == "load" and "\n" not in info["error"]
        said.append(info["error"])
    assert said[0] == "pipeline step 2 (generate) takes a 'latent' input, but step 1 (upscale) gives an image"
    assert said[1].endswith("more than 4096")
    stale = _refusal(tmp_path, dict(doc, steps=[g_step, dict(u_step, sha256="0" * 64)]), "stale.json")["error"]
    assert "step 2 (" in stale and "has sha256" in stale and "the pipeline names 000000000000..." in stale
    with pytest.raises(UserError) as e:
        Pipeline([g, u]).generate(101, SEED)
    info = _refusal(tmp_path, dict(doc, steps=[g_step, u_step]), "ok.json", n=101)   # a valid chain; the count is refused
    assert info["error"] == str(e.value) and info["stage"] == "generate" and "\n" not in info["error"]
    assert not (tmp_path / "gen.rgba").exists()


# ------------------------------------------------------------------------------ headless Chromium
@pytest.fixture(scope="module")
def gen_served(gen_dist, tmp_path_factory):
    """The page as `make web` serves it (web/ + vendor/ beside dist/), dist/ being the fixture's."""
    import functools
    import http.server
    import shutil
    import threading

    from test_web import NODE_MODULES, VENDOR, _Quiet
    root = tmp_path_factory.mktemp("gen_web_root")
    (root / "web" / "vendor").mkdir(parents=True)
    for f in WEB.iterdir():
        if f.is_file() and f.suffix in (".js", ".html", ".css") and f.name != "package-lock.json":
            shutil.copy(f, root / "web" / f.name)
    for v in VENDOR:
        shutil.copy(NODE_MODULES / v, root / "web" / "vendor" / Path(v).name)
    (root / "dist").symlink_to(gen_dist, target_is_directory=True)
    _run([sys.executable, WEB / "make_index.py", "--dist", root / "dist", "--out", root / "web" / "models.json"])
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _browser(url: str, out: Path, *extra) -> dict:
    from test_web import CHROMIUM, _browser_ready
    _browser_ready()
    out.mkdir(exist_ok=True)
    p = subprocess.run([str(c) for c in (_node(), WEB / "browser-check.mjs", url, "-", out, "--chromium", CHROMIUM,
                                         *extra)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = p.stdout.strip().splitlines()
    assert p.returncode == 0 and lines, f"browser check failed:\n{p.stdout[-4000:]}\n{p.stderr[-3000:]}"
    return json.loads(lines[-1])


def test_generate_section_in_headless_chromium(gen_dist, gen_served, tmp_path):
    """The editor's Generate section: 2 images of seed 7 at 256 px are the Python pipeline's (within
    the browser backend's tolerance), the selected one and the contact sheet save as PNGs, 101 is
    refused with the runtime's line; without a generator in models.json every control is disabled
    and the section says why."""
    from PIL import Image

    from edgephoto.runtime.pipeline import contact_sheet, load_pipeline
    from test_web import U8_TOL_BROWSER
    r = _browser(f"{gen_served}/web/index.html", tmp_path / "b", "--generate", "256:2:7")
    g, run = r["generate"], r["generateRun"]
    print(f"browser generate: {r['backendLabel']}; {run['status']}")
    assert not g["disabled"]["generate"] and g["sizes"] == [64, 256, 1024] and "ready" in g["message"]
    assert "at most 100 images per generation run, asked for 101" in run["refused"]
    assert run["sizes"] == [[256, 256]] * 2 and "2 image(s) of seed 7 at 256x256" in run["message"]
    ref = load_pipeline(gen_dist / "pipelines/generate-256.json", threads=1).generate(2, 7)
    imgs = [np.frombuffer((tmp_path / "b" / f"gen-{i}.rgba").read_bytes(), np.uint8).reshape(256, 256, 4)
            for i in range(2)]
    d = max(int(np.abs(im[..., :3].astype(int) - rf).max()) for im, rf in zip(imgs, ref))
    tol = _tolerance(gen_dist / "generate/fixture/tfjs_fp16", gen_dist / "upscale/fixture-tile64/tfjs_fp16")
    print(f"browser generate 256: max abs {d} vs the Python pipeline (onnx_fp32), tolerance "
          f"{max(tol, U8_TOL_BROWSER)}")
    assert d <= max(tol, U8_TOL_BROWSER) and all((im[..., 3] == 255).all() for im in imgs)
    saved, sheet = Image.open(run["saved"]), Image.open(run["sheet"])
    assert Path(run["saved"]).name == "seed7_000_256px.png" and saved.format == "PNG" and saved.size == (256, 256)
    assert np.array_equal(np.asarray(saved.convert("RGBA")), imgs[0])
    assert Path(run["sheet"]).name == "seed7_contact_sheet_256px.png"
    assert sheet.size == contact_sheet([im[..., :3] for im in imgs]).size

    empty = _browser(f"{gen_served}/web/index.html?index=no-such-index.json", tmp_path / "e")["generate"]
    assert all(empty["disabled"].values()) and empty["sizes"] == [], empty
    assert "Generate is not available: models.json lists no art generator" in empty["message"]
