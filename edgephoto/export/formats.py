"""The export formats, as data: one row per artifact kind; everything else iterates over ``FORMATS``.

A row says what the artifact is (format, precision), which engine runs it and in which layout,
the file name inside its directory, what it is built from (another row's intermediate, see
``BUILT_FROM``), its parity tolerance and whether every variant gets it (``default="all"``) or
only the shipped one (``default="shipped"``).

Builders are registered per row key in ``BUILDERS`` by the modules that implement them
(``onnx.py``, ``tflite.py``, ``tfjs.py``); adding a format is one row here plus one builder.

Parity tolerances: fp32 rows are gated on ``max_abs`` (largest absolute difference of the
output (mask probability, image) against the PyTorch fp32 export module on the parity images);
reduced-precision rows (fp16, int8, uint8) on ``mean_abs`` (the mean difference; single pixels near
a decision edge may flip by much more) and on ``quality_drop`` (how much worse the task's primary
metric against the ground truth gets vs. the PyTorch model), counted in that metric's own
quantization tolerance (``metrics.MetricInfo.parity_tolerance``: 0.05 of MAE or L1, 1 dB of PSNR),
so 1.0 = one tolerance. fp16 gets a tenth of int8's allowance on both. (fp16 was gated on
``max_abs`` <= 0.02 until a sharply calibrated mask, logits x 6, put single edge pixels at 0.031
with a mean difference three orders of magnitude smaller.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence

from ..registry import Registry

# what a row is built from: the intermediates an export run produces once per variant
BUILT_FROM = {
    "torch": "the PyTorch export module (task.export_module) traced by torch.onnx.export",
    "onnx_fp32": "the fp32 ONNX graph of the same run",
    "saved_model": "the TF SavedModel onnx2tf makes from the fp32 ONNX graph (kept in temp only)",
}


@dataclass(frozen=True)
class FormatSpec:
    key: str                 # directory name under dist/<task>/<variant>/ (== <format>_<precision>)
    format: str              # onnx | tflite | tfjs
    precision: str           # fp32 | fp16 | int8 | uint8
    engine: str              # onnxruntime | litert | tfjs
    layout: str              # NCHW | NHWC
    file: str                # the model file the manifest names (TF.js: model.json + shards)
    built_from: str          # key of BUILT_FROM
    tolerance: Dict[str, float] = field(default_factory=dict)
    default: str = "all"     # "all" variants, or only the "shipped" one
    quantized: bool = False  # weights (and maybe activations) below fp16 -> quality drop checked
    description: str = ""

    @property
    def input_dtype(self) -> str:
        """What the runtime feeds. All rows take float32 (int8 TFLite keeps float in/out, see
        tflite.py: quantize/dequantize ops at the graph edges are cheaper than a second code path
        in every runtime)."""
        return "float32"


INT8_TOLERANCE = {"mean_abs": 0.05, "quality_drop": 1.0}
FP16_TOLERANCE = {"mean_abs": 0.005, "quality_drop": 0.1}

FORMATS: List[FormatSpec] = [
    FormatSpec("onnx_fp32", "onnx", "fp32", "onnxruntime", "NCHW", "model.onnx", "torch",
               {"max_abs": 1e-4}, "all", False, "ONNX opset 17, static 1x3xSxS input"),
    FormatSpec("onnx_fp16", "onnx", "fp16", "onnxruntime", "NCHW", "model.onnx", "onnx_fp32",
               FP16_TOLERANCE, "shipped", False,
               "fp16 weights and activations, float32 graph inputs/outputs (keep_io_types)"),
    FormatSpec("onnx_int8", "onnx", "int8", "onnxruntime", "NCHW", "model.onnx", "onnx_fp32",
               INT8_TOLERANCE, "all", True,
               "static QDQ int8, per-channel weights, calibrated on real task images"),
    FormatSpec("tflite_fp32", "tflite", "fp32", "litert", "NHWC", "model.tflite", "saved_model",
               {"max_abs": 1e-3}, "shipped", False, "onnx2tf float32 TFLite"),
    FormatSpec("tflite_fp16", "tflite", "fp16", "litert", "NHWC", "model.tflite", "saved_model",
               FP16_TOLERANCE, "shipped", False, "onnx2tf float16-weight TFLite (float compute)"),
    FormatSpec("tflite_int8", "tflite", "int8", "litert", "NHWC", "model.tflite", "saved_model",
               INT8_TOLERANCE, "shipped", True,
               "full-integer int8 (per-channel weights, int8 activations), float32 input/output"),
    FormatSpec("tfjs_fp16", "tfjs", "fp16", "tfjs", "NHWC", "model.json", "saved_model",
               FP16_TOLERANCE, "shipped", False, "TF.js graph model, float16-quantized weights"),
    FormatSpec("tfjs_uint8", "tfjs", "uint8", "tfjs", "NHWC", "model.json", "saved_model",
               INT8_TOLERANCE, "shipped", True,
               "TF.js graph model, uint8 affine-quantized weights (float compute)"),
]

FORMAT_KEYS = [f.key for f in FORMATS]
_BY_KEY = {f.key: f for f in FORMATS}

# key -> builder(ctx, spec, out_dir) -> Path of the model file; filled by onnx.py / tflite.py / tfjs.py
BUILDERS = Registry("export format")


def get_format(key: str) -> FormatSpec:
    try:
        return _BY_KEY[key]
    except KeyError:
        from ..errors import UserError
        raise UserError(f"unknown export format '{key}' (known: {', '.join(FORMAT_KEYS)})") from None


def default_formats(shipped: bool) -> List[str]:
    """Keys exported by default: every row for the shipped variant, ``default="all"`` rows else."""
    return [f.key for f in FORMATS if shipped or f.default == "all"]


def resolve_formats(keys: Sequence[str] | None, shipped: bool) -> List[FormatSpec]:
    """Rows for ``keys`` (None -> the defaults), in table order, unknown keys -> UserError."""
    if keys is None:
        keys = default_formats(shipped)
    wanted = {get_format(k).key for k in keys}
    return [f for f in FORMATS if f.key in wanted]


def check_parity(spec: FormatSpec, parity: Dict[str, float]) -> str | None:
    """None when ``parity`` is within the row's tolerance, else a one-line reason."""
    for name, limit in spec.tolerance.items():
        v = parity.get(name)
        if v is None:
            continue
        if name == "quality_drop" and parity.get("quality_metric"):   # in the metric's own units
            from ..metrics import metric_info
            limit = limit * metric_info(parity["quality_metric"]).parity_tolerance
        if not (v <= limit):  # also catches NaN
            return f"parity {name} {v:.3g} exceeds tolerance {limit:g}"
    return None
