"""Write web/models.json: every TF.js bundle under dist/ for the editor page (run by `make web`).

    .venv/bin/python web/make_index.py [--dist dist] [--out web/models.json]

Each entry: task, variant, key (tfjs_fp16 / tfjs_uint8), shipped, url (relative to the page in
web/). The page picks, per task, the shipped variant's tfjs_fp16 bundle (else the first shipped,
else any). The bundles come from the package's one model lookup (a manifest that breaks the
contract is left out, as the runtime would refuse it).
"""
import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout, not installed
from edgephoto.runtime.manifest import MANIFEST_NAME, list_models  # noqa: E402


def index(dist: Path, page_dir: Path) -> dict:
    models = []
    for e in list_models(dist, key_prefix="tfjs_"):
        models.append({
            "task": e.task, "variant": e.variant, "key": e.key, "shipped": e.shipped,
            "url": Path(os.path.relpath((e.dir / MANIFEST_NAME).resolve(), page_dir.resolve())).as_posix(),
            "bytes": e.manifest.get("bytes"), "mode": e.manifest["inference"].get("mode"),
        })
    models.sort(key=lambda e: (e["task"], not e["shipped"], e["key"] != "tfjs_fp16", e["variant"]))
    return {"models": models}


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


if __name__ == "__main__":
    main()
