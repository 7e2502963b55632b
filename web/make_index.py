"""Write web/models.json: every TF.js bundle under dist/ for the editor page (run by `make web`),
and the art generator's pipelines for the page.

    .venv/bin/python web/make_index.py [--dist dist] [--out web/models.json]

Each model entry: task, variant, key (tfjs_fp16 / tfjs_uint8), shipped, url (relative to the page in
web/). The page picks, per task, the shipped variant's tfjs_fp16 bundle (else the first shipped,
else any). The bundles come from the package's one model lookup (a manifest that breaks the
contract is left out, as the runtime would refuse it).

Pipelines (the page's "Generate" section): ``edgephoto chain`` writes
``dist/pipelines/generate-<side>.json`` naming the device models (ONNX / TFLite); the page runs
TF.js, so for each side (64, 256, 1024) this writes a browser variant beside it,
``dist/pipelines/generate-<side>.tfjs.json``: the same format (``runtime/pipeline.py``: steps by path
relative to the file + the step's manifest sha256, so a re-exported bundle is refused until this
runs again), each step the TF.js bundle (tfjs_fp16, else tfjs_uint8, else another tfjs_*) of the
same variant as the device pipeline's step. A side without a device pipeline file, or one whose
steps are not all exported to TF.js (``edgephoto chain`` exports the 64-px upscaler tile in the
ship format only), is composed as the Python runtime does without a file
(``pipeline.generator_chain``): the page's generator bundle plus 4x upscaler bundles, the one whose
tile is the image's side when there is one; ``source`` says which. The chain is checked with ``check_chain``; a side
that cannot be made is listed under ``pipelines_skipped`` with the reason. models.json lists the
written files under ``pipelines`` (url relative to the page). Stale ``generate-*.tfjs.json`` files
are removed.
"""
import argparse
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout, not installed
from edgephoto.runtime.manifest import MANIFEST_NAME, ManifestError, list_models, load_manifest, write_json_atomic  # noqa: E402
from edgephoto.runtime.pipeline import (PIPELINE_VERSION, SIDES, check_chain, compose_chain, pipeline_path,  # noqa: E402
                                       read_pipeline)

BROWSER_SUFFIX = ".tfjs.json"
TFJS_PREFERENCE = ("tfjs_fp16", "tfjs_uint8")   # then any other tfjs_* key of the variant


class NoBundle(ValueError):
    """A device pipeline's step has no TF.js bundle: the side is composed instead."""


def _abs(p: Path) -> str:
    """An absolute path with symlinks kept: URLs follow the served tree (e.g. dist/ a symlink beside web/)."""
    return os.path.abspath(p)


def browser_pipeline_path(dist: Path, side: int) -> Path:
    p = pipeline_path(dist, side)
    return p.with_name(p.name[:-len(".json")] + BROWSER_SUFFIX)


def _tfjs_of(step_dir: Path, bundles) -> "object | None":
    """The TF.js bundle of the variant ``step_dir`` belongs to (``dist/<task>/<variant>/<key>``)."""
    step_dir = step_dir.resolve()
    same = sorted((e for e in bundles if e.dir.resolve().parent == step_dir.parent), key=lambda e: e.key)
    for key in (step_dir.name,) + TFJS_PREFERENCE:
        for e in same:
            if e.key == key:
                return e
    return same[0] if same else None


def _translate(src: Path, bundles) -> list:
    """The TF.js bundles of the steps of the device pipeline file ``src``; ValueError(why) if not."""
    try:
        _, dirs = read_pipeline(src)
    except ManifestError as e:
        raise ValueError(str(e)) from None
    out = []
    for i, d in enumerate(dirs):
        e = _tfjs_of(d, bundles)
        if e is None:
            raise NoBundle(f"{src.name}'s step {i + 1} ({d}) has no TF.js bundle beside it")
        out.append(e)
    return out


def _check(steps) -> int:
    """check_chain on the manifests (no engine needed); the chain's output side."""
    sides = check_chain([SimpleNamespace(spec=e.manifest["_spec"], task=e.task) for e in steps])
    return sides[-1]


def pipelines(dist: Path, page_dir: Path, bundles) -> tuple:
    """Write the browser pipeline files; -> (entries for models.json, skipped sides with reasons)."""
    entries, skipped, written = [], [], set()
    for side in SIDES:
        src = pipeline_path(dist, side)
        source = src.name if src.is_file() else "composed (no device pipeline file)"
        try:
            try:
                steps = _translate(src, bundles) if src.is_file() else compose_chain(side, bundles)
            except NoBundle as e:   # e.g. the chain's 64-px upscaler tile exported in the ship format only
                steps, source = compose_chain(side, bundles), f"composed ({e})"
            got = _check(steps)
            if got != side:
                raise ValueError(f"the chain makes {got} px images, not {side}")
        except (ValueError, ManifestError) as e:
            skipped.append({"side": side, "reason": str(e)})
            continue
        out = browser_pipeline_path(dist, side)
        base = _abs(out.parent)
        doc = {"version": PIPELINE_VERSION, "kind": "pipeline", "name": f"generate-{side}", "side": side,
               "format": "tfjs", "source": source,
               "steps": [{"path": Path(os.path.relpath(_abs(e.dir), base)).as_posix(),
                          "sha256": str(e.manifest.get("sha256") or ""), "task": e.task} for e in steps]}
        write_json_atomic(out, doc)
        written.add(out.name)
        entries.append({
            "task": "generate", "name": doc["name"], "side": side,
            "url": Path(os.path.relpath(_abs(out), _abs(page_dir))).as_posix(),
            "steps": [f"{e.task}/{e.variant} {e.key}" for e in steps], "source": doc["source"],
        })
    pdir = dist / "pipelines"
    if pdir.is_dir():
        for old in pdir.glob(f"generate-*{BROWSER_SUFFIX}"):
            if old.name not in written:
                old.unlink()
    return entries, skipped


def index(dist: Path, page_dir: Path) -> dict:
    models = []
    bundles = list_models(dist, key_prefix="tfjs_")
    for e in bundles:
        models.append({
            "task": e.task, "variant": e.variant, "key": e.key, "shipped": e.shipped,
            "url": Path(os.path.relpath(_abs(e.dir / MANIFEST_NAME), _abs(page_dir))).as_posix(),
            "bytes": e.manifest.get("bytes"), "mode": e.manifest["inference"].get("mode"),
        })
    models.sort(key=lambda e: (e["task"], not e["shipped"], e["key"] != "tfjs_fp16", e["variant"]))
    pipes, skipped = pipelines(dist, page_dir, bundles)
    return {"models": models, "pipelines": pipes, "pipelines_skipped": skipped}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dist", default="dist")
    ap.add_argument("--out", default="web/models.json")
    a = ap.parse_args()
    out = Path(a.out)
    data = index(Path(a.dist), out.parent)
    out.write_text(json.dumps(data, indent=2) + "\n")
    tasks = sorted({m["task"] for m in data["models"]})
    print(f"{out}: {len(data['models'])} TF.js bundle(s) for {', '.join(tasks) or 'no task (run make export)'}")
    if data["pipelines"]:
        print(f"{out}: generator pipelines for {', '.join(str(p['side']) for p in data['pipelines'])} px "
              f"({', '.join(p['url'] for p in data['pipelines'])})")
    if any(m["task"] == "generate" for m in data["models"]) or data["pipelines"]:
        for s in data["pipelines_skipped"]:
            print(f"{out}: no {s['side']} px generator pipeline: {s['reason']}")


if __name__ == "__main__":
    main()
