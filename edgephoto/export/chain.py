"""``edgephoto chain``: the pipeline files of the art generator (``dist/pipelines/generate-<side>.json``).

- 64: the shipped generator alone;
- 256: generator -> the shipped 4x upscaler at a 64x64 tile (exported here from the upscaler's own
  checkpoint when ``dist`` has no such variant: the 256-px tile would pad each 64-px image to 256
  and do 16 times the work; measured 5.4 s against 0.17 s for 10 images);
- 1024: generator -> upscaler at 64 -> the shipped upscaler (its 256 tile).

``make export TASK=generate`` runs it after exporting the generator; run it again after
re-exporting either model (a pipeline names each step's sha256 and refuses a changed one).

    edgephoto chain --dist dist --upscale-data data/upscale
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, List, Optional


def register(sub) -> None:
    p = sub.add_parser("chain", help="write the generator's pipeline files (64, 256, 1024 px)",
                       description=__doc__.splitlines()[0])
    p.add_argument("--dist", default="dist", help="artifact root (default: dist)")
    p.add_argument("--upscale-data", default="data/upscale",
                   help="upscale data root for the 64-px tile export's parity and calibration (default: data/upscale)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    write_generator_pipelines(Path(args.dist), Path(args.upscale_data))
    return 0


def _tile_upscaler(dist: Path, side: int, data: Path, progress: Callable[[str], None]) -> Optional[Path]:
    """An upscaler under ``dist`` whose tile is ``side``, of the shipped upscaler's format; exported
    from the shipped upscaler's checkpoint if missing. None when that cannot be done (one line says why)."""
    from ..runtime import find_model
    from ..runtime.manifest import load_manifest
    from ..runtime.pipeline import upscaler_for
    from . import export_variant

    shipped = Path(find_model("upscale", dist))
    man = load_manifest(shipped)
    key = man["key"]
    found = upscaler_for(side, dist)
    if found != shipped or tuple(man["input"].get("size") or ()) == (side, side):
        return found
    ck = Path((man.get("source") or {}).get("checkpoint", ""))
    if not ck.is_file() or not (data / "test").is_dir() and not (data / "val").is_dir():
        progress(f"chain: no {side}-px tile of the upscaler and cannot export one (checkpoint {ck or '?'}, data "
                 f"{data}); the chain pads each {side}-px image to the {man['input']['size']} tile instead")
        return None
    variant = f"{man['variant']}-tile{side}"
    progress(f"chain: exporting the upscaler '{man['variant']}' at a {side}-px tile as '{variant}' ({key})")
    # plus the web page's bundle (web/make_index.py builds the browser's chain from the same variants)
    res = export_variant("upscale", ck, variant, out_root=dist, formats=sorted({key, "tfjs_fp16"}), data_root=data,
                         size=side, progress=lambda m: None)
    ok = [r for r in res if r.ok and r.key == key]
    if not ok:
        progress(f"chain: the {side}-px upscaler export failed ({res[0].reason}); using the shipped tile")
        return None
    return ok[0].dir


def _starter_upscaler(dist: Path, data: Path, progress: Callable[[str], None]) -> Optional[Path]:
    """No upscaler under ``dist``: export the committed upscale starter weights in the upscaler's
    ship format (built-in upscale data for calibration and parity first, when ``data`` has none)."""
    from ..bench.budgets import load_budgets, resolve
    from ..tasks import get_task
    from ..weights import starter_path
    from . import export_variant
    from .command import mark_shipped

    ck = starter_path("upscale")
    if not ck.is_file():
        progress(f"chain: no upscaler under {dist}/ and no starter weights ({ck}): 64 px only")
        return None
    if not (data / "test").is_dir():
        progress(f"chain: writing a small built-in upscale set to {data} (calibration and parity)")
        get_task("upscale").generate_builtin(data, sizes={"train": 32, "val": 8, "test": 16})
    key = resolve(load_budgets(None), "default", "upscale")["ship_format"]
    progress(f"chain: no upscaler under {dist}/: exporting the upscale starter weights ({key})")
    res = export_variant("upscale", ck, "starter", out_root=dist, formats=[key], data_root=data, shipped=True,
                         progress=lambda m: None)
    if not res[0].ok:
        progress(f"chain: the upscaler export failed ({res[0].reason}): 64 px only")
        return None
    mark_shipped(dist / "upscale", "starter", ship_key=key)
    return res[0].dir


def write_generator_pipelines(dist: Path, upscale_data: Path, progress: Callable[[str], None] = print) -> List[Path]:
    from ..errors import UserError
    from ..runtime import find_model, load
    from ..runtime.pipeline import pipeline_path, step_output_side, write_pipeline

    gen = Path(find_model("generate", dist))
    side = step_output_side(load(gen, threads=1), None)
    written = [pipeline_path(dist, side)]
    write_pipeline([gen], written[0])
    try:
        up = Path(find_model("upscale", dist))
    except UserError:
        up = _starter_upscaler(dist, upscale_data, progress)
        if up is None:
            return written
    first = _tile_upscaler(dist, side, upscale_data, progress) or up
    for steps in ([gen, first], [gen, first, up]):
        pipe = write_pipeline(steps, pipeline_path(dist, side * 4 ** (len(steps) - 1)))
        written.append(pipe.path)
        progress(f"chain: {pipe.path}: {pipe.describe()}")
    return written
