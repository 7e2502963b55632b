"""Write web/models.json: every TF.js bundle under dist/ for the editor page (run by `make web`).

    python3 web/make_index.py [--dist dist] [--out web/models.json]

Each entry: task, variant, key (tfjs_fp16 / tfjs_uint8), shipped, url (relative to the page in
web/). The page picks, per task, the shipped variant's tfjs_fp16 bundle (else the first shipped,
else any). Standard library only.
"""
import argparse
import json
import os
from pathlib import Path


def index(dist: Path, page_dir: Path) -> dict:
    models = []
    for mf in sorted(dist.glob("*/*/tfjs_*/manifest.json")):
        try:
            m = json.loads(mf.read_text())
        except (OSError, ValueError):
            continue
        models.append({
            "task": m.get("task", mf.parts[-4]), "variant": m.get("variant", mf.parts[-3]),
            "key": mf.parent.name, "shipped": bool(m.get("shipped", False)),
            "url": Path(os.path.relpath(mf.resolve(), page_dir.resolve())).as_posix(),
            "bytes": m.get("bytes"), "mode": m.get("inference", {}).get("mode"),
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
