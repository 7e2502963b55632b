"""Per-target latency estimates: the published reference file, the factor arithmetic, the reference
networks timed in ncnn, and the bench's estimates and device verdicts."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from edgephoto.bench import estimates
from edgephoto.bench.estimates import Target, factor, load_refs, row_estimates
from runtime_fixtures import REPO, make_data, make_onnx_dir

FIELDS = ("model", "precision", "device", "threads", "ms", "runtime", "clock", "source")


def test_every_reference_cites_its_source_and_every_device_target_has_both_precisions():
    targets, refs = load_refs()
    assert {"rpi4", "rpi5", "jetson-nano-cpu", "x86-1t", "browser-wasm"} <= set(targets)
    for r in refs:
        for f in FIELDS:
            assert getattr(r, f) not in (None, ""), (r, f)
        assert r.ms > 0 and r.precision in ("fp32", "int8")
    for t in targets.values():
        if t.method != "references":
            continue
        for prec in ("fp32", "int8"):
            usable = [r for r in refs if r.device == t.id and r.runtime == "ncnn" and r.precision == prec
                      and r.threads == t.threads and not r.exclude]
            assert len(usable) >= 2, (t.id, prec)     # a factor from one figure has no spread to report


def test_factor_is_the_geometric_mean_and_the_spread_widens_the_uncertainty():
    t = Target("pi", "a Pi", threads=4, uncertainty=0.4)
    refs = [estimates.Reference("a", "fp32", "pi", 4, 40.0, "ncnn", "1 GHz", "src"),
            estimates.Reference("b", "fp32", "pi", 4, 90.0, "ncnn", "1 GHz", "src"),
            estimates.Reference("b", "fp32", "pi", 1, 999.0, "ncnn", "1 GHz", "src"),      # other thread count
            estimates.Reference("a_int8", "int8", "pi", 4, 10.0, "ncnn", "1 GHz", "src"),
            estimates.Reference("a", "fp32", "pi", 4, 1e6, "xnnpack", "1 GHz", "src")]      # other runtime
    f = factor(t, refs, {"a/fp32": 10.0, "b/fp32": 10.0, "a/int8": 5.0}, "fp32")
    assert f.value == pytest.approx(math.sqrt(4.0 * 9.0))      # geometric mean of 4x and 9x
    assert f.uncertainty > 0.4 and len(f.refs) == 2
    one = factor(t, refs, {"a/int8": 5.0}, "int8")           # ncnn's "a_int8" is network "a" at int8
    assert one.value == pytest.approx(2.0) and one.uncertainty == pytest.approx(0.4)
    assert factor(t, refs, {}, "fp32") is None


def test_an_estimate_is_judged_on_its_upper_bound():
    targets = {"pi": Target("pi", "a Pi", threads=4, uncertainty=0.4)}
    cal = {"pi": {"fp32": {"factor": 10.0, "uncertainty": 0.4, "threads": 4,
                           "refs": [{"model": "a", "source": "src"}]}, "int8": None}}
    row = {"task": "matte", "variant": "s", "key": "onnx_fp32", "format": "onnx", "precision": "fp32",
           "latency": {"threads_1": {"median_s": 2.0}}}
    e = row_estimates(row, targets, cal, lambda tid: 25.0)["pi"]
    assert e["kind"] == "estimate" and e["median_s"] == pytest.approx(20.0)
    assert e["low_s"] == pytest.approx(12.0) and e["high_s"] == pytest.approx(28.0)
    assert e["pass"] is False                                  # 20 s fits 25 s, its upper bound does not
    assert "estimate" in estimates.estimate_cell(e) or "est." in estimates.estimate_cell(e)
    assert row_estimates(dict(row, precision="int8", key="onnx_int8"), targets, cal, lambda tid: 25.0) == {}
    measured = row_estimates(dict(row, latency={"threads_all": {"median_s": 3.0, "threads": 4}}), targets, cal,
                             lambda tid: 25.0, on_device="pi")["pi"]
    assert measured["kind"] == "measured" and measured["high_s"] == 3.0 and measured["pass"] is True


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    t = tmp_path_factory.mktemp("estimates")
    make_onnx_dir(t / "dist", variant="student", size=64, shipped=True)
    make_data(t / "data" / "matte", n_test=2)
    return t


def _bench(t, *extra):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "edgephoto", "bench", "--dist", t / "dist", "--data", t / "data",
                           "--budgets", REPO / "budgets.toml", "--quick", "--runs", "2", *extra],
                          capture_output=True, text=True, timeout=900, cwd=t, env=env)


def test_the_bench_times_the_references_in_ncnn_and_prints_every_target(bench_dir):
    t = bench_dir
    r = _bench(t, "--out", t / "rep", "--target", "rpi4")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rep = json.loads((t / "rep" / "bench.json").read_text())
    block = rep["device_estimates"]
    assert block["note"] is None, block["note"]
    host = block["host_reference_ms"]
    assert {"mobilenet/fp32", "mobilenet/int8", "mobilenet_v2/fp32", "resnet50/fp32", "resnet50/int8"} <= set(host)
    assert all(v > 0 for v in host.values()) and host["resnet50/fp32"] > host["mobilenet_v2/fp32"]
    # this host is an x86 core: the generic x86 core's factor is of order 1, a Pi 4's 1-thread one is not below it
    assert 0.1 < block["factors"]["x86-1t"]["fp32"]["factor"] < 10
    row = next(x for x in rep["rows"] if x["key"] == "onnx_fp32")
    est = row["estimates"]
    assert {"rpi4", "rpi5", "jetson-nano-cpu", "x86-1t"} <= set(est)
    here = row["latency"]["threads_1"]["median_s"]
    for e in est.values():
        assert e["kind"] == "estimate" and e["low_s"] < e["median_s"] < e["high_s"]
        assert e["median_s"] == pytest.approx(here * e["factor"], rel=2e-3) and "ncnn" in e["source"]
    assert row["verdict"]["latency_s"]["value"] == est["rpi4"]["high_s"]     # --target rpi4: the upper bound
    assert "latency_1024_s" not in row["verdict"]       # the task's own 1-thread-here target is not a Pi's
    assert "Per-target latency" in r.stdout and "est." in r.stdout and "factor" in r.stdout


def test_on_device_measures_instead_of_estimating(bench_dir):
    t = bench_dir
    r = _bench(t, "--out", t / "dev", "--target", "rpi4", "--on-device", "rpi4")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rep = json.loads((t / "dev" / "bench.json").read_text())
    row = next(x for x in rep["rows"] if x["key"] == "onnx_fp32")
    assert set(row["estimates"]) == {"rpi4"} and row["estimates"]["rpi4"]["kind"] == "measured"
    assert rep["device_estimates"]["host_reference_ms"] is None
    assert "measured" in r.stdout
