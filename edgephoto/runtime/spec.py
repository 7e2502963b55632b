"""The model contract: what a model takes, what it gives back and how a photo is run through it.

Defined once, here, torch-free. Everything reads it: a task declares its ``ModelSpec``; export
writes it into every manifest (:meth:`ModelSpec.to_manifest`); the Python runtime parses it back
(:meth:`ModelSpec.from_manifest`) and hard-codes nothing about a model; the JSON Schema of a
manifest is generated from it (:func:`manifest_schema`; ``python -m edgephoto.runtime.spec --write``
refreshes ``web/manifest-schema.js``) and ``web/edgephoto.js`` checks manifests with it. :func:`validate` checks a manifest against that
schema in Python, with the same rules as the JS twin.

- ``InputSpec``: kind (``image`` / ``latent``), colour space (``channels``: RGB, BGR, L), layout,
  a fixed ``size`` or a ``multiple_of``, value ``range``, ``scale`` (/255 or /max), mean/std and the
  optional global-context channels;
- ``OutputSpec``: kind (``alpha``, ``image``, ...), ``scale`` (output pixels per input pixel: 1, or
  4 for a 4x upscaler), value range, channels, which engine output to read;
- ``InferenceSpec``: how a photo of any size becomes model inputs: ``resize``, or ``tile`` / ``pad``
  (full resolution; tiles of the input size, blended over ``overlap``; outputs ``scale`` times larger).

Kinds and modes are plug-ins (``INPUT_KINDS``, ``OUTPUT_KINDS``, ``MODES`` in ``runtime/model.py``);
the schema's enums are read from those registries, so a new kind is one class in each runtime.

Run ``python -m edgephoto.runtime.spec`` to print the schema, ``--write`` to refresh the web copy.
"""

from __future__ import annotations

import json
import sys
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .manifest import REQUIRED, ManifestError

SCHEMA_ID = "https://edgephoto.dev/manifest.schema.json"
# the JS runtime's copy, an ES module (imports work the same in a page and in Node, no fetch)
WEB_SCHEMA = Path(__file__).resolve().parents[2] / "web" / "manifest-schema.js"


def _enum(*values: str, registry: Optional[str] = None) -> Dict[str, Any]:
    """Field metadata: the allowed values (``registry``: read from a runtime registry at schema time)."""
    return {"enum": list(values), "registry": registry}


def _doc(text: str, **more: Any) -> Dict[str, Any]:
    return {"doc": text, **more}


# ----------------------------------------------------------------------------------- the types
@dataclass(frozen=True)
class InputSpec:
    kind: str = field(default="image", metadata=_doc(
        "what the model takes: a photo ('image') or a noise vector ('latent')", registry="input_kinds"))
    channels: str = field(default="RGB", metadata=_doc(
        "colour space and channel order of the photo channels", enum=["RGB", "BGR", "L"]))
    layout: str = field(default="NCHW", metadata=_doc("tensor layout", enum=["NCHW", "NHWC", "NC"]))
    size: Optional[Tuple[int, int]] = field(default=None, metadata=_doc(
        "fixed [height, width] of one model input; null: any size that is a multiple of multiple_of"))
    multiple_of: int = field(default=1, metadata=_doc("sides must be multiples of this", minimum=1))
    range: Tuple[float, float] = field(default=(0.0, 1.0), metadata=_doc(
        "[lo, hi] that pixel values 0..255 (or 0..max, see scale) are mapped to before mean/std"))
    scale: str = field(default="255", metadata=_doc(
        "divide pixels by 255, or by the largest value of the whole (resized) image", enum=["255", "max"]))
    mean: Tuple[float, ...] = field(default=(0.0, 0.0, 0.0), metadata=_doc("per-channel mean"))
    std: Tuple[float, ...] = field(default=(1.0, 1.0, 1.0), metadata=_doc("per-channel std"))
    dtype: str = field(default="float32", metadata=_doc("what the engine is fed", enum=["float32", "float16"]))
    name: str = field(default="image", metadata=_doc("name of the model input"))
    context: Optional[Dict[str, Any]] = field(default=None, metadata=_doc(
        "global context channels after the photo's (runtime/model.py context_planes): 'grid' G adds "
        "3 channels with the whole photo's G x G thumbnail, the same for every tile (HDRNet's global "
        "path); 'position' adds each pixel's (y, x) in the whole photo, in [-1, 1]"))
    latent_dim: Optional[int] = field(default=None, metadata=_doc(
        "length of the noise vector of a 'latent' input", minimum=1))

    def __post_init__(self) -> None:
        ctx = self.context
        if ctx is not None and not (ctx.get("grid") or ctx.get("position")):
            raise ManifestError(f"manifest input.context must be {{'grid': G, 'position': bool}}, got {ctx!r}")

    @property
    def hw(self) -> Optional[Tuple[int, int]]:
        return None if self.size is None else (int(self.size[0]), int(self.size[1]))


