"""The bench on a tiny fixture dist: report fields, Markdown, and a non-zero exit on a missed budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime_fixtures import REPO, make_data, make_onnx_dir


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    t = tmp_path_factory.mktemp("bench")
    make_onnx_dir(t / "dist", variant="student", size=64, shipped=True)
    make_onnx_dir(t / "dist", variant="teacher", size=64, shipped=False, seed=1)
    (t / "dist" / "matte" / "student" / "tfjs_fp16").mkdir()   # a size-only row
    (t / "dist" / "matte" / "student" / "tfjs_fp16" / "model.json").write_text("{}")
    (t / "dist" / "matte" / "student" / "tfjs_fp16" / "manifest.json").write_text(json.dumps({
        "version": 1, "task": "matte", "variant": "student", "format": "tfjs", "precision": "fp16",
        "file": "model.json", "shipped": True, "input": {"size": [64, 64]}, "output": {"kind": "alpha"},
        "inference": {"mode": "resize"}}))
    make_data(t / "data" / "matte", n_test=3)
    return t


def _bench(t: Path, budgets: Path, out: Path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "edgephoto", "bench", "--dist", t / "dist", "--data",
                           t / "data", "--budgets", budgets, "--out", out, "--quick", "--runs", "2"],
                          capture_output=True, text=True, timeout=600, cwd=t, env=env)


def test_bench_report_fields_and_markdown(setup):
    t = setup
    r = _bench(t, REPO / "budgets.toml", t / "reports")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(1/3) matte/student/onnx_fp32" in r.stderr          # per-row progress
    rep = json.loads((t / "reports" / "bench.json").read_text())
    assert rep["passed"] is True and rep["target"] == "default"
    rows = {(x["variant"], x["key"]): x for x in rep["rows"]}
    assert set(rows) == {("student", "onnx_fp32"), ("student", "tfjs_fp16"), ("teacher", "onnx_fp32")}
    row = rows[("student", "onnx_fp32")]
    for k in ("status", "size_mb", "latency", "peak_mem_mb", "quality", "parity", "macs", "verdict",
              "shipped", "engine"):
        assert k in row, k
    assert row["status"] == "ok" and row["engine"] == "onnxruntime"
    for th in ("threads_1", "threads_all"):
        assert row["latency"][th]["median_s"] > 0 and row["latency"][th]["p90_s"] >= row["latency"][th]["median_s"]
    assert row["peak_mem_mb"] > 10 and row["macs"] > 0
    assert row["quality"]["images"] == 3 and 0 <= row["quality"]["mae"] <= 1 and "max_f" in row["quality"]
    assert row["verdict"]["size_mb"] == {"limit": 20.0, "value": row["size_mb"], "pass": True}
    assert row["verdict"]["latency_s"]["pass"] and row["verdict"]["peak_mem_mb"]["pass"]
    assert rows[("student", "tfjs_fp16")]["status"] == "size-only"
    ct = {c["variant"] + "/" + c["key"]: c for c in rep["compression_table"]}
    assert ct["teacher/onnx_fp32"]["built"] and ct["teacher/onnx_fp32"]["metrics"]["mae"] is not None
    assert not ct["student-kd-t2/onnx_fp32"]["built"]
    md = (t / "reports" / "bench.md").read_text()
    assert "| matte | student * | onnx_fp32 | ok |" in md and "not built" in md
    assert "Compression table" in md and "decode (included)" in md
    assert "PASS" in r.stdout


def test_too_strict_budgets_fail(setup):
    t = setup
    strict = t / "strict.toml"
    strict.write_text("[defaults]\nsize_mb = 0.01\nlatency_s = 0.000001\n[targets.default]\n"
                      "[tasks.matte]\npeak_mem_mb = 1\n")
    r = _bench(t, strict, t / "strict_reports")
    assert r.returncode == 1, r.stdout + r.stderr
    rep = json.loads((t / "strict_reports" / "bench.json").read_text())
    assert rep["passed"] is False
    row = next(x for x in rep["rows"] if x["variant"] == "student" and x["key"] == "onnx_fp32")
    assert row["status"] == "fail" and not row["verdict"]["size_mb"]["pass"]
    assert not row["verdict"]["latency_s"]["pass"] and not row["verdict"]["peak_mem_mb"]["pass"]
    assert "FAIL" in r.stdout and "matte/student/onnx_fp32" in r.stdout
    assert (t / "strict_reports" / "bench.md").read_text().count("FAIL") >= 1


def test_unknown_target_is_one_line(setup):
    t = setup
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "edgephoto", "bench", "--dist", t / "dist", "--budgets",
                        REPO / "budgets.toml", "--target", "nope"], capture_output=True, text=True,
                       timeout=120, cwd=t, env=env)
    assert r.returncode == 2 and "unknown target 'nope'" in r.stderr and "Traceback" not in r.stderr


def test_failed_export_rows_are_listed_with_their_reason(tmp_path):
    """A row the exporter could not build leaves no directory; the bench still lists it."""
    from edgephoto.bench.run import find_rows
    from edgephoto.runtime.manifest import write_json_atomic
    write_json_atomic(tmp_path / "matte" / "v" / "export.json", {"variant": "v", "rows": {
        "tflite_int8": {"status": "failed", "reason": "parity mean_abs 0.08 exceeds tolerance 0.05"},
        "onnx_fp32": {"status": "ok", "reason": ""}}})
    rows = find_rows(tmp_path, "matte")
    assert [(r["variant"], r["key"], r["status"]) for r in rows] == [("v", "tflite_int8", "failed")]
    assert "exceeds tolerance" in rows[0]["error"]


def test_quality_is_split_by_group_and_the_report_shows_it():
    """Deblur's test samples carry their blur type: the bench scores each type on its own."""
    from edgephoto.bench.run import group_tables, score_pairs
    from edgephoto.tasks import get_task
    task = get_task("deblur")
    rng = np.random.default_rng(0)
    sharp = {f"s{i}": rng.random((16, 16, 3)).astype(np.float32) for i in range(4)}
    noise = {"s0": 0.0, "s1": 0.0, "s2": 0.2, "s3": 0.2}
    pairs = [(f"/x/{k}.png", k) for k in sharp]
    q = score_pairs(pairs, lambda img: np.clip(sharp[Path(img).stem] + noise[Path(img).stem], 0, 1),
                    lambda k: sharp[k], task.metrics, "test",
                    {"s0": "box14", "s1": "box14", "s2": "motion", "s3": "motion"})
    assert q["by_group"]["box14"]["images"] == 2 and q["by_group"]["motion"]["images"] == 2
    assert q["by_group"]["box14"]["psnr"] > q["by_group"]["motion"]["psnr"] + 10
    report = {"rows": [{"task": "deblur", "variant": "v", "key": "onnx_fp32", "role": "ours", "quality": q}]}
    (title, headers, body), = group_tables(report)
    assert "blur type" in title and headers[3:] == ["box14 (2)", "motion (2)"] and len(body) == 1


def test_int8_verdict_without_an_fp32_row_uses_the_parity_drop():
    """An int8 row benched without its fp32 sibling is judged on the drop export measured against
    PyTorch fp32 (the manifest's parity), not failed for want of a reference."""
    from edgephoto.bench.run import verdicts
    b = {"int8_quality_rel_loss": 0.10}
    row = {"task": "retouch", "format": "tflite", "precision": "int8", "status": "ok",
           "quality": {"l1": 0.0636},
           "parity": {"quality_metric": "l1", "quality_drop": 0.0003, "l1_torch": 0.0575}}
    v = verdicts(row, b, None)["int8_quality_rel_loss"]
    assert v["pass"] and abs(v["value"] - 0.0052) < 1e-4
    bad = dict(row, parity=dict(row["parity"], quality_drop=0.009))
    assert not verdicts(bad, b, None)["int8_quality_rel_loss"]["pass"]
    # with the fp32 row benched, the bench's own side-by-side numbers decide
    assert verdicts(bad, b, 0.0630)["int8_quality_rel_loss"]["pass"]
    nothing = dict(row, parity={})
    assert not verdicts(nothing, b, None)["int8_quality_rel_loss"]["pass"]
