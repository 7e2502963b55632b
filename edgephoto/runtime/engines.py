"""Inference engines: one small class per backend, registered in ``ENGINES``.

Every engine takes a model file and a thread count, and maps a float32 NHWC batch (the runtime's
canonical layout) to a list of float32 NHWC outputs. Layout conversion (the manifest's
``input.layout``) and int8/uint8 (de)quantization of inputs and outputs happen here, so the rest of
the runtime never sees them.

Backends are imported only when a model is loaded, never at import time of this module:

=================  ===========================  ===============================
name               module                       formats
=================  ===========================  ===============================
``litert``         ``ai_edge_litert.interpreter``  tflite
``tflite_runtime`` ``tflite_runtime.interpreter``  tflite (older name, Raspberry Pi)
``tensorflow``     ``tensorflow.lite``             tflite (fallback; heavy)
``onnxruntime``    ``onnxruntime``                 onnx
``tfjs``           ``node`` + TF.js (wasm)          tfjs (what the web page runs; heavy)
=================  ===========================  ===============================

Adding a backend is one class with ``@ENGINES.register("name")``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..errors import UserError
from ..registry import Registry

ENGINES = Registry("engine")


class EngineError(UserError, RuntimeError):
    """No usable engine, or the engine refused the model; one line for the user."""


def default_threads() -> int:
    return max(1, os.cpu_count() or 1)


def _to_layout(x: np.ndarray, layout: str) -> np.ndarray:
    """NHWC -> ``layout`` (NHWC or NCHW)."""
    if layout.upper() == "NCHW" and x.ndim == 4:
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x


def _from_layout(y: np.ndarray, layout: str) -> np.ndarray:
    """``layout`` -> NHWC (outputs share the input's layout)."""
    if layout.upper() == "NCHW" and y.ndim == 4:
        return np.ascontiguousarray(y.transpose(0, 2, 3, 1))
    if y.ndim == 3:  # (N, H, W): a single-channel map without its channel axis
        return y[..., None]
    return y


class Engine:
    """Base class. Subclasses set ``formats``/``modules`` and implement ``_open`` + ``_run``."""

    name = "?"
    formats: Sequence[str] = ()
    modules: Sequence[str] = ()        # importable top-level module(s); first found is used
    install_hint = ""
    heavy = False                      # never picked automatically when a light engine exists
    batches = False                    # run() takes N > 1 images at once (else one per call)
    native_layout = "NHWC"             # how the format's converters lay out image tensors

    @classmethod
    def available(cls) -> bool:
        for m in cls.modules:
            try:
                if importlib.util.find_spec(m) is not None:
                    return True
            except (ImportError, ValueError):
                continue
        return False

    def __init__(self, path: str, threads: Optional[int] = None, layout: str = "NHWC") -> None:
        self.path = str(path)
        self.threads = int(threads) if threads else default_threads()
        # a vector input (a generator's latent, layout NC) has no layout: its image outputs come in
        # the format's own
        self.layout = self.native_layout if layout.upper() == "NC" else layout
        try:
            self._open()
        except UserError:
            raise
        except ImportError as e:
            raise EngineError(f"engine '{self.name}' cannot be imported ({e}); {self.install_hint}") from None
        except Exception as e:  # the engine's own message, kept to one line
            msg = " ".join(str(e).split())[:300]
            raise EngineError(f"engine '{self.name}' cannot load {self.path}: {msg}") from None

    def _open(self) -> None:
        raise NotImplementedError

    def run(self, x: np.ndarray) -> List[np.ndarray]:
        """float32 NHWC batch -> list of float32 NHWC outputs."""
        return [_from_layout(np.asarray(y, np.float32), self.layout)
                for y in self._run(_to_layout(np.asarray(x, np.float32), self.layout))]

    def _run(self, x: np.ndarray) -> List[np.ndarray]:
        raise NotImplementedError

    def describe(self) -> Dict[str, Any]:
        return {"engine": self.name, "threads": self.threads}


# ---------------------------------------------------------------------------------------- TFLite
class _TFLiteEngine(Engine):
    formats = ("tflite",)

    def _interpreter_class(self):
        raise NotImplementedError

    def _open(self) -> None:
        Interpreter = self._interpreter_class()
        self.interp = Interpreter(model_path=self.path, num_threads=self.threads)
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]
        self.outs = self.interp.get_output_details()
        # the file knows its layout: a 3-channel image input with channels first is NCHW
        shape = list(self.inp["shape"])
        if len(shape) == 4:
            self.layout = "NCHW" if shape[1] in (1, 3) and shape[3] not in (1, 3) else "NHWC"

    @staticmethod
    def _quantize(x: np.ndarray, detail: Dict[str, Any]) -> np.ndarray:
        dtype = np.dtype(detail["dtype"])
        if dtype in (np.float32, np.float16):
            return x.astype(dtype)
        scale, zero = detail.get("quantization", (0.0, 0))
        if not scale:
            return x.astype(dtype)
        info = np.iinfo(dtype)
        q = np.round(x / scale + zero)
        return np.clip(q, info.min, info.max).astype(dtype)

    @staticmethod
    def _dequantize(y: np.ndarray, detail: Dict[str, Any]) -> np.ndarray:
        if np.issubdtype(y.dtype, np.floating):
            return y.astype(np.float32)
        scale, zero = detail.get("quantization", (0.0, 0))
        if not scale:
            return y.astype(np.float32)
        return (y.astype(np.float32) - zero) * np.float32(scale)

    def _run(self, x: np.ndarray) -> List[np.ndarray]:
        want = tuple(self.inp["shape"])
        if tuple(x.shape) != want:
            self.interp.resize_tensor_input(self.inp["index"], list(x.shape))
            self.interp.allocate_tensors()
            self.inp = self.interp.get_input_details()[0]
            self.outs = self.interp.get_output_details()
        self.interp.set_tensor(self.inp["index"], self._quantize(x, self.inp))
        self.interp.invoke()
        return [self._dequantize(self.interp.get_tensor(o["index"]), o) for o in self.outs]

    def describe(self) -> Dict[str, Any]:
        d = super().describe()
        d["input_dtype"] = np.dtype(self.inp["dtype"]).name
        return d


