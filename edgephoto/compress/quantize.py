"""Post-training quantization: the calibration set, ONNX int8 (static QDQ) and ONNX fp16.

Calibration is always a *named folder of real task images* (by default the task data's train
split, ``data/<task>/train/images``), never random noise; the folder and the number of images used
are recorded in every quantized manifest (``quantization.calibration``).

- ``CalibrationSet.from_folder(folder, size, spec)``: up to ``limit`` images, spread evenly over
  the sorted folder, each made into one model input as the runtime's inference mode does
  (:func:`model_window`: resize mode resizes the photo to the model's square input; tile mode takes
  a native-resolution tile) -> ``nchw()`` / ``nhwc()`` float32 arrays.
- ``quantize_onnx_int8(src, dst, calib)``: static QDQ quantization with onnxruntime's quantizer:
  per-channel symmetric int8 weights limited to 7 bits (``reduce_range``), uint8 asymmetric
  activations (MinMax calibration) -- the U8S8 pairing onnxruntime's x86/ARM kernels are fastest
  with. ``method="nncf"`` uses NNCF instead.

  Why 7-bit weights: on x86 CPUs without VNNI (AVX2, AVX-512F), onnxruntime's fused U8S8 kernels
  use ``VPMADDUBSW``, which adds two uint8 x int8 products into an int16 and *saturates* above
  32767 (255 x 127 x 2 = 64770). With full-range weights the matte student's int8 ONNX was off
  by mean 0.017 (max 0.36) from PyTorch while the same QDQ graph evaluated without fused kernels
  was off by 0.0013, and the error sat in the fuse head (a 1x1 conv over six logit maps: large
  weights times activations at the ends of their range). 7-bit weights (255 x 63 x 2 = 32130)
  cannot saturate, on any CPU, for the same speed; calibration method, calibration count,
  per-channel vs per-tensor and symmetric activations moved the error by less than 2x either
  way (README, *Quantization*).
- ``convert_onnx_fp16(src, dst)``: fp16 weights and compute, float32 graph inputs/outputs (so the
  runtime feeds the same float32 image to every ONNX model).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

import numpy as np

if TYPE_CHECKING:
    from ..runtime.spec import InputSpec, ModelSpec

DEFAULT_CALIB_IMAGES = 32


def preprocess(path: Path, size: int, inp: "InputSpec") -> np.ndarray:
    """One image file -> the model input HxWxC at ``size x size`` (the runtime's resize mode and
    :func:`~edgephoto.runtime.model.whole_input`: normalized, plus any context channels)."""
    from ..data.folders import load_rgb
    from ..runtime.model import whole_input

    return whole_input(load_rgb(path, (size, size)), inp)


def model_window(path: Path, size: int, spec: "ModelSpec") -> tuple:
    """One image file -> ``(model input HxWxC, region)`` as the spec's inference mode feeds it
    (:func:`~edgephoto.runtime.model.model_window`; resize mode: :func:`preprocess`, region None)."""
    from dataclasses import replace

    from ..data.folders import load_rgb
    from ..runtime import model as rt

    if spec.inference.mode not in ("tile", "pad"):
        return preprocess(path, size, spec.input), None
    if tuple(spec.input.hw or ()) != (size, size):   # the export's size is the tile
        spec = replace(spec, input=replace(spec.input, size=(size, size)),
                       inference=replace(spec.inference, tile=None))
    return rt.model_window(load_rgb(path), spec)


def pixel_grid(inp: "InputSpec") -> Optional[tuple]:
    """``(scale, zero_point)`` of the uint8 quantization that holds every pixel value of this input
    exactly (``q = pixel``), or None when no uint8 grid does.

    The normalized input is ``x = p * k/std + (lo - mean)/std`` with ``k = (hi - lo) / 255``: the grid
    is ``scale = k / std`` and ``zero_point = 255 * (mean - lo) / (hi - lo)``, which must be a whole
    number (the same for all channels; no context planes in the tensor; pixels divided by 255).
    Why it matters: mean 0.5 puts every pixel on a half step (zero point 127.5), so the quantized
    input moves each pixel by half a level, alternately up and down; a 4x upscaler sharpens that
    into 0.37 dB of PSNR-Y (measured on the real test split). Mean 128/255 puts them on the grid.
    """
    if inp.kind != "image" or inp.channels == "L" or inp.context or inp.scale != "255" \
            or len(set(inp.mean)) != 1 or len(set(inp.std)) != 1:
        return None
    lo, hi = inp.range
    k = (hi - lo) / 255.0
    zp = (inp.mean[0] - lo) / k
    if abs(zp - round(zp)) > 1e-3 or not 0 <= round(zp) <= 255:
        return None
    return float(k / inp.std[0]), int(round(zp))


@dataclass
class CalibrationSet:
    folder: Path
    paths: List[Path]
    images: np.ndarray          # N x H x W x 3 float32, normalized
    input_grid: Optional[tuple] = None   # pixel_grid of the input, when it has one

    @classmethod
    def from_folder(cls, folder: Path, size: int, spec: "ModelSpec",
                    limit: int = DEFAULT_CALIB_IMAGES) -> "CalibrationSet":
        from ..data.folders import DatasetError, list_images

        folder = Path(folder)
        if not folder.is_dir():
            raise DatasetError(f"calibration folder not found: {folder} (pass --calib DIR with real "
                               f"task images, or run `edgephoto data`)")
        paths = list_images(folder)
        if not paths:
            raise DatasetError(f"no images in calibration folder {folder}")
        if limit and len(paths) > limit:   # spread over the folder, deterministic
            idx = np.linspace(0, len(paths) - 1, limit).round().astype(int)
            paths = [paths[i] for i in sorted(set(idx))]
        imgs = np.stack([model_window(p, size, spec)[0] for p in paths]).astype(np.float32)
        return cls(folder, paths, imgs, pixel_grid(spec.input))

    @classmethod
    def from_latents(cls, spec: "ModelSpec", n: int = DEFAULT_CALIB_IMAGES, seed: int = 0) -> "CalibrationSet":
        """A generator's calibration inputs: ``n`` latents of ``seed`` (``runtime/latent.py``)."""
        from ..runtime.latent import latents
        return cls(Path(f"latents-seed-{seed}"), [], latents(seed, n, int(spec.input.latent_dim)))

    def __len__(self) -> int:
        return len(self.images)

    def nhwc(self) -> np.ndarray:
        return self.images

    def nchw(self) -> np.ndarray:
        if self.images.ndim != 4:   # vectors (latents) have no layout
            return self.images
        return np.ascontiguousarray(self.images.transpose(0, 3, 1, 2))

    def info(self) -> Dict[str, Any]:
        """The manifest's ``quantization.calibration`` block."""
        return {"folder": str(self.folder), "images": len(self.images)}


