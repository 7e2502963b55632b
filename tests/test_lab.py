"""sRGB <-> CIE Lab in the two runtimes: ``edgephoto/runtime/lab.py`` (numpy) and ``web/edgephoto.js``.

The JS functions run in Node (no TF.js: pure arithmetic) on the same pixels as the Python ones: a
random image plus the 8 corners of the RGB cube, and Lab values in and out of the sRGB gamut. The
colorize pieces of the JS runtime built on them (input channels "L" and output kind ``ab``) are
checked against the Python runtime's ``normalize`` and ``AbOutput`` the same way; a whole exported
colorize model in Node is ``tests/test_web.py::test_node_colorize_matches_python_runtime``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edgephoto.runtime.lab import lab_to_rgb, rgb_to_l, rgb_to_lab

ROOT = Path(__file__).resolve().parents[1]
EDGEPHOTO_JS = (ROOT / "web" / "edgephoto.js").as_uri()

LAB_TOL = 1e-4    # Lab units: JS computes in doubles like lab.py's float64 (both store float32)
RGB_TOL = 1e-5    # sRGB in [0, 1]
# lab.py's default float32 arithmetic is itself ~8e-5 Lab units from float64 on a* (500 x a
# difference of cube roots): the runtime's own numbers are compared with that allowance
LAB_TOL_F32 = 2e-4


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (needed to run web/edgephoto.js)")
    return node


def _run_js(tmp: Path, body: str, inputs: dict) -> dict:
    """Run ``body`` (an ES module body; ``inp[name]`` are the inputs as Float32Array / Uint8Array,
    ``put(name, typedArray)`` writes an output) with edgephoto.js's exports in scope; returns the
    outputs as float32 arrays."""
    names = []
    for name, a in inputs.items():
        (tmp / f"in_{name}").write_bytes(np.ascontiguousarray(a).tobytes())
        names.append((name, "Uint8Array" if a.dtype == np.uint8 else "Float32Array"))
    loads = "\n".join(
        f"inp[{json.dumps(n)}] = new {t}(new Uint8Array(readFileSync({json.dumps(str(tmp / f'in_{n}'))})).buffer);"
        for n, t in names)
    script = f"""
import * as ep from {json.dumps(EDGEPHOTO_JS)};
import {{ readFileSync, writeFileSync }} from "node:fs";
const inp = {{}};
{loads}
const put = (name, a) => writeFileSync({json.dumps(str(tmp))} + "/out_" + name,
  new Uint8Array(Float32Array.from(a).buffer));
const outs = [];
const out = (name, a) => {{ outs.push(name); put(name, a); }};
{body}
console.log(JSON.stringify(outs));
"""
    (tmp / "t.mjs").write_text(script)
    p = subprocess.run([_node(), str(tmp / "t.mjs")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"node failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
    return {n: np.frombuffer((tmp / f"out_{n}").read_bytes(), np.float32) for n in json.loads(p.stdout)}


def _pixels() -> np.ndarray:
    """A random 32x32 image, 256 dark pixels (where X, Y or Z fall in the cube root's linear toe,
    t <= 0.008856) and the 8 corners of the RGB cube, as N x 3 uint8."""
    rng = np.random.default_rng(0)
    corners = np.array([[r, g, b] for r in (0, 255) for g in (0, 255) for b in (0, 255)], np.uint8)
    return np.concatenate([rng.integers(0, 256, (32 * 32, 3), np.uint8), rng.integers(0, 40, (256, 3), np.uint8),
                           corners])


def test_js_lab_formulas_match_lab_py(tmp_path):
    rgb = _pixels()
    rgbf = (rgb.astype(np.float32) / 255.0) ** 0.9            # float inputs in [0, 1] (not 8-bit levels)
    rng = np.random.default_rng(1)
    # Lab in and far out of gamut: L* 0..100, a*, b* +-128 (lab_to_rgb clips)
    wild = np.stack([rng.uniform(0, 100, 2000), rng.uniform(-128, 128, 2000), rng.uniform(-128, 128, 2000)],
                    -1).astype(np.float32)
    lab_ref = rgb_to_lab(rgb, np.float64)
    got = _run_js(tmp_path, """
