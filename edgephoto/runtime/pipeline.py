"""Chained models: a pipeline manifest names its steps, each by path and sha256, and the runtime
checks at load time that every step's output is what the next one takes.

The art generator makes 64x64 images; 256 and 1024 come from running the 4x upscaler once or
twice on them (``generate@64 -> upscale x4 -> upscale x4``). A pipeline file::

    {"version": 1, "kind": "pipeline", "name": "generate-256", "side": 256,
     "steps": [{"path": "../generate/starter/onnx_fp32", "sha256": "..."},
               {"path": "../upscale/starter/onnx_int8", "sha256": "..."}]}

``path`` is relative to the pipeline file; ``sha256`` is the step's model file digest as its own
manifest records it, so a re-exported step is refused until the pipeline is rewritten
(``edgephoto chain``). A step whose input does not match the previous step's output is refused with
one line, e.g. a mask model after a generator.

    python -m edgephoto.runtime.pipeline dist/pipelines/generate-256.json    # check and describe
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from .manifest import ManifestError, load_manifest

PIPELINE_VERSION = 1
MAX_IMAGES = 100          # images one generation run may produce (the document's limit)
SIDES = (64, 256, 1024)


def step_output_side(model, in_side: Optional[int]) -> int:
    """The side of what ``model`` gives for an input of side ``in_side`` (None: a latent model)."""
    out = model.spec.output
    if in_side is None:
        if out.size is None:
            raise ManifestError(f"{model.task}: a latent model's manifest needs output.size")
        return int(out.size[0])
    return in_side * int(out.scale or 1)


def check_chain(models: Sequence[Any]) -> List[Optional[int]]:
    """One :class:`ManifestError` line if the steps do not fit together; else each step's output
    side (None while it depends on the user's photo)."""
    from .model import MAX_OUTPUT_SIDE
    if not models:
        raise ManifestError("a pipeline needs at least one step")
    sides: List[Optional[int]] = []
    side: Optional[int] = None
    for i, m in enumerate(models):
        kind = m.spec.input.kind
        if i > 0:
            prev = models[i - 1]
            if prev.spec.output.kind != "image" or prev.spec.output.channels < 3:
                raise ManifestError(f"pipeline step {i + 1} ({m.task}) takes an image, but step {i} "
                                    f"({prev.task}) gives a '{prev.spec.output.kind}' output")
            if kind != "image":
                raise ManifestError(f"pipeline step {i + 1} ({m.task}) takes a '{kind}' input, but step {i} "
                                    f"({prev.task}) gives an image")
        if kind == "latent":
            side = step_output_side(m, None)
        elif side is not None:
            nxt = step_output_side(m, side)
            if nxt > MAX_OUTPUT_SIDE:
                raise ManifestError(f"pipeline step {i + 1} ({m.task}) would make {nxt} px images from step "
                                    f"{i}'s {side} px, more than {MAX_OUTPUT_SIDE}")
            side = nxt
        sides.append(side)
    return sides


class Pipeline:
    """Loaded steps; :meth:`generate` runs a generator chain, :meth:`predict` a photo chain."""

    def __init__(self, models: Sequence[Any], name: str = "", path: Optional[Path] = None) -> None:
        self.models, self.name, self.path = list(models), name, path
        self.sides = check_chain(self.models)

    @property
    def side(self) -> Optional[int]:
        return self.sides[-1]

    def describe(self) -> str:
        parts = []
        for m, s in zip(self.models, self.sides):
            mf = m.manifest
            parts.append(f"{m.task}/{mf.get('variant')} {mf['format']}_{mf['precision']}" + (f" @{s}" if s else ""))
        return " -> ".join(parts)

    def generate(self, n: int, seed: int = 0, start: int = 0) -> List[np.ndarray]:
        """``n`` images (uint8 HxWx3) of ``seed``: the generator, then each following step on each image."""
        check_count(n)
        first = self.models[0]
        images = first.generate(n, seed, start)
        for m in self.models[1:]:
            images = [np.asarray(m.predict(img, composite=True).image().convert("RGB")) for img in images]
        return images

    def predict(self, image: Any) -> np.ndarray:
        """A photo through every step (uint8 HxWx3 of the last step's picture)."""
        out = image
        for m in self.models:
            out = np.asarray(m.predict(out).image().convert("RGB"))
        return out


def check_count(n: int) -> None:
    from ..errors import UserError
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise UserError(f"the number of images must be a positive integer, got {n!r}")
    if n > MAX_IMAGES:
        raise UserError(f"at most {MAX_IMAGES} images per generation run, asked for {n} (run it again with "
                        f"another --seed for more)")


def _step_sha(model_dir: Path) -> str:
    return str(load_manifest(Path(model_dir)).get("sha256") or "")


def load_pipeline(path: Union[str, Path], engine: Optional[str] = None, threads: Optional[int] = None) -> Pipeline:
    """Load and check a pipeline file: every step's sha256, then the chain's shapes."""
    from . import load
    path = Path(path)
    doc, dirs = read_pipeline(path)
    return Pipeline([load(d, engine=engine, threads=threads) for d in dirs], str(doc.get("name", path.stem)), path)


def read_pipeline(path: Path) -> tuple:
    """``(document, step directories)`` of a pipeline file, each step's sha256 checked against its
    manifest; any problem is one :class:`ManifestError` line."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(f"pipeline file not found: {path}") from None
    except (OSError, ValueError) as e:
        raise ManifestError(f"{path} is not a pipeline file ({' '.join(str(e).split())[:120]})") from None
    if not isinstance(doc, dict) or doc.get("kind") != "pipeline" or not isinstance(doc.get("steps"), list):
        raise ManifestError(f"{path} is not a pipeline file (needs kind 'pipeline' and a list of steps)")
    dirs = []
    for i, st in enumerate(doc["steps"]):
        if not isinstance(st, dict) or "path" not in st or "sha256" not in st:
            raise ManifestError(f"{path}: step {i + 1} needs a path and a sha256")
        d = (path.parent / st["path"]).resolve()
        try:
            have = _step_sha(d)
        except ManifestError as e:
            raise ManifestError(f"{path}: step {i + 1}: {e}") from None
        if have != st["sha256"]:
            raise ManifestError(f"{path}: step {i + 1} ({st['path']}) has sha256 {have[:12]}..., the pipeline "
                                f"names {str(st['sha256'])[:12]}... (re-exported? rewrite it with `edgephoto chain`)")
        dirs.append(d)
    return doc, dirs


def pipeline_document(model_dirs: Sequence[Union[str, Path]], out: Path, name: str) -> Dict[str, Any]:
    """The pipeline file's content for ``model_dirs`` (paths relative to ``out``'s folder)."""
    import os
    steps = []
    for d in model_dirs:
        d = Path(d).resolve()
        steps.append({"path": os.path.relpath(d, Path(out).resolve().parent), "sha256": _step_sha(d),
                      "task": load_manifest(d)["task"]})
    return {"version": PIPELINE_VERSION, "kind": "pipeline", "name": name, "steps": steps}


def write_pipeline(model_dirs: Sequence[Union[str, Path]], out: Union[str, Path], name: str = "",
                   engine: Optional[str] = None) -> Pipeline:
    """Check the chain (its models loaded), then write the pipeline file atomically."""
    from . import load
    from .manifest import write_json_atomic
    out = Path(out)
    pipe = Pipeline([load(d, engine=engine, threads=1) for d in model_dirs], name or out.stem)
    doc = pipeline_document(model_dirs, out, name or out.stem)
    doc["side"] = pipe.side
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, doc)
    pipe.path = out
    return pipe


def upscaler_for(side: int, dist: Union[str, Path] = "dist") -> Path:
    """The shipped upscaler's variant whose tile is ``side`` (``edgephoto chain`` exports it: no
    padding of a small image to a large tile), else the shipped upscaler itself."""
    from . import find_model, list_models
    shipped = Path(find_model("upscale", dist))
    key = load_manifest(shipped)["key"]
    for m in list_models("upscale", dist):
        if m["key"] == key and tuple(m["input"].get("size") or ()) == (side, side):
            return Path(m["_dir"])
    return shipped


def generator_chain(side: int, dist: Union[str, Path] = "dist", generator: Optional[Union[str, Path]] = None,
                    upscaler: Optional[Union[str, Path]] = None, engine: Optional[str] = None,
                    threads: Optional[int] = None) -> Pipeline:
    """The generator (default: the shipped one under ``dist``) plus as many 4x upscaler steps as
    ``side`` needs (64: none; 256: one; 1024: two)."""
    from ..errors import UserError
    from . import find_model, load
    if side not in SIDES:
        raise UserError(f"--size must be one of {', '.join(map(str, SIDES))}, got {side}")
    g = load(generator or find_model("generate", dist), engine=engine, threads=threads)
    steps, s = [g], step_output_side(g, None)
    while s < side:
        up = load(upscaler or upscaler_for(s, dist), engine=engine, threads=threads)
        steps.append(up)
        s = step_output_side(up, s)
    if s != side:
        raise UserError(f"the generator makes {step_output_side(g, None)} px images; the upscaler cannot reach {side} px")
    return Pipeline(steps, f"generate-{side}")



def entry_rank(e) -> tuple:
    """Among exported bundles of one task: ours before imported ones (as find_model), shipped first,
    fp16 first, then by variant."""
    return (e.role != "ours", not e.shipped, e.key != "tfjs_fp16", e.variant)


def compose_chain(side: int, entries: Sequence[Any]) -> List[Any]:
    """:func:`generator_chain` over catalogue entries (``manifest.list_models``, e.g. the TF.js
    bundles, which this host cannot load): the best-ranked generator, then 4x upscalers to ``side``,
    each the one whose tile is the image's side when there is one. ValueError(why) if it cannot."""
    gens = sorted((e for e in entries if e.task == "generate"), key=entry_rank)
    if not gens:
        raise ValueError("no TF.js bundle of the generator under dist/ (export it with --formats tfjs_fp16)")
    steps = [gens[0]]
    s = int(gens[0].manifest["_spec"].output.size[0])
    ups = sorted((e for e in entries if e.task == "upscale"), key=entry_rank)
    while s < side:
        if not ups:
            raise ValueError(f"the generator makes {s} px images and there is no TF.js bundle of the upscaler "
                             f"for {side} px")
        tiled = [e for e in ups if tuple(e.manifest["input"].get("size") or ()) == (s, s)]
        up = (tiled or ups)[0]
        steps.append(up)
        s *= int(up.manifest["_spec"].output.scale or 1)
    if s != side:
        raise ValueError(f"the generator makes {int(gens[0].manifest['_spec'].output.size[0])} px images; "
                         f"the upscaler cannot reach {side} px")
    return steps