@dataclass(frozen=True)
class OutputSpec:
    kind: str = field(metadata=_doc("what the output means; the runtime's output-kind plug-in",
                                    registry="output_kinds"))
    channels: int = field(default=1, metadata=_doc("channels of the output", minimum=1))
    range: Tuple[float, float] = field(default=(0.0, 1.0), metadata=_doc("[lo, hi] of the values"))
    scale: int = field(default=1, metadata=_doc(
        "output pixels per input pixel along each side (4 for a 4x upscaler)", minimum=1))
    index: int = field(default=0, metadata=_doc("which engine output to read", minimum=0))
    size: Optional[Tuple[int, int]] = field(default=None, metadata=_doc(
        "fixed [height, width] of the output, for models without an input image (generators)"))
    name: str = field(default="output", metadata=_doc("name of the output"))
    meaning: str = field(default="", metadata=_doc("what a value means, for people"))
    units: Optional[Tuple[float, float]] = field(default=None, metadata=_doc(
        "the physical values that range's lo and hi stand for, when the kind has units (ab: CIE a*, b*)"))


@dataclass(frozen=True)
class InferenceSpec:
    mode: str = field(default="resize", metadata=_doc(
        "how a photo becomes model inputs", registry="modes"))
    resample: str = field(default="bilinear", metadata=_doc(
        "resampling filter of 'resize'", enum=["bilinear", "bicubic", "nearest", "lanczos", "box"]))
    tile: Optional[Tuple[int, int]] = field(default=None, metadata=_doc(
        "tile [height, width] in input pixels (= input.size)"))
    overlap: Optional[Tuple[int, int]] = field(default=None, metadata=_doc(
        "blended overlap of neighbouring tiles, in input pixels (default 32)"))


@dataclass(frozen=True)
class ModelSpec:
    input: InputSpec
    output: OutputSpec
    inference: InferenceSpec = field(default_factory=InferenceSpec)

    # ---- manifest <-> spec
    def to_manifest(self) -> Dict[str, Any]:
        """The manifest's ``input`` / ``output`` / ``inference`` blocks (JSON-ready; None fields left out)."""
        return {k: _to_json(getattr(self, k)) for k in ("input", "output", "inference")}

    @classmethod
    def from_manifest(cls, m: Dict[str, Any]) -> "ModelSpec":
        """Parse a manifest's blocks; a wrong or unknown field is one :class:`ManifestError` line."""
        return cls(input=_from_json(InputSpec, m.get("input"), "input"),
                   output=_from_json(OutputSpec, m.get("output"), "output"),
                   inference=_from_json(InferenceSpec, m.get("inference") or {}, "inference"))

    def with_input_size(self, size: int | Tuple[int, int]) -> "ModelSpec":
        """The same contract at another model input size (a tiled model's tile follows it)."""
        if self.input.kind == "latent":     # a generator's input is a vector: nothing to resize
            return self
        hw = (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))
        inf = replace(self.inference, tile=hw) if self.inference.mode in ("tile", "pad") else self.inference
        return replace(self, input=replace(self.input, size=hw), inference=inf)


def _to_json(obj: Any) -> Any:
    if is_dataclass(obj):
        return {f.name: _to_json(getattr(obj, f.name)) for f in fields(obj) if getattr(obj, f.name) is not None}
    if isinstance(obj, tuple):
        return [_to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _to_json(v) for k, v in obj.items()}
    return obj


