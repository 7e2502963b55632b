"""Export: a checkpoint -> device artifacts (ONNX, TFLite, TF.js), each parity-checked, with a manifest.

    from edgephoto.export import export_variant
    results = export_variant("matte", "runs/matte/student/ckpt.pt", "student", shipped=True)

Rows of ``formats.FORMATS`` say what is built; ``export_variant`` builds the requested rows into
``<out_root>/<task>/<variant>/<key>/`` (``manifest.json`` + model file(s), schema in
``edgephoto.runtime.manifest``). Each row is built in a staging directory next to its destination,
checked for parity against the PyTorch model on held-out images, and renamed into place only when
complete and within tolerance; a failed row leaves nothing behind, is reported with a one-line
reason, and does not stop the others. Intermediates (fp32 ONNX, the onnx2tf SavedModel) live in a
temporary directory and are made once per variant, only when a requested row needs them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from .formats import BUILDERS, FORMATS, FORMAT_KEYS, FormatSpec, check_parity, default_formats, \
    get_format, resolve_formats

__all__ = ["export_variant", "ExportResult", "FORMATS", "FORMAT_KEYS", "default_formats", "get_format"]


@dataclass
class ExportResult:
    key: str
    status: str                       # "ok" | "failed"
    reason: str = ""                  # one line when failed
    dir: Optional[Path] = None        # final directory when ok
    manifest: Dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class _Cached:
    """Run ``fn`` once; re-raise its error for every later caller (one failure, many rows)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn, self.done, self.value, self.error = fn, False, None, None

    def __call__(self) -> Any:
        if not self.done:
            self.done = True
            try:
                self.value = self.fn()
            except Exception as e:  # noqa: BLE001 - re-raised to each dependent row
                self.error = e
        if self.error is not None:
            raise self.error
        return self.value


class ExportContext:
    """What every builder needs: the model, the task, calibration data and the intermediates."""

    def __init__(self, task, model, state, checkpoint: Path, variant: str, work: Path,
                 calib_dir: Path, progress: Callable[[str], None], int8_method: str = "onnxruntime",
                 size: Optional[int] = None, int8_fallback: int = 0):
        self.task, self.model, self.state = task, model, state
        self.checkpoint, self.variant, self.work = Path(checkpoint), variant, Path(work)
        # resize-mode models see what they were trained at; tiled (fully convolutional) ones are
        # trained on crops and exported at the task's tile size
        tiled = task.spec.inference.mode in ("tile", "pad")
        self.size = int(size or (task.input_size if tiled else state.get("input_size") or task.input_size))
        self.latent = task.spec.input.kind == "latent"   # a generator: its input is a noise vector
        self.input_name = task.spec.input.name if self.latent else "image"
        self.output_name = task.spec.output.name
        self.onnx_stem = "model"
        self.calib_dir = Path(calib_dir)
        self.progress = progress
        self.int8_method = int8_method
        self.int8_fallback = int(int8_fallback)   # onnx_int8: this many most-hurt layers stay float32
        self.module = task.export_module(model).eval()
        self.onnx_fp32 = _Cached(self._onnx_fp32)
        self.saved_model = _Cached(self._saved_model)
        self.calibration = _Cached(self._calibration)

    def _onnx_fp32(self) -> Path:
        from .onnx import export_onnx
        t0 = time.time()
        ch = self.task.input_channels
        shape = (1, ch, self.size, self.size) if not self.latent else (1, int(self.task.spec.input.latent_dim))
        p = export_onnx(self.module, self.size, self.work / f"{self.onnx_stem}.onnx",
                        self.input_name, self.output_name, shape=shape)
        self.progress(f"  onnx: traced fp32 graph at {'x'.join(map(str, shape))} ({time.time() - t0:.1f} s)")
        return p

    def _calibration(self):
        from ..compress.quantize import CalibrationSet
        if self.latent:
            c = CalibrationSet.from_latents(self.task.spec)
            self.progress(f"  calibration: {len(c)} seeded latents")
            return c
        c = CalibrationSet.from_folder(self.calib_dir, self.size, self.task.spec)
        self.progress(f"  calibration: {len(c)} images from {self.calib_dir}")
        return c

    def _saved_model(self) -> Path:
        from .onnx import ceil_pools_to_edge_pad
        from .tflite import onnx2tf_convert
        tf_dir = self.work / "for_tf"
        tf_dir.mkdir(exist_ok=True)
        onnx_path = tf_dir / f"{self.onnx_stem}.onnx"
        n = ceil_pools_to_edge_pad(self.onnx_fp32(), onnx_path)
        if n:
            self.progress(f"  onnx: {n} ceil-mode MaxPool(s) -> edge Pad + MaxPool for the TF path")
        t0 = time.time()
        self.progress("  onnx2tf: converting the fp32 ONNX graph to a SavedModel + TFLite ...")
        sm = onnx2tf_convert(onnx_path, self.work / "onnx2tf", self.calibration())
        self.progress(f"  onnx2tf: done ({time.time() - t0:.1f} s)")
        return sm


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    name = type(e).__name__
    if name not in ("UserError", "ConversionError", "DatasetError") and not msg.startswith(name):
        msg = f"{name}: {msg}"
    return msg[:400]