def int8_sensitive_nodes(src: Path, calib: CalibrationSet, k: int, input_name: str = "image",
                         images: int = 8) -> List[Dict[str, Any]]:
    """The ``k`` weighted layers (Conv, ConvTranspose, Gemm, MatMul) where int8 hurts most: the whole
    graph is quantized once, then each layer's output is compared with the fp32 graph's on ``images``
    calibration inputs; a layer's cost is how much its relative error exceeds the worst error it
    receives (error a layer only passes on is not its own). Best first: [{node, error, added}]."""
    import tempfile

    import onnx
    import onnxruntime as ort

    model = onnx.load(str(src))
    weighted = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul")]
    if not weighted or k <= 0:
        return []
    producer = {o: n.name for n in model.graph.node for o in n.output}
    outs = [n.output[0] for n in weighted]
    sub = CalibrationSet(calib.folder, calib.paths[:images], calib.images[:images], calib.input_grid)

    def with_outputs(m, names):
        have = {o.name for o in m.graph.output}
        for name in names:
            if name not in have:
                m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
        return m

    with tempfile.TemporaryDirectory(prefix="edgephoto-sens-") as tmp:
        q = Path(tmp) / "q.onnx"
        quantize_onnx_int8(src, q, sub, input_name=input_name)
        qmodel = onnx.load(str(q))
        # the quantizer keeps node names but may rename their outputs: match layers by node name
        q_out = {n.name: n.output[0] for n in qmodel.graph.node}
        weighted = [n for n in weighted if n.name in q_out]
        outs = [n.output[0] for n in weighted]
        f32 = Path(tmp) / "f.onnx"
        onnx.save(with_outputs(onnx.load(str(src)), outs), str(f32))
        q2 = Path(tmp) / "q2.onnx"
        onnx.save(with_outputs(qmodel, [q_out[n.name] for n in weighted]), str(q2))
        so = ort.SessionOptions()
        so.log_severity_level = 3
        ref = ort.InferenceSession(str(f32), so, providers=["CPUExecutionProvider"])
        qs = ort.InferenceSession(str(q2), so, providers=["CPUExecutionProvider"])
        err = {name: 0.0 for name in outs}
        x = sub.nchw()
        for i in range(len(x)):
            a = dict(zip([o.name for o in ref.get_outputs()], ref.run(None, {input_name: x[i:i + 1]})))
            b = dict(zip([o.name for o in qs.get_outputs()], qs.run(None, {input_name: x[i:i + 1]})))
            for n in weighted:
                name = n.output[0]
                fa, fb = a[name].astype(np.float64), b[q_out[n.name]].astype(np.float64)
                err[name] += float(np.linalg.norm(fb - fa) / (np.linalg.norm(fa) + 1e-12)) / len(x)

    def upstream_error(node) -> float:
        """The largest error among the weighted layers feeding ``node`` (through any ops)."""
        seen, stack, worst = set(), list(node.input), 0.0
        nodes = {n.name: n for n in model.graph.node}
        while stack:
            t = stack.pop()
            if t in seen or t not in producer:
                continue
            seen.add(t)
            if t in err:
                worst = max(worst, err[t])
                continue
            stack.extend(nodes[producer[t]].input)
        return worst

    ranked = sorted(({"node": n.name, "error": round(err[n.output[0]], 5),
                      "added": round(err[n.output[0]] - upstream_error(n), 5)} for n in weighted),
                    key=lambda d: -d["added"])
    return ranked[:k]