@ENGINES.register("litert")
class LiteRTEngine(_TFLiteEngine):
    name = "litert"
    modules = ("ai_edge_litert",)
    install_hint = "pip install ai-edge-litert"

    def _interpreter_class(self):
        return importlib.import_module("ai_edge_litert.interpreter").Interpreter


@ENGINES.register("tflite_runtime")
class TFLiteRuntimeEngine(_TFLiteEngine):
    name = "tflite_runtime"
    modules = ("tflite_runtime",)
    install_hint = "pip install tflite-runtime"

    def _interpreter_class(self):
        return importlib.import_module("tflite_runtime.interpreter").Interpreter


@ENGINES.register("tensorflow")
class TensorFlowLiteEngine(_TFLiteEngine):
    name = "tensorflow"
    modules = ("tensorflow",)
    install_hint = "pip install tensorflow (or the lighter ai-edge-litert)"
    heavy = True

    def _interpreter_class(self):
        return importlib.import_module("tensorflow").lite.Interpreter


# ------------------------------------------------------------------------------------------ ONNX
_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
              "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}


@ENGINES.register("onnxruntime")
class OnnxRuntimeEngine(Engine):
    name = "onnxruntime"
    formats = ("onnx",)
    native_layout = "NCHW"             # exported from PyTorch
    modules = ("onnxruntime",)
    install_hint = "pip install onnxruntime"

    def _open(self) -> None:
        ort = importlib.import_module("onnxruntime")
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.log_severity_level = 3
        self.sess = ort.InferenceSession(self.path, sess_options=so, providers=["CPUExecutionProvider"])
        self.inp = self.sess.get_inputs()[0]
        self.in_dtype = _ORT_TYPES.get(self.inp.type, np.float32)
        shape = list(self.inp.shape)
        if len(shape) == 4 and isinstance(shape[1], int) and isinstance(shape[3], int):
            # channels (3, or 8 with global context) are far fewer than pixels per side
            if shape[1] <= 16 < shape[3]:
                self.layout = "NCHW"
            elif shape[3] <= 16 < shape[1]:
                self.layout = "NHWC"

    def _run(self, x: np.ndarray) -> List[np.ndarray]:
        return [np.asarray(y, np.float32) for y in self.sess.run(None, {self.inp.name: x.astype(self.in_dtype)})]