def _bundle_size(spec: FormatSpec, d: Path) -> int:
    if spec.format == "tfjs":
        return sum(p.stat().st_size for p in d.iterdir() if p.is_file() and p.name != "manifest.json")
    return (d / spec.file).stat().st_size


def _place(staging: Path, final: Path) -> None:
    """Replace ``final`` by the complete ``staging`` directory (old copy removed only after)."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def export_variant(task_name: str, checkpoint: Path, variant: str, out_root: Path = Path("dist"),
                   formats: Optional[Sequence[str]] = None, data_root: Optional[Path] = None,
                   calib_dir: Optional[Path] = None, shipped: bool = False,
                   progress: Callable[[str], None] = print, parity_images: int = 16,
                   int8_method: str = "onnxruntime", size: Optional[int] = None,
                   int8_fallback: int = 0, bar_stream: Any = None) -> List[ExportResult]:
    """Export one checkpoint to the rows ``formats`` (default: per table and ``shipped``);
    ``int8_fallback``: the onnx_int8 row keeps that many of its most int8-sensitive layers in float32;
    ``bar_stream``: a progress bar over the rows on that stream (plain lines in a log; ``edgephoto export``)."""
    from ..errors import UserError
    from ..runtime.manifest import MANIFEST_NAME, sha256_of, write_json_atomic
    from ..tasks import get_task
    from .. import __version__

    task = get_task(task_name)
    specs = resolve_formats(formats, shipped)
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise UserError(f"checkpoint not found: {checkpoint}")
    data_root = Path(data_root) if data_root else task.default_data_root()
    calib_dir = Path(calib_dir) if calib_dir else data_root / "train" / task.data_layout.get("inputs", "images")

    # importing the builders registers them in BUILDERS
    from . import onnx as _onnx, tflite as _tflite, tfjs as _tfjs  # noqa: F401
    from .macs import count_macs
    from .parity import compare, load_parity_set, run_artifact, task_metrics, torch_outputs
    from ..train.checkpoint import load_model

    try:
        model, state = load_model(checkpoint)
    except (ValueError, KeyError, RuntimeError) as e:
        raise UserError(f"cannot load checkpoint {checkpoint}: {_one_line(e)}") from None
    if state.get("task") and state["task"] != task.name:
        raise UserError(f"checkpoint {checkpoint} is for task '{state['task']}', not '{task.name}'")
    params = int(sum(p.numel() for p in model.parameters()))

    dest_root = Path(out_root) / task.name / variant
    dest_root.mkdir(parents=True, exist_ok=True)
    results: List[ExportResult] = []
    with tempfile.TemporaryDirectory(prefix=f"edgephoto-export-{variant}-") as work:
        ctx = ExportContext(task, model, state, checkpoint, variant, Path(work), calib_dir, progress,
                            int8_method, size, int8_fallback)
        pset = load_parity_set(task, data_root, ctx.size, parity_images)
        pset.reference = torch_outputs(ctx.module, pset.images)
        pset.reference_metrics = task_metrics(task, pset.reference, pset.targets, pset.regions, pset.scale) \
            if pset.targets else {}
        progress(f"export {task.name}/{variant}: {checkpoint} ({state.get('arch')}, {params:,} params, "
                 f"input {ctx.size}); parity on {len(pset.images)} {pset.split} images; "
                 f"rows: {', '.join(s.key for s in specs)}")
        macs_cache = _Cached(lambda: count_macs(ctx.onnx_fp32()))
        contract = task.spec.with_input_size(ctx.size)    # a tiled model's tile follows the size
        if contract.inference.mode in ("tile", "pad") and getattr(model, "tile_overlap", None) is not None:
            # a model without spatial kernels at full resolution (e.g. retouchnet_ctx) needs no
            # cross-faded overlap: fewer tiles for the same result
            ov = int(model.tile_overlap)
            contract = replace(contract, inference=replace(contract.inference, overlap=(ov, ov)))
        from ..utils.progress import Progress
        bar = Progress(f"export {task.name}/{variant}", len(specs), stream=bar_stream, what="row") \
            if bar_stream is not None else None
        for i, spec in enumerate(specs):
            if bar is not None:
                bar.update(i, f"now {spec.key}")
            t0 = time.time()
            staging = Path(tempfile.mkdtemp(prefix=f".tmp-{spec.key}-", dir=dest_root))
            try:
                progress(f"[{spec.key}] building from {spec.built_from} ...")
                extra = BUILDERS.get(spec.key)(ctx, spec, staging) or {}
                build_s = time.time() - t0
                try:
                    macs = macs_cache()
                except Exception:  # noqa: BLE001 - MACs are informative only
                    macs = None
                fpath = staging / spec.file
                row_contract = replace(contract, input=replace(
                    contract.input, name=ctx.input_name, layout="NC" if ctx.latent else spec.layout,
                    dtype=spec.input_dtype))
                man: Dict[str, Any] = {
                    "version": 1, "task": task.name, "variant": variant, "arch": state.get("arch"),
                    "key": spec.key, "format": spec.format, "precision": spec.precision,
                    "engine": spec.engine, "file": spec.file,
                    "sha256": sha256_of(staging if spec.format == "tfjs" else fpath),
                    "bytes": _bundle_size(spec, staging), "shipped": bool(shipped),
                    **row_contract.to_manifest(),
                    "params": params, "macs": macs,
                }
                if extra.get("quantization"):
                    man["quantization"] = extra["quantization"]
                if extra.get("files"):
                    man["files"] = extra["files"]
                man["source"] = {"checkpoint": str(checkpoint), "step": state.get("step"),
                                 "edgephoto": __version__,
                                 "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                 "built_from": spec.built_from, "convert_seconds": round(build_s, 2)}
                # parity runs the staged directory as a device would: manifest + file through
                # runtime.load on the row's engine; then the manifest records what it measured
                write_json_atomic(staging / MANIFEST_NAME, man)
                out = run_artifact(spec, staging, pset.images)
                parity, metrics = compare(task, pset, out)
                bad = check_parity(spec, parity)
                if bad:
                    raise RuntimeError(bad)
                man.update(parity=parity, metrics=metrics)
                write_json_atomic(staging / MANIFEST_NAME, man)
                for f in staging.iterdir():   # mkdtemp/mkstemp make owner-only files
                    f.chmod(0o644)
                staging.chmod(0o755)
                final = dest_root / spec.key
                _place(staging, final)
                dt = time.time() - t0
                pm = task.primary_metric
                quality = (f"{pm} {metrics[pm]:.4f} (drop {parity.get('quality_drop', 0.0):+.4f})  "
                           if pm in metrics else "")   # a generator's parity has no ground truth
                progress(f"[{spec.key}] ok  {man['bytes'] / 1e6:.2f} MB  max_abs {parity['max_abs']:.2e}  "
                         f"mean_abs {parity['mean_abs']:.2e}  {quality}{dt:.1f} s")
                results.append(ExportResult(spec.key, "ok", "", final, man, dt))
            except Exception as e:  # noqa: BLE001 - one row fails, the others go on
                shutil.rmtree(staging, ignore_errors=True)
                reason = _one_line(e)
                dt = time.time() - t0
                stale = dest_root / spec.key
                if stale.exists():   # an artifact of an older export no longer matches the checkpoint
                    shutil.rmtree(stale, ignore_errors=True)
                    reason += " (removed the previous export of this row)"
                progress(f"[{spec.key}] FAILED: {reason}")
                results.append(ExportResult(spec.key, "failed", reason, None, {}, dt))
        if bar is not None:
            bar.update(len(specs))
    record_status(dest_root, checkpoint, results)
    return results


STATUS_NAME = "export.json"


def record_status(dest_root: Path, checkpoint: Path, results: Sequence[ExportResult]) -> None:
    """``dist/<task>/<variant>/export.json``: the last outcome of every row ever requested for this
    variant (status, one-line reason), so the bench can list failed rows, which leave no directory."""
    import json

    from ..runtime.manifest import write_json_atomic
    path = Path(dest_root) / STATUS_NAME
    try:
        rows = json.loads(path.read_text()).get("rows", {}) if path.is_file() else {}
    except (OSError, ValueError):
        rows = {}
    for r in results:
        rows[r.key] = {"status": r.status, "reason": r.reason, "seconds": round(r.seconds, 1),
                       "checkpoint": str(checkpoint),
                       "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_json_atomic(path, {"variant": Path(dest_root).name, "rows": dict(sorted(rows.items()))})
