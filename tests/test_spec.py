"""The model contract (edgephoto/runtime/spec.py): one typed spec per task, the manifest schema
generated from it, and the same validation in the Python runtime and in web/edgephoto.js."""

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from edgephoto.runtime.manifest import ManifestError, load_manifest
from edgephoto.runtime.spec import (WEB_SCHEMA, InputSpec, ModelSpec, OutputSpec, check_manifest,
                                    manifest_schema, validate, web_schema_text)
from edgephoto.tasks import TASKS, get_task

REPO = Path(__file__).resolve().parents[1]


def _manifest(spec: ModelSpec, task: str = "matte") -> dict:
    return {"version": 1, "task": task, "format": "onnx", "precision": "fp32", "file": "model.onnx",
            **spec.to_manifest()}


def test_web_schema_is_generated_from_the_spec():
    assert WEB_SCHEMA.read_text() == web_schema_text(), \
        "web/manifest-schema.js is stale: run `python -m edgephoto.runtime.spec --write`"


@pytest.mark.parametrize("name", TASKS.names())
def test_every_task_spec_round_trips_through_a_valid_manifest(name):
    spec = get_task(name).spec
    m = json.loads(json.dumps(_manifest(spec, name)))      # what a manifest file holds
    validate(m, manifest_schema())
    assert ModelSpec.from_manifest(m) == spec
    resized = spec.with_input_size(64)
    if spec.input.kind == "latent":                   # a vector: nothing to resize
        assert resized == spec and spec.output.size is not None
        return
    assert resized.input.hw == (64, 64)
    if spec.inference.mode in ("tile", "pad"):
        assert resized.inference.tile == (64, 64)     # one tile is one model input


BAD = [  # (what is wrong, mutation of a good manifest, the start of the one-line error)
    ("unknown output field", lambda m: m["output"].update(colour="red"),
     "manifest.output has unknown field(s) colour"),
    ("unknown output kind", lambda m: m["output"].update(kind="sparkles"), "manifest.output.kind is \"sparkles\""),
    ("unknown mode", lambda m: m["inference"].update(mode="magic"), "manifest.inference.mode is \"magic\""),
    ("size of 3 values", lambda m: m["input"].update(size=[1, 2, 3]), "manifest.input.size takes at most 2"),
    ("negative index", lambda m: m["output"].update(index=-1), "manifest.output.index is -1"),
    ("string scale", lambda m: m["output"].update(scale="4"), "manifest.output.scale must be integer"),
    ("missing output", lambda m: m.pop("output"), "manifest lacks field output"),
    ("mean of text", lambda m: m["input"].update(mean=["a", 0, 0]), "manifest.input.mean[0] must be number"),
]


@pytest.mark.parametrize("what,mutate,message", BAD, ids=[b[0] for b in BAD])
def test_bad_manifest_is_one_clear_line(what, mutate, message):
    m = _manifest(get_task("matte").spec)
    mutate(m)
    with pytest.raises(ManifestError) as e:
        check_manifest(m)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_js_validator_says_what_python_says(tmp_path):
    """web/edgephoto.js validateManifest on the same good and bad manifests: same verdicts, same words."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    good = _manifest(get_task("retouch").spec, "retouch")
    cases = [good]
    for _, mutate, _ in BAD:
        m = copy.deepcopy(_manifest(get_task("matte").spec))
        mutate(m)
        cases.append(m)
    expected = []
    for m in cases:
        try:
            check_manifest(m)
            expected.append(None)
        except ManifestError as e:
            expected.append(str(e))
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    script = tmp_path / "check.mjs"
    script.write_text(
        f'import {{ validateManifest }} from {json.dumps((REPO / "web" / "edgephoto.js").as_uri())};\n'
        f'import {{ readFileSync }} from "node:fs";\n'
        f'const cases = JSON.parse(readFileSync({json.dumps(str(tmp_path / "cases.json"))}, "utf8"));\n'
        'console.log(JSON.stringify(cases.map((m) => { try { validateManifest(m); return null; } '
        'catch (e) { return e.message; } })));\n')
    p = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == expected


def test_every_output_kind_has_a_plugin_in_both_runtimes(tmp_path):
    """The schema's output kinds (Python's OUTPUT_KINDS) each have a class in web/edgephoto.js."""
    from edgephoto.runtime.model import OUTPUT_KINDS
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = tmp_path / "kinds.mjs"
    script.write_text(f'import {{ OUTPUT_KINDS }} from {json.dumps((REPO / "web" / "edgephoto.js").as_uri())};\n'
                      'console.log(JSON.stringify(Object.keys(OUTPUT_KINDS).sort()));\n')
    p = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == sorted(OUTPUT_KINDS.names()) == \
        manifest_schema()["properties"]["output"]["properties"]["kind"]["enum"]


def test_runtime_refuses_a_manifest_outside_the_contract(tmp_path):
    m = _manifest(ModelSpec(input=InputSpec(size=(64, 64)), output=OutputSpec(kind="alpha")))
    m["inference"]["tile_size"] = 64
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ManifestError, match=r"manifest.inference has unknown field\(s\) tile_size"):
        load_manifest(tmp_path)