# -------------------------------------------------------------------------------- TF.js (Node)
NODE_DIR = Path(__file__).resolve().parents[1] / "export" / "node"
NODE_TIMEOUT_S = 1800


def node_dir() -> Path:
    """Folder holding ``run_tfjs.js`` and its ``node_modules`` (``EDGEPHOTO_NODE_DIR`` overrides)."""
    return Path(os.environ.get("EDGEPHOTO_NODE_DIR", NODE_DIR))


def node_problem() -> Optional[str]:
    """None when node and the TF.js modules are installed, else a one-line reason."""
    d = node_dir()
    if not shutil.which("node"):
        return "node is not installed (apt-get install nodejs npm), needed to run TF.js bundles"
    for mod in ("@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm"):
        if not (d / "node_modules" / mod / "package.json").exists():
            return f"Node module {mod} missing: run `npm ci --prefix {d}` (or `make node`)"
    return None


@ENGINES.register("tfjs")
class TfjsNodeEngine(Engine):
    """A TF.js graph model run by TF.js 4.22 in Node on the wasm backend (``run_tfjs.js``): the
    numbers the web page computes, for parity checks and the bench. One Node process per call,
    so it takes whole batches."""

    name = "tfjs"
    formats = ("tfjs",)
    install_hint = "apt-get install nodejs npm; make node"
    heavy = True
    batches = True

    @classmethod
    def available(cls) -> bool:
        return node_problem() is None

    def _open(self) -> None:
        problem = node_problem()
        if problem:
            raise EngineError(problem)
        self.model_dir = Path(self.path).parent
        self.layout = "NHWC"

    def _run(self, x: np.ndarray) -> List[np.ndarray]:
        with tempfile.TemporaryDirectory(prefix="edgephoto-tfjs-") as tmp:
            inp, outp = Path(tmp) / "in.npy", Path(tmp) / "out.npy"
            np.save(inp, np.ascontiguousarray(x, np.float32))
            cmd = ["node", str(node_dir() / "run_tfjs.js"), str(self.model_dir), str(inp), str(outp),
                   "--threads", str(self.threads)]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=NODE_TIMEOUT_S)
            if r.returncode != 0 or not outp.exists():
                lines = [l.strip() for l in (r.stderr + r.stdout).splitlines() if l.strip()]
                raise EngineError(f"TF.js run in Node failed: {(lines[-1] if lines else 'no output')[:300]}")
            y = np.load(outp)
        return [y.reshape(y.shape[0], y.shape[1], y.shape[2], -1)]


# ------------------------------------------------------------------------------------- selection
def engines_for(fmt: str) -> List[str]:
    return [n for n, cls in ENGINES.items() if fmt in cls.formats]


def available_engines() -> List[str]:
    return [n for n, cls in ENGINES.items() if cls.available()]


def can_run(fmt: str) -> bool:
    return any(ENGINES.get(n).available() for n in engines_for(fmt))


def pick_engine(fmt: str, requested: Optional[str] = None, preferred: Optional[str] = None) -> type:
    """The engine class for a model format: ``requested`` (must work) or the best installed one.

    Automatic order: the manifest's ``engine`` if installed, then light engines in registry
    preference (litert, tflite_runtime, onnxruntime), then heavy ones (tensorflow).
    """
    names = engines_for(fmt)
    if not names:
        raise EngineError(f"no engine in this runtime runs '{fmt}' models "
                          f"(runnable formats: {', '.join(sorted({f for _, c in ENGINES.items() for f in c.formats}))})")
    if requested:
        cls = ENGINES.get(requested)  # unknown name -> RegistryError listing the known ones
        if fmt not in cls.formats:
            raise EngineError(f"engine '{requested}' does not run '{fmt}' models (use one of: {', '.join(names)})")
        if not cls.available():
            raise EngineError(f"engine '{requested}' is not installed ({cls.install_hint})")
        return cls
    order = sorted(names, key=lambda n: (n != preferred, ENGINES.get(n).heavy, _ORDER.index(n) if n in _ORDER else 99))
    for n in order:
        if ENGINES.get(n).available():
            return ENGINES.get(n)
    hints = " | ".join(ENGINES.get(n).install_hint.split(" (")[0] for n in order)
    raise EngineError(f"no inference engine for '{fmt}' models is installed; install one: {hints}")


_ORDER = ["litert", "tflite_runtime", "onnxruntime", "tensorflow"]
