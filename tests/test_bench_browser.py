"""``edgephoto bench --browser``: TF.js bundles timed through web/edgephoto.js in headless Chromium.

Fixture bundles as in tests/test_web.py, kept cheap: a smoke-trained retouch student exported to
TF.js at 64x64 (mode ``tile``), and the same graph relabelled as a ``matte`` bundle (mode ``resize``,
output kind ``alpha``: the first channel is read as the mask) so both of edgephoto.js's paths run
without the minute-long export of the matte model. Timings are reported, never asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgephoto.bench import browser as bb

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1",
               CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(ROOT))
    p = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env, capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


def _manifest(d: Path, **m) -> None:
    """A valid manifest (the task's contract) for a model directory named by its format key."""
    from edgephoto.tasks import get_task
    fmt, precision = d.name.split("_")
    d.mkdir(parents=True)
    full = {"format": fmt, "precision": precision, "file": "model.json" if fmt == "tfjs" else "model",
            **get_task(m["task"]).spec.to_manifest(), **m}
    (d / "manifest.json").write_text(json.dumps(full))


def _browser_ready() -> None:
    why = bb.missing()
    if why and "playwright-core" in why:
        subprocess.run(["make", "-s", "web-deps"], cwd=ROOT, capture_output=True, text=True)
        why = bb.missing()
    if why:
        pytest.skip(f"the browser bench cannot run here: {why}")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> Path:
    """<base>/dist/{retouch/student, matte/fake}/tfjs_fp16 at 64x64 and <base>/dr (retouch data)."""
    _browser_ready()
    if not (bb.TFJS_NODE / "tfjs").is_dir():
        pytest.skip("@tensorflow/tfjs is not installed (run `make node`)")
    base = tmp_path_factory.mktemp("browser_bench")
    ep = [sys.executable, "-m", "edgephoto"]
    dist = base / "dist"
    _run(ep + ["data", "--task", "retouch", "--out", base / "dr", "--train", 4, "--val", 2, "--test", 2])
    _run(ep + ["train", "--task", "retouch", "--role", "student", "--profile", "smoke", "--data", base / "dr",
               "--runs", base / "runs", "--threads", 1])
    _run(ep + ["export", "--task", "retouch", "--checkpoint", base / "runs/retouch/student/ckpt.pt",
               "--variant", "student", "--formats", "tfjs_fp16", "--dist", dist,
               "--data", base / "dr", "--parity-images", 2, "--size", 64], timeout=600)
    src = dist / "retouch" / "student" / "tfjs_fp16"
    assert (src / "manifest.json").is_file()
    fake = dist / "matte" / "fake" / "tfjs_fp16"
    shutil.copytree(src, fake)
    m = json.loads((fake / "manifest.json").read_text())
    m.update(task="matte", variant="fake", shipped=True, inference={"mode": "resize", "resample": "bilinear"},
             output={"name": "mask", "kind": "alpha", "range": [0.0, 1.0], "channels": 1})
    (fake / "manifest.json").write_text(json.dumps(m))
    return base


def test_find_bundles_prefers_shipped_fp16(tmp_path):
    for variant, key, shipped in [("student", "tfjs_fp16", False), ("starter", "tfjs_uint8", True),
                                  ("starter", "tfjs_fp16", True), ("teacher", "onnx_fp32", False),
                                  ("s2", "tfjs_uint8", False), ("s1", "tfjs_fp16", False)]:
        task = "retouch" if variant.startswith("s") and variant[1:].isdigit() else "matte"
        _manifest(tmp_path / task / variant / key, task=task, variant=variant, shipped=shipped)
    got = [(b["task"], b["variant"], b["key"]) for b in bb.find_bundles(tmp_path)]
    assert got == [("matte", "starter", "tfjs_fp16"), ("retouch", "s1", "tfjs_fp16")]
    assert [b["task"] for b in bb.find_bundles(tmp_path, "retouch")] == ["retouch"]


def test_a_generator_is_timed_through_its_upscaler_chain_and_an_upscaler_on_a_quarter_photo(tmp_path):
    """The browser column of generate must be the budget's run (100 images at 256 px through the
    chain the page composes: the 64-px-tile upscaler when there is one), and an upscaler's input
    256 px, not 1024."""
    from edgephoto.tasks import get_task
    gen = tmp_path / "generate" / "starter" / "tfjs_fp16"
    _manifest(gen, task="generate", variant="starter", shipped=True)
    up = get_task("upscale").spec
    _manifest(tmp_path / "upscale" / "starter" / "tfjs_fp16", task="upscale", variant="starter", shipped=True)
    bundle = lambda d: next(b for b in bb.find_bundles(tmp_path, every=True) if b["dir"] == d)  # noqa: E731
    # no 64-px tile yet: the page pads each 64-px image to the shipped upscaler's 256 tile
    assert bb.generator_job(tmp_path, bundle(gen), 100, 256) == {
        "n": 100, "chain": ["/dist/upscale/starter/tfjs_fp16/manifest.json"], "side": 256}
    tile = tmp_path / "upscale" / "starter-tile64" / "tfjs_fp16"
    _manifest(tile, task="upscale", variant="starter-tile64", **up.with_input_size(64).to_manifest())
    assert bb.generator_job(tmp_path, bundle(gen), 100, 256) == {
        "n": 100, "chain": ["/dist/upscale/starter-tile64/tfjs_fp16/manifest.json"], "side": 256}
    assert "cannot reach 128 px" in bb.generator_job(tmp_path, bundle(gen), 100, 128)["error"]
    assert bb.generator_job(tmp_path, bundle(tile), 100, 256) is None      # a photo model
    assert bb._scale(bundle(tile)) == 4 and bb._scale(bundle(gen)) == 1


def test_no_browser_is_a_one_line_note(tmp_path):
    _manifest(tmp_path / "dist" / "matte" / "starter" / "tfjs_fp16", task="matte", variant="starter", shipped=True)
    r = bb.bench_browser(tmp_path / "dist", tmp_path / "data", chromium=str(tmp_path / "no-chromium"))
    assert r["rows"] == [] and r["note"].startswith("not measured: ") and "\n" not in r["note"]
    if shutil.which("node"):
        assert "no chromium at" in r["note"]
    report = {"browser": r["rows"], "browser_note": r["note"]}
    assert bb.browser_text(report)[-1].strip() == r["note"]
    assert "## Browser (headless Chromium)" in bb.browser_markdown(report)
    assert bb.browser_text({}) == [] and bb.browser_markdown({}) == []   # bench without --browser
    assert bb.bench_browser(tmp_path / "empty", tmp_path)["note"].startswith("not measured: no TF.js bundle")


def test_browser_times_both_tasks_on_webgl_and_wasm(bundles):
    logs = []
    r = bb.bench_browser(bundles / "dist", bundles / "dr", side=256, runs=2, warmup=1, log=logs.append)
    print("\n".join(logs))
    rows = {(x["task"], x["backend"]): x for x in r["rows"]}
    assert set(rows) == {(t, b) for t in ("matte", "retouch") for b in ("webgl", "wasm")}, r
    for (task, backend), x in rows.items():
        assert x["median_s"] is not None and x["median_s"] > 0, x
        assert x["load_s"] > 0 and len(x["runs"]) == 2
        assert x["mode"] == ("tile" if task == "retouch" else "resize")
        assert x["num_tensors"][1] == 0                    # the model disposed: no tensor left behind
    assert rows[("retouch", "webgl")]["variant"] == "student" and rows[("matte", "wasm")]["variant"] == "fake"
    assert "wasm" in rows[("matte", "wasm")]["note"] and "WebGL" in rows[("matte", "webgl")]["note"]
    assert "256x256" in r["note"] and "Chromium" in r["note"]


def test_bench_cli_browser_table(bundles, tmp_path):
    """`edgephoto bench --browser` on the 1024x1024 bench photo: JSON rows, the text and Markdown tables."""
    p = _run([sys.executable, "-m", "edgephoto", "bench", "--dist", bundles / "dist", "--data", bundles / "dr",
              "--task", "matte", "--budgets", ROOT / "budgets.toml", "--out", tmp_path, "--quick",
              "--browser", "--browser-runs", "1"], timeout=600)
    rep = json.loads((tmp_path / "bench.json").read_text())
    assert [(x["task"], x["backend"]) for x in rep["browser"]] == [("matte", "webgl"), ("matte", "wasm")]
    assert all(x["median_s"] > 0 and len(x["runs"]) == 1 for x in rep["browser"]), rep["browser"]
    assert "1024x1024" in rep["browser_note"] and rep["passed"] is True
    md = (tmp_path / "bench.md").read_text()
    assert "## Browser (headless Chromium)" in md and "| matte | fake | tfjs_fp16 | wasm |" in md
    assert "Browser (headless Chromium)" in p.stdout and "not asserted" in p.stdout
