"""Get a source's package with the registry's ordinary client and unpack it; nothing is installed.

- Debian: ``apt-get download PKG`` (``apt-get update`` first, once, if the package lists are
  missing or do not know the package), unpacked with ``dpkg -x``;
- npm: ``npm pack PKG@VER`` (the published tarball, no dependencies, no install scripts);
- PyPI: ``pip download --no-deps PKG==VER``;
- installed: the package folder of an already installed Python distribution (no download).

``Clients`` is what ``edgephoto.fetch.core`` calls; tests hand it a fake with the same
``download`` method instead, so they never touch the network.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Callable, List, Optional

from .sources import Source, check_allowed

APT_LISTS = Path("/var/lib/apt/lists")
TIMEOUT_S = 3600  # the largest package here is a few hundred MB


class FetchError(Exception):
    """A source that could not be fetched or unpacked; ``str(e)`` is one line."""


def _run(cmd: List[str], cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except FileNotFoundError:
        raise FetchError(f"{cmd[0]} is not installed on this machine") from None
    except subprocess.TimeoutExpired:
        raise FetchError(f"{' '.join(cmd[:3])} took more than {TIMEOUT_S // 60} minutes") from None


def _why(r: subprocess.CompletedProcess) -> str:
    """The most telling line of a failed client's output (its errors, else its last line)."""
    lines = [l.strip() for l in (r.stderr + "\n" + r.stdout).splitlines() if l.strip()]
    errors = [l for l in lines if re.match(r"^(E:|npm (ERR!|error)|ERROR:|error:)", l)]
    # npm prints a code line then the explanation: the second one says more
    line = (errors[1] if len(errors) > 1 and errors[0].startswith("npm") else errors[0]) if errors \
        else (lines[-1] if lines else f"exit status {r.returncode}")
    return line[:240]


def _only_file(folder: Path, what: str) -> Path:
    got = [p for p in folder.iterdir() if p.is_file()]
    if len(got) != 1:
        raise FetchError(f"{what}: expected one downloaded file, found {len(got)}")
    return got[0]


class Clients:
    """The real downloader: one client per registry, run inside the cache."""

    def __init__(self, log: Callable[[str], None] = print) -> None:
        self.log = log
        self.apt_updated = False

    def download(self, src: Source, dest: Path) -> Path:
        """Fetch ``src`` into the empty folder ``dest``; return the package file (or folder)."""
        check_allowed(src.package)  # also here: this is where a name would reach the network
        return getattr(self, f"_{src.registry}")(src, dest)

    # -- Debian
    def _apt_update(self) -> None:
        self.log("  apt-get update (package lists are missing or stale)")
        r = _run(["apt-get", "update", "-qq"])
        self.apt_updated = True
        if r.returncode != 0:
            raise FetchError(f"apt-get update failed: {_why(r)}")

    def _debian(self, src: Source, dest: Path) -> Path:
        if not self.apt_updated and not any(APT_LISTS.glob("*_Packages*")):
            self._apt_update()
        cmd = ["apt-get", "download", "-q", src.spec]
        r = _run(cmd, cwd=dest)
        if r.returncode != 0 and not self.apt_updated:
            # an old list may name a version the mirror no longer has, or not know the package
            self._apt_update()
            r = _run(cmd, cwd=dest)
        if r.returncode != 0:
            raise FetchError(f"apt-get download {src.spec}: {_why(r)}")
        return _only_file(dest, f"apt-get download {src.spec}")

    # -- npm
    def _npm(self, src: Source, dest: Path) -> Path:
        # absolute: npm resolves --pack-destination against its cwd, which is ``dest`` itself
        r = _run(["npm", "pack", src.spec, "--pack-destination", str(Path(dest).resolve()), "--ignore-scripts",
                  "--no-audit", "--no-fund", "--loglevel=error"], cwd=dest)
        if r.returncode != 0:
            raise FetchError(f"npm pack {src.spec}: {_why(r)}")
        return _only_file(dest, f"npm pack {src.spec}")

    # -- PyPI
    def _pypi(self, src: Source, dest: Path) -> Path:
        r = _run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                  "-q", "-d", str(dest), src.spec])
        if r.returncode != 0:
            raise FetchError(f"pip download {src.spec}: {_why(r)}")
        return _only_file(dest, f"pip download {src.spec}")

    # -- already installed Python distribution: its import package folder
    def _installed(self, src: Source, dest: Path) -> Path:
        return installed_package_dir(src.package)


def installed_package_dir(distribution: str) -> Path:
    """The folder of an installed distribution's top-level package, without importing it."""
    import importlib.metadata as md
    try:
        dist = md.distribution(distribution)
    except md.PackageNotFoundError:
        raise FetchError(f"{distribution} is not installed in this Python ({sys.executable})") from None
    top = (dist.read_text("top_level.txt") or "").split()
    names = top or [distribution.replace("-", "_"), {"scikit-image": "skimage"}.get(distribution, "")]
    for name in filter(None, names):
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            return Path(list(spec.submodule_search_locations)[0])
    raise FetchError(f"cannot find the package folder of {distribution}")


def installed_version(distribution: str) -> Optional[str]:
    import importlib.metadata as md
    try:
        return md.version(distribution)
    except md.PackageNotFoundError:
        return None


def archive_version(src: Source, archive: Path) -> Optional[str]:
    """The version actually fetched (the row may leave it open)."""
    if src.registry == "installed":
        return installed_version(src.package)
    if archive.suffix == ".deb":
        r = _run(["dpkg-deb", "-f", str(archive), "Version"])
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.strip()
        parts = archive.name.split("_")  # pkg_version_arch.deb, ':' written as %3a
        return parts[1].replace("%3a", ":") if len(parts) == 3 else src.version
    return src.version


def unpack(archive: Path, into: Path) -> Path:
    """Unpack a package file into ``into`` (a folder is used as it is); return the tree's root."""
    if archive.is_dir():
        return archive
    into.mkdir(parents=True, exist_ok=True)
    name = archive.name.lower()
    if name.endswith(".deb"):
        r = _run(["dpkg", "-x", str(archive), str(into)])
        if r.returncode != 0:
            raise FetchError(f"dpkg -x {archive.name}: {_why(r)}")
    elif name.endswith((".tgz", ".tar.gz", ".tar.bz2", ".tar.xz", ".tar")):
        with tarfile.open(archive) as tf:
            tf.extractall(into, filter="data")  # no absolute paths, links out of the tree, devices
    elif name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(into)  # zipfile drops absolute paths and '..' on its own
    else:
        raise FetchError(f"do not know how to unpack {archive.name}")
    return into


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