def _from_json(cls, data: Any, where: str):
    if not isinstance(data, dict):
        raise ManifestError(f"manifest {where} must be an object, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ManifestError(f"manifest {where} has unknown field(s) {', '.join(unknown)} "
                            f"(known: {', '.join(known)})")
    hints = typing.get_type_hints(cls)
    kw = {}
    for name, f in known.items():
        if name not in data:
            if f.default is MISSING and f.default_factory is MISSING:  # type: ignore[misc]
                raise ManifestError(f"manifest {where} lacks field {name}")
            continue
        kw[name] = _coerce(data[name], hints[name], f"{where}.{name}")
    return cls(**kw)


def _coerce(v: Any, tp: Any, where: str) -> Any:
    """A JSON value as the annotated type: lists become tuples, an int size becomes [n, n]."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union:                    # Optional[X]
        if v is None:
            return None
        return _coerce(v, next(a for a in args if a is not type(None)), where)
    if origin is tuple:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and len(args) == 2 and args[1] is not Ellipsis:
            v = [v, v]                            # "size": 192 means [192, 192]
        if not isinstance(v, (list, tuple)):
            raise ManifestError(f"manifest {where} must be a list, got {v!r}")
        item = args[0]
        if args[-1] is not Ellipsis and len(v) != len(args):
            raise ManifestError(f"manifest {where} must have {len(args)} values, got {v!r}")
        return tuple(_coerce(x, item, where) for x in v)
    if tp is int:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
            raise ManifestError(f"manifest {where} must be an integer, got {v!r}")
        return int(v)
    if tp is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ManifestError(f"manifest {where} must be a number, got {v!r}")
        return float(v)
    if tp is str:
        if not isinstance(v, (str, int)) or isinstance(v, bool):
            raise ManifestError(f"manifest {where} must be a string, got {v!r}")
        return str(v)
    if origin is dict or tp is dict:
        if not isinstance(v, dict):
            raise ManifestError(f"manifest {where} must be an object, got {v!r}")
        return dict(v)
    return v


# ------------------------------------------------------------------------------------- schema
def _registry_names(which: str) -> List[str]:
    from . import model   # the plug-in registries (importing them registers the built-in kinds)
    reg = {"input_kinds": model.INPUT_KINDS, "output_kinds": model.OUTPUT_KINDS, "modes": model.MODES}[which]
    return sorted(reg.names())


def _type_schema(tp: Any) -> Dict[str, Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union:
        inner = _type_schema(next(a for a in args if a is not type(None)))
        return {**inner, "type": [inner["type"], "null"]} if isinstance(inner.get("type"), str) else inner
    if origin is tuple:
        item = _type_schema(args[0])
        if args[-1] is Ellipsis:
            return {"type": "array", "items": item, "minItems": 1}
        return {"type": "array", "items": item, "minItems": len(args), "maxItems": len(args)}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    return {"type": "object"}


def _block_schema(cls) -> Dict[str, Any]:
    hints = typing.get_type_hints(cls)
    props, required = {}, []
    for f in fields(cls):
        s = _type_schema(hints[f.name])
        if f.name in ("size", "tile", "overlap"):        # an integer n means [n, n]
            low = 0 if f.name == "overlap" else 1
            s = {"type": ["array", "integer", "null"], "items": {"type": "integer", "minimum": low},
                 "minItems": 2, "maxItems": 2, "minimum": low}
        md = f.metadata
        if md.get("registry"):
            s["enum"] = _registry_names(md["registry"])
        elif md.get("enum"):
            s["enum"] = list(md["enum"])
        if "minimum" in md:
            s["minimum"] = md["minimum"]
        if md.get("doc"):
            s["description"] = md["doc"]
        props[f.name] = s
        if f.default is MISSING and f.default_factory is MISSING:  # type: ignore[misc]
            required.append(f.name)
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


# the manifest's top level besides the spec: what the artifact is and where it came from
_ARTIFACT_FIELDS: Dict[str, Dict[str, Any]] = {
    "version": {"type": "integer", "minimum": 1, "description": "manifest format version"},
    "task": {"type": "string", "description": "registered task"},
    "variant": {"type": "string"},
    "arch": {"type": "string", "description": "architecture, or 'imported'"},
    "key": {"type": "string", "description": "format key of the formats table, e.g. tflite_int8"},
    "format": {"type": "string", "enum": ["onnx", "tflite", "tfjs"]},
    "precision": {"type": "string", "enum": ["fp32", "fp16", "int8", "uint8"]},
    "engine": {"type": "string"},
    "file": {"type": "string", "description": "the model file, relative to the manifest"},
    "sha256": {"type": "string"},
    "bytes": {"type": "integer", "minimum": 0},
    "shipped": {"type": "boolean"},
    "ship_format": {"type": "boolean", "description": "within the shipped variant, the format a device runs by default"},
    "role": {"type": "string", "enum": ["ours", "peer", "teacher"]},
    "params": {"type": ["integer", "null"]},
    "macs": {"type": ["number", "null"]},
}


def manifest_schema() -> Dict[str, Any]:
    """JSON Schema (draft 2020-12 subset that :func:`validate` and the JS twin implement)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "edgephoto model manifest",
        "description": "generated from edgephoto/runtime/spec.py; do not edit by hand",
        "type": "object",
        "properties": {**_ARTIFACT_FIELDS,
                       "input": _block_schema(InputSpec),
                       "output": _block_schema(OutputSpec),
                       "inference": _block_schema(InferenceSpec)},
        "required": list(REQUIRED),
        "additionalProperties": True,   # parity, metrics, source, quantization...: reports, not contract
    }