def contact_sheet(images: Sequence[np.ndarray], cols: Optional[int] = None, pad: int = 2,
                  max_side: int = 2048):
    """The images on one grid (``cols`` default: the square root), white gaps of ``pad`` px; cells
    shrink so that the sheet stays within ``max_side``."""
    from PIL import Image
    n = len(images)
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    h, w = images[0].shape[:2]
    k = min(1.0, (max_side - pad * (cols + 1)) / (cols * w), (max_side - pad * (rows + 1)) / (rows * h))
    ch, cw = max(1, int(h * k)), max(1, int(w * k))
    sheet = Image.new("RGB", (cols * cw + (cols + 1) * pad, rows * ch + (rows + 1) * pad), "white")
    for i, im in enumerate(images):
        tile = Image.fromarray(np.asarray(im)[..., :3])
        if tile.size != (cw, ch):
            tile = tile.resize((cw, ch), Image.LANCZOS)
        r, c = divmod(i, cols)
        sheet.paste(tile, (pad + c * (cw + pad), pad + r * (ch + pad)))
    return sheet


def pipeline_path(dist: Union[str, Path], side: int, task: str = "generate") -> Path:
    """Where ``edgephoto chain`` writes the pipeline of ``side`` px images (``dist/pipelines/``)."""
    return Path(dist) / "pipelines" / f"{task}-{side}.json"


def open_generator(side: int, dist: Union[str, Path] = "dist", engine: Optional[str] = None,
                   threads: Optional[int] = None) -> Pipeline:
    """The pipeline file for ``side`` under ``dist`` when there is one, else the chain composed from
    the shipped generator and upscaler."""
    p = pipeline_path(dist, side)
    return load_pipeline(p, engine=engine, threads=threads) if p.is_file() else \
        generator_chain(side, dist, engine=engine, threads=threads)


def main(argv=None) -> int:
    for p in (sys.argv[1:] if argv is None else argv):
        pipe = load_pipeline(p)
        print(f"{p}: {pipe.describe()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