def quantize_onnx_int8(src: Path, dst: Path, calib: CalibrationSet, input_name: str = "image",
                       method: str = "onnxruntime", exclude: Sequence[str] = ()) -> Dict[str, Any]:
    """Static int8 QDQ quantization of ``src`` into ``dst``; returns the manifest's quantization block.
    ``exclude``: nodes left in float32 (the mixed-precision fallback of ``int8_sensitive_nodes``)."""
    src, dst = Path(src), Path(dst)
    data = calib.nchw()
    if method == "nncf":
        import nncf
        import onnx

        model = onnx.load(str(src))
        ds = nncf.Dataset([{input_name: data[i:i + 1]} for i in range(len(data))])
        ignored = nncf.IgnoredScope(names=list(exclude)) if exclude else None
        q = nncf.quantize(model, ds, subset_size=len(data), **({"ignored_scope": ignored} if ignored else {}))
        onnx.save(q, str(dst))
        scheme = {"tool": f"nncf {nncf.__version__}", "format": "QDQ"}
    elif method == "onnxruntime":
        import onnxruntime
        from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                              QuantType, quantize_static)

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.i = 0

            def get_next(self) -> Optional[Dict[str, np.ndarray]]:
                if self.i >= len(data):
                    return None
                self.i += 1
                return {input_name: data[self.i - 1:self.i]}

            def rewind(self) -> None:
                self.i = 0

        import logging

        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)   # quiet the "consider pre-processing" advice
        extra: Dict[str, Any] = {"WeightSymmetric": True, "ActivationSymmetric": False}
        if calib.input_grid:   # the input on the pixel grid, whatever the calibration images' range
            scale, zp = calib.input_grid
            extra["TensorQuantOverrides"] = {input_name: [{"scale": np.array(scale, np.float32),
                                                          "zero_point": np.array(zp, np.uint8)}]}
        try:
            quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                            reduce_range=True,   # no int16 saturation in U8S8 kernels (see above)
                            nodes_to_exclude=list(exclude) or None, extra_options=extra)
        finally:
            root.setLevel(level)
        scheme = {"tool": f"onnxruntime {onnxruntime.__version__} quantize_static", "format": "QDQ"}
    else:
        from ..errors import UserError
        raise UserError(f"unknown int8 quantizer '{method}' (known: onnxruntime, nncf)")
    weights = "int8 per-channel symmetric" + (", 7-bit range" if method == "onnxruntime" else "")
    grid = ({"input": f"uint8 on the pixel grid (scale {calib.input_grid[0]:.6g}, zero point "
                      f"{calib.input_grid[1]})"} if calib.input_grid and method == "onnxruntime" else {})
    fallback = {"float32_fallback_nodes": list(exclude)} if exclude else {}
    return {"mode": "static", "weights": weights, **grid, **fallback,
            "activations": "uint8 per-tensor asymmetric" if method == "onnxruntime" else "int8/uint8 (nncf)",
            "io": "float32", **scheme, "calibration": calib.info()}


def convert_onnx_fp16(src: Path, dst: Path) -> Dict[str, Any]:
    """fp16 weights and activations; graph inputs/outputs stay float32."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    half = convert_float_to_float16(model, keep_io_types=True)
    onnx.save(half, str(dst))
    return {"mode": "fp16", "weights": "float16", "activations": "float16", "io": "float32"}
