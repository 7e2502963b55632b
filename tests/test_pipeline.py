"""The art generator's runtime: seeded latents, pipeline files (steps by path and sha256, checked
at load time), `edgephoto run generate` with its PNGs, contact sheet and limits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgephoto.runtime.latent import latents


def test_latents_are_standard_normal_and_do_not_depend_on_how_many_are_drawn():
    z = latents(7, 100, 128)
    assert z.dtype == np.float32 and z.shape == (100, 128)
    assert abs(float(z.mean())) < 0.02 and abs(float(z.std()) - 1.0) < 0.02
    assert np.array_equal(z[:16], latents(7, 16, 128))          # --n 16 are the first 16 of --n 100
    assert np.array_equal(z[5:9], latents(7, 4, 128, start=5))
    assert np.array_equal(latents(3, 2, 5, start=1), latents(3, 3, 5)[1:])   # odd offsets
    assert not np.array_equal(latents(7, 1, 128), latents(8, 1, 128))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A random-init generator and a random-init 4x upscaler at a 64-px tile, exported to ONNX."""
    import torch

    from edgephoto.data import procedural_art, synthetic_upscale
    from edgephoto.export import export_variant
    from edgephoto.models import create_model
    from edgephoto.train.checkpoint import save_checkpoint
    root = tmp_path_factory.mktemp("pipeline")
    torch.manual_seed(0)
    art, up_data = root / "art", root / "up"
    procedural_art.generate(art, sizes={"train": 4, "val": 2, "test": 2})
    synthetic_upscale.generate(up_data, sizes={"train": 2, "val": 2, "test": 2})
    out = {}
    for task, arch, data, size in (("generate", "dcgan_g_lite", art, 64), ("upscale", "srvgg_s", up_data, 64)):
        ck = save_checkpoint(root / f"{task}.pt", create_model(arch).eval(), task=task, arch=arch, input_size=size)
        res = export_variant(task, ck, "t", out_root=root / "dist", formats=["onnx_fp32"], data_root=data,
                             shipped=True, size=size, parity_images=2, progress=lambda m: None)
        assert res[0].ok, res[0].reason
        out[task] = res[0].dir
    out["dist"] = root / "dist"
    return out


def test_a_pipeline_file_names_each_step_by_sha256_and_refuses_a_changed_one(models, tmp_path):
    from edgephoto.runtime.manifest import ManifestError
    from edgephoto.runtime.pipeline import load_pipeline, write_pipeline
    p = tmp_path / "generate-256.json"
    pipe = write_pipeline([models["generate"], models["upscale"]], p)
    assert pipe.side == 256
    doc = json.loads(p.read_text())
    assert [s["task"] for s in doc["steps"]] == ["generate", "upscale"] and all(len(s["sha256"]) == 64 for s in doc["steps"])
    imgs = load_pipeline(p, threads=1).generate(3, seed=7)
    assert [im.shape for im in imgs] == [(256, 256, 3)] * 3 and imgs[0].dtype == np.uint8
    # the same seed gives the same images; the generator alone gives their 64-px sources
    assert np.array_equal(imgs[1], load_pipeline(p, threads=1).generate(2, seed=7)[1])
    doc["steps"][1]["sha256"] = "0" * 64
    p.write_text(json.dumps(doc))
    with pytest.raises(ManifestError, match="step 2 .* sha256"):
        load_pipeline(p)


def test_steps_that_do_not_fit_are_refused_with_one_line(models):
    from edgephoto.runtime import load
    from edgephoto.runtime.manifest import ManifestError
    from edgephoto.runtime.pipeline import Pipeline
    g, u = load(models["generate"], threads=1), load(models["upscale"], threads=1)
    with pytest.raises(ManifestError, match=r"step 2 \(generate\) takes a 'latent' input, but step 1 \(upscale\) gives an image"):
        Pipeline([u, g])
    with pytest.raises(ManifestError, match="more than 4096"):
        Pipeline([g, u, u, u, u])


def test_run_generate_writes_pngs_and_a_contact_sheet(models, tmp_path, capsys):
    from edgephoto.cli import main
    from edgephoto.runtime.pipeline import pipeline_path, write_pipeline
    write_pipeline([models["generate"], models["upscale"]], pipeline_path(models["dist"], 256))
    out = tmp_path / "out"
    assert main(["run", "generate", "--n", "5", "--size", "256", "--seed", "3", "-o", str(out),
                 "--dist", str(models["dist"]), "--threads", "1"]) == 0
    pngs = sorted(out.glob("seed3_0*_256px.png"))
    assert len(pngs) == 5 and Image.open(pngs[0]).size == (256, 256)
    sheet = Image.open(out / "seed3_contact_sheet_256px.png")
    assert sheet.size[0] > 2 * 256 and sheet.size[1] > 256       # 3 x 2 grid
    assert not list(out.glob(".*"))                              # no temporary files left


def test_run_generate_takes_a_generator_directory_or_a_format(models, tmp_path, capsys):
    from edgephoto.cli import main
    from edgephoto.runtime import load
    out = tmp_path / "m"
    assert main(["run", "generate", "--n", "2", "--size", "64", "--seed", "5", "-o", str(out), "--model",
                 str(models["generate"]), "--dist", str(tmp_path / "nothing"), "--threads", "1"]) == 0
    want = load(models["generate"], threads=1).generate(2, 5)
    assert np.array_equal(np.asarray(Image.open(out / "seed5_001_64px.png")), want[1])
    capsys.readouterr()
    rc = main(["run", "generate", "--format", "tflite", "-o", str(tmp_path / "t"), "--dist", str(models["dist"])])
    err = capsys.readouterr().err
    assert rc == 2 and "no runnable 'generate' model (tflite)" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv,needle", [
    (["--n", "101"], "at most 100 images per generation run"),
    (["--size", "128"], "--size must be one of 64, 256, 1024"),
    (["--n", "0"], "positive integer"),
])
def test_bad_generation_requests_are_one_line(models, tmp_path, capsys, argv, needle):
    from edgephoto.cli import main
    rc = main(["run", "generate", *argv, "-o", str(tmp_path / "o"), "--dist", str(models["dist"])])
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_a_generator_refuses_a_photo_and_a_photo_model_refuses_a_seed(models):
    from edgephoto.errors import UserError
    from edgephoto.runtime import load
    with pytest.raises(UserError, match="takes no photo"):
        load(models["generate"], threads=1).predict(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(UserError, match="takes a photo, not a seed"):
        load(models["upscale"], threads=1).generate(2, 0)