out("lab", ep.rgbToLab(inp.rgb));
out("labf", ep.rgbToLab(inp.rgbf));
out("L", ep.rgbToL(inp.rgb));
out("back", ep.labToRgb(inp.lab));
out("wild", ep.labToRgb(inp.wild));
out("trip", ep.labToRgb(ep.rgbToLab(inp.rgb)));
""", {"rgb": rgb, "rgbf": rgbf, "lab": lab_ref.astype(np.float32), "wild": wild})
    lab_js = got["lab"].reshape(-1, 3)
    d = {
        "rgb_to_lab u8 (vs float64)": np.abs(lab_js - lab_ref).max(),
        "rgb_to_lab u8 (vs float32)": np.abs(lab_js - rgb_to_lab(rgb)).max(),
        "rgb_to_lab float (vs float64)": np.abs(got["labf"].reshape(-1, 3) - rgb_to_lab(rgbf, np.float64)).max(),
        "rgb_to_l": np.abs(got["L"] - rgb_to_l(rgb)).max(),
        "lab_to_rgb": np.abs(got["back"].reshape(-1, 3) - lab_to_rgb(lab_ref)).max(),
        "lab_to_rgb out of gamut": np.abs(got["wild"].reshape(-1, 3) - lab_to_rgb(wild)).max(),
        "round trip": np.abs(got["trip"].reshape(-1, 3) - rgb / 255.0).max(),
    }
    print("JS vs lab.py max abs: " + ", ".join(f"{k} {v:.2e}" for k, v in d.items()))
    assert d["rgb_to_lab u8 (vs float64)"] < LAB_TOL and d["rgb_to_lab float (vs float64)"] < LAB_TOL
    assert d["rgb_to_lab u8 (vs float32)"] < LAB_TOL_F32 and d["rgb_to_l"] < LAB_TOL
    assert d["lab_to_rgb"] < RGB_TOL and d["lab_to_rgb out of gamut"] < RGB_TOL
    assert d["round trip"] < RGB_TOL
    fy = (lab_ref[:, 0] + 16) / 116
    assert (fy < 0.2069).sum() > 20          # Y in the toe (fy < 7.787 * 0.008856 + 16/116): compared too
    # the cube's corners: black is L 0, white L 100 with a* = b* = 0 (the D65 white), in both
    assert np.allclose(lab_js[-8], [0, 0, 0], atol=1e-4) and np.allclose(lab_js[-1], [100, 0, 0], atol=1e-2)
    # out-of-gamut colours really were clipped, so the clipping path is compared too
    clipped = lab_to_rgb(wild)
    assert (clipped == 0).any() and (clipped > 1 - 1e-6).any()    # float32 1.055 - 0.055 is 1 - 6e-8


def test_js_colorize_input_and_ab_output_match_python_runtime(tmp_path):
    """normalize() with input.channels "L" and output kind ``ab`` (a* b* from output.range to
    output.units, Pillow "F" bilinear to the photo's size, the photo's own L*, alpha kept) in JS and
    in runtime/model.py, on a 37x53 photo and a 13x17x2 raw model output."""
    from edgephoto.runtime.imageio import Photo
    from edgephoto.runtime.model import OUTPUT_KINDS, normalize
    from edgephoto.runtime.spec import InputSpec, OutputSpec

    rng = np.random.default_rng(2)
    H, W, h, w = 37, 53, 13, 17
    rgb = rng.integers(0, 256, (H, W, 3), np.uint8)
    alpha = rng.integers(0, 256, (H, W), np.uint8)
    raw = np.tanh(rng.normal(0, 0.8, (1, h, w, 2))).astype(np.float32)      # in [-1, 1], some near +-1
    inp = InputSpec(channels="L", size=(H, W), range=(0.0, 1.0), mean=(0.5,), std=(0.5,))
    inp2 = InputSpec(channels="L", size=(H, W), range=(-1.0, 2.0), mean=(0.25,), std=(1.5,))
    out = OutputSpec(kind="ab", name="ab", channels=2, range=(-1.0, 1.0), units=(-110.0, 110.0))
    manifest = lambda i: {"input": {"channels": "L", "range": list(i.range), "mean": list(i.mean),  # noqa: E731
                                    "std": list(i.std), "scale": "255"}}
    spec_js = {"kind": "ab", "channels": 2, "range": [-1.0, 1.0], "units": [-110.0, 110.0]}
    got = _run_js(tmp_path, f"""
out("x", ep.normalize(inp.rgb, {H * W}, {json.dumps(manifest(inp))}));
out("x2", ep.normalize(inp.rgb, {H * W}, {json.dumps(manifest(inp2))}));
const r = ep.OUTPUT_KINDS.ab.postprocess({{ data: inp.raw, h: {h}, w: {w}, c: 2 }},
  {{ rgb: inp.rgb, alpha: inp.alpha, width: {W}, height: {H} }}, {json.dumps(spec_js)});
out("ab", r.ab); out("image", r.image); out("u8", r.imageData.data);
""", {"rgb": rgb, "alpha": alpha, "raw": raw})
    assert np.abs(got["x"].reshape(H, W, 1) - normalize(rgb, inp)).max() < 1e-5
    assert np.abs(got["x2"].reshape(H, W, 1) - normalize(rgb, inp2)).max() < 1e-5

    model = SimpleNamespace(spec=SimpleNamespace(output=out))
    ref = OUTPUT_KINDS.get("ab").postprocess(model, Photo(rgb=rgb, alpha=alpha), [raw])
    d_ab = np.abs(got["ab"].reshape(H, W, 2) - ref["ab"]).max()
    d_img = np.abs(got["image"].reshape(H, W, 3) - ref["image"]).max()
    u8 = got["u8"].reshape(H, W, 4).astype(np.uint8)
    rgb_ref = (ref["image"] * 255.0 + 0.5).astype(np.uint8)          # ImageOutput.image's rounding
    d_u8 = np.abs(u8[..., :3].astype(int) - rgb_ref).max()
    print(f"ab output JS vs Python: ab {d_ab:.2e}, image {d_img:.2e}, 8-bit {d_u8}")
    assert np.abs(ref["ab"]).max() > 60          # the units mapping is exercised (range x 110)
    assert d_ab < LAB_TOL and d_img < RGB_TOL and d_u8 <= 1
    assert np.array_equal(u8[..., 3], alpha)
