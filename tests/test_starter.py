"""The committed starter weights: quality floors in PyTorch, and through int8 TFLite + the runtime.

The starters are trained on the real-photo datasets (``make fetch``). Two test splits:

- the first test images of the real-photo recipe, regenerated from the developer's fetch cache
  (what the model cards and the bench report); skipped where nothing was fetched, e.g. on CI;
- the generated scenes (seed 0), which every machine can regenerate: off the starters' domain, so
  their floors are lower, but they catch a broken or swapped weights file anywhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgephoto.weights import starter_path

STARTER = starter_path("matte")
pytestmark = pytest.mark.skipif(not STARTER.is_file(), reason="no starter weights committed")
N_TEST = 40
MAE_REAL_FLOOR = 0.075             # measured 0.0615 on these 40; 0.0547 on the 300 of the model card
MAE_GENERATED_FLOOR = 0.06        # measured 0.045 (the generated-scene starter of 4fabfc3: 0.034)
MAXF_GENERATED_FLOOR = 0.84       # measured 0.878


def real_test_split(tmp_path_factory, recipe: str) -> Path:
    """``N_TEST`` test pairs of ``edgephoto.data.<recipe>`` from the real fetch cache, or a skip."""
    import importlib

    from conftest import REAL_SOURCES
    if not (REAL_SOURCES / "index.json").is_file():
        pytest.skip(f"no fetched real photos in {REAL_SOURCES}/ (make fetch)")
    mp = pytest.MonkeyPatch()
    mp.setenv("EDGEPHOTO_SOURCES", str(REAL_SOURCES))
    try:
        mod = importlib.import_module(f"edgephoto.data.{recipe}")
        if not mod.available():
            pytest.skip("the fetch cache holds no real photos / cut-outs")
        root = tmp_path_factory.mktemp(f"starter_{recipe}")
        mod.generate(root, seed=0, sizes={"train": 0, "val": 0, "test": N_TEST})
    finally:
        mp.undo()
    return root


@pytest.fixture(scope="module")
def real_matte_test_split(tmp_path_factory) -> Path:
    return real_test_split(tmp_path_factory, "real_matte")


def test_starter_on_real_composites(real_matte_test_split):
    """The real test split (cut-outs and photos never seen in training)."""
    from edgephoto.tasks import get_task
    from edgephoto.train.checkpoint import load_model
    from edgephoto.train.evaluate import evaluate

    model, state = load_model(STARTER)
    m = evaluate(model, get_task("matte"), real_matte_test_split, "test", state["input_size"])
    assert m["mae"] <= MAE_REAL_FLOOR, m


@pytest.fixture(scope="module")
def builtin_test_split(tmp_path_factory) -> Path:
    from edgephoto.data.synthetic_matte import generate
    root = tmp_path_factory.mktemp("starter_data")
    generate(root, seed=0, sizes={"train": 40, "val": 0, "test": N_TEST})
    return root


def test_starter_meets_quality_floor(builtin_test_split):
    from edgephoto.tasks import get_task
    from edgephoto.train.checkpoint import load_model
    from edgephoto.train.evaluate import evaluate

    model, state = load_model(STARTER)
    m = evaluate(model, get_task("matte"), builtin_test_split, "test", state["input_size"])
    assert m["mae"] <= MAE_GENERATED_FLOOR, m
    assert m["max_f"] >= MAXF_GENERATED_FLOOR, m


def test_starter_int8_tflite_through_runtime(builtin_test_split, tmp_path):
    pytest.importorskip("tensorflow")
    from edgephoto import runtime
    from edgephoto.export import export_variant
    from edgephoto.metrics import mask_metrics
    from edgephoto.tasks import get_task

    results = export_variant("matte", STARTER, "starter", out_root=tmp_path / "dist",
                             formats=["onnx_fp32", "tflite_int8"], data_root=builtin_test_split,
                             shipped=True, progress=lambda *a, **k: None)
    assert [r.status for r in results] == ["ok", "ok"], [(r.key, r.reason) for r in results]
    task = get_task("matte")
    pairs = task.eval_pairs(builtin_test_split, "test")
    maes = {}
    for r in results:
        model = runtime.load(r.dir, threads=1)
        preds = [model.predict(ip).mask for ip, _ in pairs]
        targets = [task.load_target(tp) for _, tp in pairs]
        maes[r.key] = mask_metrics(preds, targets)["mae"]
    assert maes["tflite_int8"] <= MAE_GENERATED_FLOOR, maes
    # int8 may lose at most 10% relative MAE against the fp32 model it came from
    assert maes["tflite_int8"] <= 1.10 * maes["onnx_fp32"] + 1e-3, maes
    manifest = runtime.load_manifest(results[1].dir)
    assert manifest["precision"] == "int8" and manifest["bytes"] < 1.5e6


# ------------------------------------------------------------------ retouch
RETOUCH = starter_path("retouch")


@pytest.fixture(scope="module")
def retouch_test_split(tmp_path_factory) -> Path:
    from edgephoto.data.synthetic_retouch import generate
    root = tmp_path_factory.mktemp("starter_retouch")
    generate(root, seed=0, sizes={"train": 8, "val": 0, "test": N_TEST})
    return root


@pytest.mark.skipif(not RETOUCH.is_file(), reason="no retouch starter weights committed")
def test_retouch_starter_beats_identity_on_generated_scenes(retouch_test_split):
    """The starter is trained on real photos; the generated scenes (what CI has) are off its domain
    but carry the same defects: measured +1.05 dB over identity on these 40."""
    from edgephoto.tasks import get_task
    from edgephoto.train.checkpoint import load_model
    from edgephoto.train.evaluate import evaluate

    task = get_task("retouch")
    model, state = load_model(RETOUCH)
    m = evaluate(model, task, retouch_test_split, "test", state["input_size"])
    base = task.baseline_metrics(retouch_test_split, "test")
    assert m["psnr"] >= base["psnr"] + 0.8, (m, base)
    assert m["l1"] < base["l1"] and m["ciede2000"] < base["ciede2000"], (m, base)


@pytest.fixture(scope="module")
def real_retouch_test_split(tmp_path_factory):
    return real_test_split(tmp_path_factory, "real_retouch")


@pytest.mark.skipif(not RETOUCH.is_file(), reason="no retouch starter weights committed")
def test_retouch_starter_beats_the_classical_adjustment_on_real_photos(real_retouch_test_split):
    """Issue 9's floor on the real test split: at least 1 dB above the automatic adjustments (measured
    on these 40: see the model card for the 200-image split) and above the identity."""
    from edgephoto.bench.run import classical_quality
    from edgephoto.tasks import get_task
    from edgephoto.train.checkpoint import load_model
    from edgephoto.train.evaluate import evaluate

    task = get_task("retouch")
    model, state = load_model(RETOUCH)
    m = evaluate(model, task, real_retouch_test_split, "test", state["input_size"])
    base = task.baseline_metrics(real_retouch_test_split, "test")
    classical = classical_quality(real_retouch_test_split, "retouch", None)
    assert m["psnr"] >= classical["psnr"] + 1.0, (m, classical)
    assert m["psnr"] >= base["psnr"] + 1.0, (m, base)


@pytest.mark.skipif(not RETOUCH.is_file(), reason="no retouch starter weights committed")
def test_retouch_starter_int8_tflite_through_runtime(retouch_test_split, tmp_path):
    pytest.importorskip("tensorflow")
    from edgephoto import runtime
    from edgephoto.export import export_variant
    from edgephoto.metrics import image_metrics
    from edgephoto.tasks import get_task

    results = export_variant("retouch", RETOUCH, "starter", out_root=tmp_path / "dist",
                             formats=["onnx_fp32", "tflite_int8"], data_root=retouch_test_split,
                             shipped=True, progress=lambda *a, **k: None)
    assert [r.status for r in results] == ["ok", "ok"], [(r.key, r.reason) for r in results]
    task = get_task("retouch")
    pairs = task.eval_pairs(retouch_test_split, "test")
    targets = [task.load_target(tp) for _, tp in pairs]
    scores = {}
    for r in results:
        model = runtime.load(r.dir, threads=1)
        scores[r.key] = image_metrics([model.predict(ip).outputs["image"] for ip, _ in pairs], targets)
    base = task.baseline_metrics(retouch_test_split, "test")
    assert scores["tflite_int8"]["psnr"] >= base["psnr"] + 0.8, (scores, base)   # measured +1.06
    # int8 may lose at most 10% relative L1 against the fp32 model it came from
    assert scores["tflite_int8"]["l1"] <= 1.10 * scores["onnx_fp32"]["l1"] + 1e-3, scores
    manifest = runtime.load_manifest(results[1].dir)
    assert manifest["precision"] == "int8" and manifest["bytes"] < 5e6
    assert manifest["inference"]["mode"] == "tile"