_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is_type(v: Any, t: str) -> bool:
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, _JSON_TYPES[t])


def _show(v: Any) -> str:
    """A value in an error message, as JS's JSON.stringify writes it (so both runtimes say the same)."""
    if isinstance(v, float) and v == int(v):
        v = int(v)
    return json.dumps(v, separators=(",", ":"))[:60]


def validate(doc: Any, schema: Dict[str, Any], where: str = "manifest") -> None:
    """Check ``doc`` against ``schema`` (type, enum, required, properties, additionalProperties,
    items, minItems/maxItems, minimum); the first problem is one :class:`ManifestError` line."""
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_is_type(doc, t) for t in types):
            raise ManifestError(f"{where} must be {' or '.join(types)}, got {_show(doc)}")
    if "enum" in schema and doc not in schema["enum"]:
        raise ManifestError(f"{where} is {_show(doc)}; expected one of: "
                            f"{', '.join(map(str, schema['enum']))}")
    if "minimum" in schema and _is_type(doc, "number") and doc < schema["minimum"]:
        raise ManifestError(f"{where} is {doc}; the minimum is {schema['minimum']}")
    if isinstance(doc, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in doc:
                raise ManifestError(f"{where} lacks field {k}")
        if schema.get("additionalProperties") is False:
            extra = sorted(set(doc) - set(props))
            if extra:
                raise ManifestError(f"{where} has unknown field(s) {', '.join(extra)} "
                                    f"(known: {', '.join(props)})")
        for k, sub in props.items():
            if k in doc:
                validate(doc[k], sub, f"{where}.{k}")
    if isinstance(doc, list):
        if "minItems" in schema and len(doc) < schema["minItems"]:
            raise ManifestError(f"{where} needs at least {schema['minItems']} values, got {len(doc)}")
        if "maxItems" in schema and len(doc) > schema["maxItems"]:
            raise ManifestError(f"{where} takes at most {schema['maxItems']} values, got {len(doc)}")
        if "items" in schema:
            for i, v in enumerate(doc):
                validate(v, schema["items"], f"{where}[{i}]")


_SCHEMA: Optional[Dict[str, Any]] = None


def check_manifest(m: Dict[str, Any]) -> ModelSpec:
    """Validate a manifest dict against :func:`manifest_schema`, then parse its spec."""
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = manifest_schema()
    validate({k: v for k, v in m.items() if not k.startswith("_")}, _SCHEMA)
    return ModelSpec.from_manifest(m)


def schema_text() -> str:
    """The JSON Schema as text (what ``python -m edgephoto.runtime.spec`` prints)."""
    return json.dumps(manifest_schema(), indent=2) + "\n"


def web_schema_text() -> str:
    """``web/manifest-schema.js``: the schema as an ES module for ``web/edgephoto.js``."""
    return ("// generated by `python -m edgephoto.runtime.spec --write` from edgephoto/runtime/spec.py;\n"
            "// do not edit (tests/test_spec.py checks it is current)\n"
            "export default " + schema_text().rstrip("\n") + ";\n")


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--write" in argv:
        WEB_SCHEMA.write_text(web_schema_text())
        print(f"wrote {WEB_SCHEMA}")
    else:
        sys.stdout.write(schema_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
