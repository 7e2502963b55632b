"""``edgephoto report``: one HTML page + Markdown from a bench.json, opened in headless Chromium.

The bench.json is synthetic (ours, a peer, classical rows, a size-only and a failed export, a
second task whose model directory vanished, per-target estimates) around one real tiny model: a
random-init ``u2netp_slim`` exported to ONNX at 64x64 (``runtime_fixtures.make_onnx_dir``), run
through the runtime on the generated matte test split for the before/after grid. The page is
checked in Debian's Chromium with playwright-core (every ``<img>`` decoded, the bench table
there) and a screenshot is kept in the test's tmp dir; skipped without chromium.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

import pytest

from runtime_fixtures import make_onnx_dir

from edgephoto.bench.browser import WEB, default_chromium
from edgephoto.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _lat(med: float) -> dict:
    t = {"threads": 1, "median_s": med, "p90_s": med * 1.15, "runs": 3, "breakdown_median_s": {}, "load_s": 0.1}
    return {"threads_1": t, "threads_all": dict(t, threads=2, median_s=med * 0.7, p90_s=med * 0.8)}


def _est(med: float, kind: str = "estimate", budget=None, ok=None) -> dict:
    return {"median_s": med, "low_s": med * 0.7, "high_s": med * 1.5, "kind": kind, "source": f"{kind} (test)",
            "budget_s": budget, "pass": ok}


def _row(task, variant, key, **kw) -> dict:
    fmt, _, prec = key.partition("_")
    r = {"task": task, "variant": variant, "key": key, "dir": None, "status": "ok", "role": "ours",
         "format": fmt, "precision": prec, "shipped": False, "notes": [], "verdict": {}, "pass": True}
    r.update(kw)
    return r


def synthetic_bench(model_dir: Path, data: Path, gone: Path, estimates: bool = True) -> dict:
    q = lambda mae, f: {"mae": mae, "max_f": f, "split": "test", "images": 4}  # noqa: E731
    rows = [
        _row("matte", "student", "onnx_fp32", dir=str(model_dir), shipped=True, size_mb=0.45, latency=_lat(0.12),
             peak_mem_mb=150.0, quality=q(0.110, 0.62), parity={"max_abs": 2e-6}, macs=1.2e8,
             verdict={"size_mb": {"limit": 20, "value": 0.45, "pass": True}},
             estimates={"x86-1t": _est(0.12, "measured", 0.5, True), "rpi4": _est(1.9, budget=1.0, ok=False),
                        "rpi5": _est(0.7, budget=1.0, ok=True), "browser-wasm": _est(0.4, "measured")}),
        _row("matte", "student", "onnx_int8", dir=str(model_dir.parent / "onnx_int8"), shipped=True, size_mb=0.15,
             latency=_lat(0.09), quality=q(0.115, 0.60), parity={"max_abs": 0.3},
             estimates={"x86-1t": _est(0.09, "measured"), "rpi4": _est(1.1, budget=1.0, ok=False)}),
        _row("matte", "student", "tfjs_fp16", status="size-only", shipped=True, size_mb=0.24, parity={"max_abs": 0.0}),
        _row("matte", "student", "tflite_int8", status="failed", shipped=True, error="export failed: test",
             **{"pass": False}),
        _row("matte", "u2netp", "onnx_fp32", role="peer", size_mb=4.6, latency=_lat(0.35), quality=q(0.060, 0.85),
             parity={"max_abs": 8e-7}, estimates={"x86-1t": _est(0.35, "measured"), "rpi4": _est(5.0)}),
        _row("matte", "threshold", "classical", status="classical", role="classical", format="classical",
             precision="-", size_mb=0.0, latency={"threads_1": _lat(0.02)["threads_1"]}, quality=q(0.210, 0.40)),
        _row("retouch", "student", "onnx_fp32", dir=str(gone), shipped=True, size_mb=0.3, latency=_lat(0.8),
             quality={"l1": 0.05, "psnr": 24.0, "ssim": 0.8, "ciede2000": 4.0}, parity={"max_abs": 1e-5}),
        _row("retouch", "auto-adjust", "classical", status="classical", role="classical", format="classical",
             precision="-", size_mb=0.0, latency={"threads_1": _lat(0.05)["threads_1"]},
             quality={"l1": 0.08, "psnr": 21.0, "ssim": 0.7, "ciede2000": 6.0}),
    ]
    if not estimates:
        for r in rows:
            r.pop("estimates", None)
    return {"edgephoto_bench": 1, "created": "2026-12-02T10:00:00+0000",
            "machine": {"platform": "test", "cpu_count": 2, "python": "3.11"}, "target": "default",
            "budgets_file": "budgets.toml", "budgets": {"matte": {"ship_format": "onnx_fp32", "size_mb": 20}},
            "dist": str(model_dir.parents[2]), "data": str(data), "quick": True, "runs": 3, "threads_all": 2,
            "rows": rows, "compression_table": [], "failed_shipped": [], "passed": True}


@pytest.fixture(scope="module")
def bench_file(tmp_path_factory) -> Path:
    from edgephoto.data.synthetic_matte import generate
    base = tmp_path_factory.mktemp("report_bench")
    generate(base / "data", seed=0, sizes={"train": 0, "val": 0, "test": 4})   # the grid's test split only
    model = make_onnx_dir(base / "dist", variant="student", size=64, shipped=True)
    gone = base / "dist" / "retouch" / "student" / "onnx_fp32"   # never created: "vanished"
    path = base / "reports" / "bench.json"
    path.parent.mkdir()
    path.write_text(json.dumps(synthetic_bench(model, base / "data", gone)))
    write_fit_result(path.parent / "fit")
    return path


def write_fit_result(fit_dir: Path) -> None:
    """A `compress --fit` result beside the bench (two candidates, one fits; its plot drawn by fit's
    own code) and one unreadable file: the page shows the first and one note for the second."""
    from edgephoto.compress.fit import _plot
    fit_dir.mkdir(parents=True)
    cand = lambda label, mae, med, fits: {  # noqa: E731
        "label": label, "key": "onnx_int8", "size_mb": 0.9, "here_s": med / 5, "status": "ok", "fits": fits,
        "frontier": True, "why": "fits" if fits else "latency upper bound 3 s > 1 s", "quality": {"mae": mae},
        "estimate": {"median_s": med, "low_s": med * 0.6, "high_s": med * 1.4, "kind": "estimate"}}
    fr = {"task": "matte", "target": "rpi4", "target_name": "Raspberry Pi 4", "metric": "mae", "split": "val",
          "limit": 20, "budgets": {"size_mb": 20, "latency_s": 1.0},
          "candidates": [cand("starter@256 onnx_int8", 0.04, 0.3, True), cand("starter@320 onnx_fp32", 0.03, 2.1, False)],
          "pick": "starter@256 onnx_int8", "why": "starter@256 onnx_int8: the best val mae of the 1 candidate(s) that fit"}
    fr["plot"] = _plot(fr, fit_dir / "matte-rpi4.png")
    (fit_dir / "matte-rpi4.json").write_text(json.dumps(fr))
    (fit_dir / "retouch-rpi5.json").write_text("{}")


def _browser_missing():
    """Why the page cannot be opened in headless Chromium here (one line), or None."""
    if not Path(default_chromium()).exists():
        return f"no chromium at {default_chromium()} (apt-get install -y chromium; .ci/run does)"
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        p = subprocess.run(["make", "-s", "web-deps"], cwd=ROOT, capture_output=True, text=True)
        if p.returncode != 0 or not (WEB / "node_modules" / "playwright-core").is_dir():
            return f"playwright-core could not be installed (make web-deps: {p.stderr.strip()[-300:]})"
    return None


def test_report_page_in_headless_chromium(bench_file, tmp_path):
    from edgephoto.report import build_report

    no_browser = _browser_missing()
    out, shot = tmp_path / "reports", tmp_path / "report.png"
    res = build_report(bench_file, out, screenshot=None if no_browser else shot)
    html, md = res["html"].read_text(), res["markdown"].read_text()
    files = sorted(p.name for p in (out / "report_files").iterdir())
    assert files == sorted(res["figures"])
    assert {"quality_matte.png", "quality_retouch.png", "parity_matte.png", "parity_retouch.png",
            "estimates_matte.png", "grid_matte.png"} <= set(files)
    assert "grid_retouch.png" not in files
    # the fit result beside the bench: its pick, frontier and plot; the unreadable one is a note
    assert "fit_matte-rpi4.png" in files and "Fitting to a target" in html and "Fitting to a target" in md
    assert "Pick: starter@256 onnx_int8" in html and "starter@320 onnx_fp32" in md
    assert any("retouch-rpi5.json: not a readable fit result" in n for n in res["notes"])
    # every picture is a file beside the page, referenced relatively (no base64), in both renderings
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert sorted(srcs) == sorted(f"report_files/{f}" for f in files)
    assert sorted(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)) == sorted(srcs)
    assert "base64" not in html
    # the vanished model: one note, in the page, the Markdown and the result
    assert any("retouch" in n and "not at" in n for n in res["notes"])
    assert "is not at" in html and "is not at" in md
    # every bench row in the table, peers and classical rows included
    for name in ("u2netp", "threshold", "auto-adjust", "tflite_int8", "tfjs_fp16"):
        assert name in html
    assert not list(out.glob(".*")), "temporary files left behind"

    if no_browser:
        pytest.skip(f"the page was written but not opened: {no_browser}")
    info = res["screenshot"]
    assert info["ok"] and info["method"] == "playwright", info["note"]
    print(f"report screenshot: {shot} ({info['note']})")
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert len(info["images"]) == len(files)
    assert all(i["naturalWidth"] > 0 for i in info["images"]), info["images"]
    assert info["bench_rows"] == len(json.loads(bench_file.read_text())["rows"])
    assert not info["errors"]
    from PIL import Image
    with Image.open(shot) as im:
        assert im.size[0] == 1280 and im.size[1] == info["height"] > 2000


def test_report_cli_without_estimates(bench_file, tmp_path, capsys):
    bench = json.loads(bench_file.read_text())
    plain = copy.deepcopy(bench)
    for r in plain["rows"]:
        r.pop("estimates", None)
    p = tmp_path / "bench.json"
    p.write_text(json.dumps(plain))
    (tmp_path / "report_files").mkdir()
    (tmp_path / "report_files" / "stale.png").write_bytes(b"old")   # replaced whole, not merged
    assert main(["report", "--bench", str(p)]) == 0
    md = (tmp_path / "report.md").read_text()
    assert "No per-target latency estimates in this bench run" in md
    assert "estimates_" not in md and not (tmp_path / "report_files" / "stale.png").exists()
    assert "grid_matte.png" in md
    assert "written" in capsys.readouterr().out


def test_report_bad_input_is_one_line(tmp_path, capsys):
    assert main(["report", "--bench", str(tmp_path / "nope.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no bench results" in err and "Traceback" not in err
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["report", "--bench", str(tmp_path / "bad.json")]) == 2
    assert "not readable JSON" in capsys.readouterr().err
    (tmp_path / "rows.json").write_text(json.dumps({"rows": [{"task": "matte"}]}))
    assert main(["report", "--bench", str(tmp_path / "rows.json")]) == 2
    assert "row 0 has no key, status" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()
