"""``make test-aarch64``: the device runtime on aarch64 (a Raspberry Pi's CPU) under QEMU user mode.

A functional proof that ``edgephoto run`` works on ARM with only numpy, Pillow and one engine, and
gives the same outputs as on x86 -- not a latency measurement (emulation is 100-200x slower than
a real Cortex-A72; the times printed are labelled as emulated).

Everything lives under ``build/aarch64/`` (git-ignored) and is cached; a second run reuses it:

- ``apt/``: a private apt configuration (its own lists, cache and an empty dpkg status; the host's
  dpkg is never touched) for Debian bookworm ``main``, arm64 + amd64, using the mirror and keyring
  of the host's own apt sources (``EDGEPHOTO_APT_MIRROR`` / ``EDGEPHOTO_APT_KEYRING`` override them);
- ``sysroot/``: ``python3.11`` and ``libstdc++6`` with their dependencies, downloaded with
  ``apt-get install --download-only`` and unpacked with ``dpkg -x``; the standard library
  byte-compiled; a Raspberry Pi 4's ``/proc/cpuinfo`` (onnxruntime segfaults on import when it
  sees the host's x86 one; with ``qemu -L`` the guest reads this file);
- ``qemu/``: ``qemu-user-static:amd64`` fetched with ``apt-get download`` and unpacked (no install);
- ``wheels/``: the aarch64 wheels of the runtime, fetched by pip (``--only-binary=:all:
  --platform manylinux_*_aarch64``) at the host venv's versions (numpy, Pillow, ai-edge-litert,
  onnxruntime, and their dependencies at the versions the venv has), with ``LICENSES.txt``;
- ``site/litert/``, ``site/onnxruntime/``: one ``pip install --target`` per engine -- numpy, Pillow and
  that engine only; no torch, TensorFlow or onnx. The edgephoto source goes on ``PYTHONPATH``;
- ``dist/`` (default ``--dist``): artifacts exported from the committed starter weights when a task
  has no shipped model there (``compress --weights starter`` + ``export`` of the ONNX and TFLite
  rows; checkpoints in ``runs/``, the exporter's small built-in held-out set in ``data/.fallback/``);
- ``work/``: this run's photos, outputs and logs; ``report.json``: the result.

For every registered task, the shipped variant's artifact the runtime picks per format
(``edgephoto run --format tflite`` on litert, ``--format onnx`` on onnxruntime) plus the task's
ship format (``--all-formats``: every TFLite and ONNX artifact of the shipped variant) is run
twice on the same small photo (256x256; the 4x upscaler 64x64; generate: ``--n 4 --size 64
--seed 7``) with one thread: ``edgephoto run`` on the host, then the same command in the emulated
Python. The written PNGs are compared, and so are the raw float outputs of
``runtime.load(dir).predict(photo)`` (``generate``: the model's output for the seed's latents),
saved as .npz by the ``probe`` sub-command on both sides. Tolerance: the exporter's parity
tolerance of the artifact's format row (``export/formats.py``): fp32 rows on ``max_abs`` (1e-4
ONNX, 1e-3 TFLite) and at most 2 levels in the 8-bit PNG; fp16 / int8 rows on ``mean_abs`` (0.005 /
0.05) of the raw outputs and of the PNG, since int8 kernels round differently on ARM and x86 and
single pixels near a decision edge may flip (the exporter gates those rows the same way).

Run it (the venv from ``make setup``; on 2 shared cores about 30 minutes the first time, 20 of them
exporting the six tasks' starter artifacts, and 8-10 when cached: the emulated runs themselves)::

    make test-aarch64                          # DIST=build/aarch64/dist by default
    make test-aarch64 DIST=dist AARCH64_ARGS="--tasks matte upscale --all-formats"
    .venv/bin/python -m edgephoto.tools.aarch64 --help

Exit status 0 when every case passes, 1 when one fails or cannot run (one line each, with the fix).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO / "build" / "aarch64"
SUITE = "bookworm"
APT_PACKAGES = ("python3.11", "libstdc++6")
QEMU_PACKAGE = "qemu-user-static:amd64"
QEMU_CPU = "cortex-a72"
GUEST_PYTHON = "usr/bin/python3.11"
DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# manylinux tags a bookworm arm64 system (glibc 2.36) accepts, newest first
PLATFORMS = [f"manylinux_2_{v}_aarch64" for v in range(36, 16, -1)] + ["manylinux2014_aarch64"]
ENGINE_PACKAGE = {"litert": "ai-edge-litert", "onnxruntime": "onnxruntime"}
FORMAT_ENGINE = {"tflite": "litert", "onnx": "onnxruntime"}
EXPORT_FORMATS = ("onnx_fp32", "onnx_fp16", "onnx_int8", "tflite_fp32", "tflite_fp16", "tflite_int8")
HEAVY = ("torch", "tensorflow", "onnx", "onnx2tf", "tf_keras", "tensorflowjs", "nncf", "skimage")
PNG_LEVELS = 2             # 8-bit floor: two levels (a float difference of ~1e-7 can flip a rounding)
TASK_ORDER = ("matte", "retouch", "upscale", "deblur", "colorize", "generate")   # the README's order
GEN_ARGS = {"n": 4, "size": 64, "seed": 7}
PHOTO_SIDE = {"upscale": 64}   # the 4x upscaler gets a 64x64 photo; every other task 256x256
DEFAULT_PHOTO_SIDE = 256
# the Raspberry Pi 4's cpuinfo (4 x Cortex-A72: implementer 0x41, part 0xd08)
PI4_CPUINFO = "".join(
    f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
    f"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\n"
    f"CPU revision\t: 3\n\n" for i in range(4)) + \
    "Hardware\t: BCM2835\nRevision\t: c03111\nModel\t\t: Raspberry Pi 4 Model B Rev 1.1\n"


class StepError(Exception):
    """A step that cannot go on: one line saying what failed and how to fix it (no traceback)."""


def say(msg: str) -> None:
    print(f"[aarch64] {msg}", flush=True)


def _tail(path: Path, n: int = 1) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-n:])[:300]


def run_logged(cmd: Sequence[str], log: Path, what: str, fix: str, env: Optional[Dict[str, str]] = None,
               cwd: Optional[Path] = None, show: Optional[str] = None, timeout: Optional[float] = None) -> str:
    """Run ``cmd`` with its output in ``log``; lines matching the regex ``show`` are printed as
    progress. A failure is a :class:`StepError` naming ``what``, the last log line and ``fix``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pat = re.compile(show) if show else None
    out: List[str] = []
    try:
        with open(log, "w") as fh:
            fh.write("$ " + " ".join(map(str, cmd)) + "\n")
            fh.flush()
            p = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, env=env, cwd=cwd, errors="replace")
            assert p.stdout is not None
            t0 = time.time()
            for line in p.stdout:
                fh.write(line)
                out.append(line)
                if pat is not None and pat.search(line):
                    print("    " + re.sub(r"\w+://\S+\s+", "", line.rstrip())[:150], flush=True)
                if timeout and time.time() - t0 > timeout:
                    p.kill()
                    raise StepError(f"{what} took more than {timeout:.0f} s and was stopped; log: {log}")
            rc = p.wait()
    except FileNotFoundError as e:
        raise StepError(f"{what}: {e.filename} not found; {fix}") from None
    if rc != 0:
        raise StepError(f"{what} failed (exit {rc}: {_tail(log)}); {fix}; log: {log}")
    return "".join(out)


def _stamp_ok(path: Path, key: Dict[str, Any]) -> bool:
    try:
        return json.loads(path.read_text()).get("key") == key
    except (OSError, ValueError):
        return False


def _write_stamp(path: Path, key: Dict[str, Any], **extra: Any) -> None:
    path.write_text(json.dumps({"key": key, **extra}, indent=2) + "\n")


# ------------------------------------------------------------------------------ apt (private)
def host_debian_source() -> Tuple[str, str]:
    """(mirror URI, keyring) of the host's apt entry for Debian ``bookworm main``."""
    uri, keyring = os.environ.get("EDGEPHOTO_APT_MIRROR"), os.environ.get("EDGEPHOTO_APT_KEYRING")
    if not uri:
        entries: List[Tuple[str, List[str], List[str], Optional[str]]] = []
        d = Path("/etc/apt")
        for f in sorted((d / "sources.list.d").glob("*.sources")):
            for block in re.split(r"\n\s*\n", f.read_text(errors="replace")):
                fields: Dict[str, str] = {}
                for ln in block.splitlines():
                    if ln.startswith("#") or ":" not in ln or ln[0].isspace():
                        continue
                    k, v = ln.split(":", 1)
                    fields[k.strip().lower()] = v.strip()
                if "deb" in fields.get("types", "").split() and fields.get("uris") and \
                        fields.get("enabled", "yes").lower() != "no":
                    entries.append((fields["uris"].split()[0], fields.get("suites", "").split(),
                                    fields.get("components", "").split(), fields.get("signed-by")))
        for f in [d / "sources.list"] + sorted((d / "sources.list.d").glob("*.list")):
            if not f.is_file():
                continue
            for ln in f.read_text(errors="replace").splitlines():
                m = re.match(r"\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)", ln)
                if m:
                    opts = m.group(1) or ""
                    sb = re.search(r"signed-by=(\S+?)[\s\]]", opts)
                    entries.append((m.group(2), [m.group(3)], m.group(4).split(), sb.group(1) if sb else None))
        for u, suites, comps, sb in entries:
            if SUITE in suites and "main" in comps:
                uri, keyring = u, keyring or sb
                break
    if not uri:
        raise StepError(f"no Debian '{SUITE} main' entry in the host's apt sources: set "
                        f"EDGEPHOTO_APT_MIRROR to a Debian mirror URL (and EDGEPHOTO_APT_KEYRING)")
    keyring = keyring or DEFAULT_KEYRING
    if not Path(keyring).is_file():
        raise StepError(f"apt keyring {keyring} not found: apt-get install debian-archive-keyring "
                        f"(or set EDGEPHOTO_APT_KEYRING)")
    return uri.rstrip("/"), keyring


def apt_setup(root: Path) -> Dict[str, str]:
    """Write the private apt configuration; returns the environment that selects it."""
    apt = root / "apt"
    for sub in ("lists/partial", "cache/archives/partial", "state", "etc/apt.conf.d", "etc/preferences.d",
                "etc/sources.list.d", "log"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    status = apt / "state" / "status"
    if not status.exists():
        status.write_text("")          # an empty dpkg status: nothing is "installed"
    uri, keyring = host_debian_source()
    (apt / "etc" / "sources.list").write_text(
        f"deb [arch=arm64,amd64 signed-by={keyring}] {uri} {SUITE} main\n")
    conf = f"""// edgephoto test-aarch64: a private apt for Debian {SUITE} arm64 (the host's dpkg is untouched)
APT::Architecture "arm64";
APT::Architectures {{ "arm64"; "amd64"; }};
APT::Sandbox::User "root";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::Check-Valid-Until "false";
Dir::State "{apt}/state/";
Dir::State::Lists "{apt}/lists/";
Dir::State::status "{status}";
Dir::Cache "{apt}/cache/";
Dir::Cache::Archives "{apt}/cache/archives/";
Dir::Etc "{apt}/etc/";
Dir::Etc::SourceList "{apt}/etc/sources.list";
Dir::Etc::SourceParts "{apt}/etc/sources.list.d/";
Dir::Etc::Parts "{apt}/etc/apt.conf.d/";
Dir::Etc::Preferences "{apt}/etc/preferences";
Dir::Etc::PreferencesParts "{apt}/etc/preferences.d/";
Dir::Log "{apt}/log/";
"""
    (apt / "apt.conf").write_text(conf)
    env = dict(os.environ, APT_CONFIG=str(apt / "apt.conf"), DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
    return env


def apt_update(root: Path, env: Dict[str, str]) -> None:
    lists = root / "apt" / "lists"

    def have() -> bool:
        return all(any(lists.glob(f"*_dists_{SUITE}_main_binary-{a}_Packages*")) for a in ("arm64", "amd64"))

    if have():
        return
    say(f"apt-get update: Debian {SUITE} main, arm64 + amd64 package lists (private config, ~20 MB)")
    fix = "the Debian mirror must be reachable (check the host's apt sources, or set EDGEPHOTO_APT_MIRROR)"
    log = root / "logs" / "apt-update.log"
    out = run_logged(["apt-get", "update", "-q"], log, "apt-get update", fix, env=env, show=r"^(Get|Err|W:|E:)")
    if not have():   # apt-get update exits 0 when every fetch failed
        err = next((ln.strip() for ln in out.splitlines() if ln.startswith(("W:", "E:"))), "no lists")
        raise StepError(f"apt-get update fetched no Debian {SUITE} arm64/amd64 package lists "
                        f"({re.sub(r'[a-z]+://[^ ]+ ?', '', err)[:160]}); {fix}; log: {log}")


def build_sysroot(root: Path) -> Dict[str, Any]:
    """``root/sysroot``: arm64 python3.11 + libstdc++6 unpacked, byte-compiled, a Pi 4 cpuinfo."""
    sysroot = root / "sysroot"
    stamp = sysroot / ".edgephoto-sysroot.json"
    key = {"suite": SUITE, "packages": list(APT_PACKAGES), "cpuinfo": "pi4"}
    if _stamp_ok(stamp, key) and (sysroot / GUEST_PYTHON).is_file():
        info = json.loads(stamp.read_text())
        say(f"sysroot: cached ({info.get('debs')} debs, Python {info.get('python')}) in {sysroot}")
        return {"cached": True, **{k: v for k, v in info.items() if k != "key"}}
    t0 = time.time()
    env = apt_setup(root)
    apt_update(root, env)
    say(f"apt-get install --download-only {' '.join(APT_PACKAGES)} (arm64, into the private cache)")
    run_logged(["apt-get", "install", "-y", "-q", "--download-only", *APT_PACKAGES],
               root / "logs" / "apt-download.log", "apt-get install --download-only",
               "the Debian mirror must be reachable (check the host's apt sources)", env=env,
               show=r"^(Get|Err|E:)")
    debs = sorted((root / "apt" / "cache" / "archives").glob("*_arm64.deb")) + \
        sorted((root / "apt" / "cache" / "archives").glob("*_all.deb"))
    if not debs:
        raise StepError(f"no arm64 packages were downloaded into {root / 'apt/cache/archives'}; "
                        f"see {root / 'logs/apt-download.log'}")
    if sysroot.exists():
        shutil.rmtree(sysroot)
    sysroot.mkdir(parents=True)
    say(f"dpkg -x: unpacking {len(debs)} debs into {sysroot}")
    for deb in debs:
        run_logged(["dpkg", "-x", deb, sysroot], root / "logs" / "dpkg-x.log", f"dpkg -x {deb.name}",
                   "the .deb may be truncated: delete build/aarch64/apt/cache and re-run")
    pyver = _guest_python_version(sysroot)
    (sysroot / "proc").mkdir(exist_ok=True)
    (sysroot / "proc" / "cpuinfo").write_text(PI4_CPUINFO)
    say("compileall: byte-compiling the sysroot's standard library")
    stdlib = sysroot / "usr" / "lib" / "python3.11"
    if sys.version_info[:2] == (3, 11):   # same bytecode magic as the guest's 3.11
        cmd = [sys.executable, "-m", "compileall", "-q", "-j", "2", "-s", str(sysroot), "-p", "/",
               "-x", r"(lib2to3/tests|test/bad|test/test_)", str(stdlib)]
        try:
            run_logged(cmd, root / "logs" / "compileall.log", "compileall", "")
        except StepError:
            pass   # a few test files are not valid Python on purpose; the rest is compiled
    else:
        say(f"note: the host Python is {sys.version_info[0]}.{sys.version_info[1]}, not 3.11: the guest "
            f"compiles its standard library on first import instead")
    seconds = time.time() - t0
    du = sum(f.stat().st_size for f in sysroot.rglob("*") if f.is_file() and not f.is_symlink())
    info = {"debs": len(debs), "python": pyver, "mb": round(du / 1e6), "built_s": round(seconds, 1)}
    _write_stamp(stamp, key, **info)
    say(f"sysroot: built in {seconds:.0f} s ({len(debs)} debs, {du / 1e6:.0f} MB, Python {pyver})")
    return {"cached": False, **info}


def _guest_python_version(sysroot: Path) -> str:
    """The Debian version of the unpacked python3.11 (from its .deb's name; no need to run it)."""
    if not (sysroot / GUEST_PYTHON).is_file():
        raise StepError(f"{sysroot / GUEST_PYTHON} missing after unpacking (python3.11 was not among the "
                        f"downloaded debs?); see build/aarch64/logs/apt-download.log")
    debs = sorted((sysroot.parent / "apt" / "cache" / "archives").glob("python3.11-minimal_*_arm64.deb"))
    return debs[-1].name.split("_")[1].replace("%3a", ":") if debs else "3.11"


def get_qemu(root: Path) -> Dict[str, Any]:
    """``root/qemu/usr/bin/qemu-aarch64-static`` from qemu-user-static:amd64 (downloaded, not installed)."""
    qdir = root / "qemu"
    binary = qdir / "usr" / "bin" / "qemu-aarch64-static"
    stamp = qdir / ".edgephoto-qemu.json"
    key = {"suite": SUITE, "package": QEMU_PACKAGE}
    if _stamp_ok(stamp, key) and binary.is_file():
        info = json.loads(stamp.read_text())
        say(f"qemu: cached ({info.get('version')})")
        return {"cached": True, "binary": str(binary), **{k: v for k, v in info.items() if k != "key"}}
    env = apt_setup(root)
    apt_update(root, env)
    dl = root / "apt" / "download"
    dl.mkdir(parents=True, exist_ok=True)
    debs = sorted(dl.glob("qemu-user-static_*_amd64.deb"))
    if not debs:
        say(f"apt-get download {QEMU_PACKAGE} (~60 MB)")
        run_logged(["apt-get", "download", "-q", QEMU_PACKAGE], root / "logs" / "apt-qemu.log",
                   f"apt-get download {QEMU_PACKAGE}", "the Debian mirror must be reachable", env=env,
                   cwd=dl, show=r"^(Get|Err|E:)")
        debs = sorted(dl.glob("qemu-user-static_*_amd64.deb"))
    if not debs:
        raise StepError(f"apt-get download left no qemu-user-static .deb in {dl}")
    if qdir.exists():
        shutil.rmtree(qdir)
    qdir.mkdir(parents=True)
    run_logged(["dpkg", "-x", debs[-1], qdir], root / "logs" / "dpkg-x-qemu.log", "dpkg -x qemu-user-static",
               f"delete {debs[-1]} and re-run")
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    version = (out.stdout.splitlines() or ["?"])[0].strip()
    _write_stamp(stamp, key, version=version, deb=debs[-1].name)
    say(f"qemu: {version}")
    return {"cached": False, "binary": str(binary), "version": version, "deb": debs[-1].name}


# ------------------------------------------------------------------------------------ wheels
def host_versions() -> Dict[str, str]:
    """name -> version of every distribution in the running (host) Python."""
    from importlib import metadata
    out = {}
    for d in metadata.distributions():
        name = d.metadata.get("Name")
        if name:
            out[re.sub(r"[-_.]+", "-", name).lower()] = d.version
    return out


def runtime_pins(have: Dict[str, str]) -> Dict[str, str]:
    """The runtime's packages at the host venv's versions (the x86 side of the comparison)."""
    pins = {}
    for name in ("numpy", "pillow", *ENGINE_PACKAGE.values()):
        if name not in have:
            raise StepError(f"{name} is not installed in this Python ({sys.executable}): run `make setup`")
        pins[name] = have[name]
    return pins


def _pip_platform_args() -> List[str]:
    args = ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
    for p in PLATFORMS:
        args += ["--platform", p]
    return args


def get_wheels(root: Path) -> Dict[str, Any]:
    """Download the aarch64 wheels and install one ``--target`` site per engine (both cached)."""
    have = host_versions()
    pins = runtime_pins(have)
    wheels, sites = root / "wheels", root / "site"
    wheels.mkdir(parents=True, exist_ok=True)
    constraints = root / "wheels" / "constraints.txt"    # dependencies at the host venv's versions
    skip = set(pins) | {"edgephoto"}
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(have.items()) if n not in skip))
    pip = [sys.executable, "-m", "pip"]
    result: Dict[str, Any] = {"pins": pins, "sites": {}}
    for engine, pkg in ENGINE_PACKAGE.items():
        reqs = [f"numpy=={pins['numpy']}", f"pillow=={pins['pillow']}", f"{pkg}=={pins[pkg]}"]
        site = sites / engine
        stamp = site / ".edgephoto-site.json"
        key = {"reqs": reqs, "platforms": PLATFORMS}
        if _stamp_ok(stamp, key):
            info = json.loads(stamp.read_text())
            say(f"site {engine}: cached ({', '.join(info.get('installed', []))})")
            result["sites"][engine] = {"cached": True, "path": str(site), **{k: v for k, v in info.items() if k != "key"}}
            continue
        say(f"pip download (aarch64 wheels, cp311): {' '.join(reqs)} and their dependencies")
        run_logged([*pip, "download", "--progress-bar", "off", "--dest", wheels, *_pip_platform_args(),
                    "-c", constraints, *reqs], root / "logs" / f"pip-download-{engine}.log",
                   f"pip download of the aarch64 {pkg} wheels",
                   "PyPI must be reachable, and every package needs a manylinux aarch64 cp311 wheel at "
                   "the host venv's version (see the log)", show=r"^(Collecting|Saved|ERROR)")
        if site.exists():
            shutil.rmtree(site)
        say(f"pip install --target {site}: {' '.join(reqs)} (from {wheels})")
        run_logged([*pip, "install", "-q", "--no-index", "--find-links", wheels, "--target", site,
                    *_pip_platform_args(), "-c", constraints, *reqs],
                   root / "logs" / f"pip-install-{engine}.log", f"pip install --target site/{engine}",
                   "see the log (a wheel missing from build/aarch64/wheels?)")
        installed = sorted(f"{m['name']}=={m['version']}" for m in site_packages(site))
        heavy = [n for n in installed if n.split("==")[0] in HEAVY]
        if heavy:
            raise StepError(f"site/{engine} pulled build-only packages {', '.join(heavy)}: the runtime must not need them")
        _write_stamp(stamp, key, installed=installed)
        result["sites"][engine] = {"cached": False, "path": str(site), "installed": installed}
    result["licences"] = write_licences(root)
    return result


def site_packages(site: Path) -> List[Dict[str, str]]:
    """name, version and licence of every distribution in a ``--target`` folder (from METADATA)."""
    from email.parser import HeaderParser
    out = []
    for meta in sorted(site.glob("*.dist-info/METADATA")):
        msg = HeaderParser().parsestr(meta.read_text(errors="replace"))
        classifiers = [c.split("::")[-1].strip() for c in msg.get_all("Classifier") or [] if c.startswith("License ::")]
        lic = (msg.get("License-Expression") or "").strip()
        if not lic and classifiers:
            lic = "; ".join(classifiers)
        if not lic:
            raw = (msg.get("License") or "").strip()
            lic = raw.splitlines()[0][:80] if raw else ""
        files = sorted(p.name for p in meta.parent.rglob("*") if p.is_file() and
                       re.match(r"(LICEN[CS]E|COPYING|NOTICE)", p.name, re.I))
        if not lic:
            lic = f"unstated in METADATA (see {', '.join(files)})" if files else "unstated in METADATA"
        out.append({"name": msg.get("Name", meta.parent.name), "version": msg.get("Version", "?"),
                    "licence": lic, "licence_files": files})
    return out


def write_licences(root: Path) -> List[Dict[str, Any]]:
    """``wheels/LICENSES.txt``: every installed distribution, its version, licence and engine(s)."""
    by: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for engine in ENGINE_PACKAGE:
        for m in site_packages(root / "site" / engine):
            e = by.setdefault((m["name"].lower(), m["version"]), {**m, "engines": []})
            e["engines"].append(engine)
    rows = sorted(by.values(), key=lambda m: m["name"].lower())
    lines = ["# Licences of the aarch64 wheels installed by `make test-aarch64` (from each wheel's METADATA:",
             "# License-Expression, else the License classifiers, else the License field's first line)", ""]
    w = max([len(r["name"]) for r in rows] + [4])
    for r in rows:
        lines.append(f"{r['name']:<{w}}  {r['version']:<12} {'+'.join(r['engines']):<20} {r['licence']}")
    (root / "wheels" / "LICENSES.txt").write_text("\n".join(lines) + "\n")
    return rows


# ------------------------------------------------------------------------------------- guest
def guest_env(root: Path, engine: str) -> Dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
            "QEMU_CPU": QEMU_CPU, "PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": f"{REPO}:{root / 'site' / engine}"}


def guest_cmd(root: Path, args: Sequence[str]) -> List[str]:
    return [str(root / "qemu" / "usr" / "bin" / "qemu-aarch64-static"), "-L", str(root / "sysroot"),
            str(root / "sysroot" / GUEST_PYTHON), *args]


def guest_smoke(root: Path) -> Dict[str, Any]:
    """The emulated Python starts, is aarch64, and finds no build-only package."""
    code = ("import json, platform, sys, importlib.util as u; "
            f"print(json.dumps({{'machine': platform.machine(), 'python': sys.version.split()[0], "
            f"'heavy': [m for m in {HEAVY!r} if u.find_spec(m)]}}))")
    out = {}
    for engine in ENGINE_PACKAGE:
        try:
            p = subprocess.run(guest_cmd(root, ["-c", code]), capture_output=True, text=True,
                               env=guest_env(root, engine), timeout=300)
        except OSError as e:
            raise StepError(f"cannot start the emulator ({e}): delete build/aarch64/qemu and re-run") from None
        if p.returncode != 0:
            raise StepError(f"the emulated Python does not start (exit {p.returncode}: "
                            f"{(p.stderr.strip().splitlines() or [''])[-1][:200]}): delete build/aarch64/sysroot and re-run")
        info = json.loads(p.stdout.strip().splitlines()[-1])
        if info["machine"] != "aarch64":
            raise StepError(f"the emulated Python reports machine {info['machine']!r}, not aarch64")
        if info["heavy"]:
            raise StepError(f"site/{engine} has build-only packages {info['heavy']}: delete build/aarch64/site")
        out[engine] = info
    return out


# -------------------------------------------------------------------------------- artifacts
def shipped_entries(dist: Path, task: str) -> List[Any]:
    from ..runtime.manifest import list_models
    return [e for e in list_models(dist, task) if e.shipped and e.manifest]


def ensure_dist(dist: Path, tasks: Sequence[str], runs: Path, root: Path) -> Dict[str, Any]:
    """Export a task's starter weights into ``dist`` when it has no shipped model there."""
    info: Dict[str, Any] = {}
    # the generator's pipelines chain the upscaler: export it first
    for task in sorted(tasks, key=lambda t: t == "generate"):
        have = shipped_entries(dist, task)
        if have:
            info[task] = {"exported": False, "models": len(have)}
            continue
        t0 = time.time()
        say(f"export {task}: no shipped model under {dist}/ -> compress --weights starter + export "
            f"{' '.join(EXPORT_FORMATS)} (1-3 min)")
        py = [sys.executable, "-m", "edgephoto"]
        log = root / "logs" / f"export-{task}.log"
        fix = f"see the log; `make compress export WEIGHTS=starter TASK={task}` shows the same steps"
        # run in root: the exporter's small built-in held-out set (no data/<task> there) goes to
        # root/data/.fallback/, not the checkout's data/
        try:
            run_logged([*py, "compress", "--task", task, "--weights", "starter", "--runs", runs],
                       root / "logs" / f"compress-{task}.log", f"compress --weights starter --task {task}", fix,
                       cwd=root)
            run_logged([*py, "export", "--task", task, "--runs", runs, "--dist", dist, "--formats", *EXPORT_FORMATS,
                        "--budgets", REPO / "budgets.toml"],
                       log, f"export --task {task}", fix, cwd=root, show=r"^\[(onnx|tflite)_\w+\] ")
        except StepError as e:
            info[task] = {"exported": False, "error": str(e)}
            say(f"export {task}: FAILED: {e}")
            continue
        info[task] = {"exported": True, "seconds": round(time.time() - t0, 1),
                      "models": len(shipped_entries(dist, task))}
        say(f"export {task}: {time.time() - t0:.0f} s")
    cached = [t for t, v in info.items() if not v.get("exported") and not v.get("error")]
    if cached:
        say(f"artifacts: cached under {dist}/ for {', '.join(cached)}")
    return info


def make_photos(work: Path) -> Dict[int, Path]:
    """The test photo at every side the cases need: skimage's astronaut (a public-domain NASA
    photograph shipped inside scikit-image), else a generated scene."""
    import numpy as np
    from PIL import Image
    try:
        from skimage import data as skdata
        base, source = Image.fromarray(skdata.astronaut()), "skimage.data.astronaut (NASA, public domain)"
    except Exception:   # scikit-image missing or its data unreadable: a deterministic scene
        yy, xx = np.mgrid[0:512, 0:512] / 511.0
        rng = np.random.default_rng(0)
        rgb = np.stack([xx, yy, 1 - xx * yy], -1)
        rgb[(xx - 0.5) ** 2 + (yy - 0.55) ** 2 < 0.06] = (0.85, 0.6, 0.5)
        rgb = np.clip(rgb + rng.normal(0, 0.03, rgb.shape), 0, 1)
        base, source = Image.fromarray((rgb * 255).astype(np.uint8)), "generated scene"
    out = {}
    for side in sorted(set(PHOTO_SIDE.values()) | {DEFAULT_PHOTO_SIDE}):
        p = work / f"photo-{side}.jpg"
        base.convert("RGB").resize((side, side), Image.LANCZOS).save(p, quality=92)
        out[side] = p
    say(f"test photo: {source}, {', '.join(f'{s}x{s}' for s in out)} JPEG in {work}/")
    return out


def plan_cases(dist: Path, tasks: Sequence[str], all_formats: bool, photos: Dict[int, Path],
               work: Path) -> Tuple[List[Dict[str, Any]], List[str], List[str]]:
    """-> (cases, failures, notes). One case = one artifact of a task's shipped variant on one engine."""
    from .. import runtime
    from ..export.command import ship_format
    from ..runtime.pipeline import pipeline_document
    from ..runtime.manifest import write_json_atomic

    cases, failures, notes = [], [], []
    for task in tasks:
        entries = shipped_entries(dist, task)
        if not entries:
            failures.append(f"{task}: no shipped model under {dist}/ (export it: make compress export "
                            f"WEIGHTS=starter TASK={task} DIST={dist})")
            continue
        try:
            ship = ship_format(task, str(REPO / "budgets.toml"))
        except Exception:
            ship = None
        chosen = []
        for fmt in FORMAT_ENGINE:
            fam = [e for e in entries if e.manifest["format"] == fmt]
            if not fam:
                (failures if fmt == "tflite" else notes).append(
                    f"{task}: the shipped variant has no {fmt} artifact under {dist}/{task}/"
                    + (" (export it with the tflite rows)" if fmt == "tflite" else ": onnxruntime not run"))
                continue
            rank = {k: i for i, k in enumerate(runtime.PREFERENCE)}
            fam.sort(key=lambda e: rank.get(e.key, 99))
            chosen += fam if all_formats else [fam[0]]
            chosen += [e for e in fam if e.key == ship and e not in chosen]
        for e in chosen:
            m = e.manifest
            engine = FORMAT_ENGINE[m["format"]]
            cid = f"{task}-{e.key}-{engine}"
            case: Dict[str, Any] = {"id": cid, "task": task, "key": e.key, "format": m["format"],
                                    "precision": m["precision"], "engine": engine, "model": str(e.dir),
                                    "variant": e.variant, "ship_format": e.key == ship}
            if m["input"].get("kind") == "latent":
                pipe = work / "pipelines" / f"{cid}.json"
                doc = pipeline_document([e.dir], pipe, f"generate-{GEN_ARGS['size']}-{e.key}")
                doc["side"] = GEN_ARGS["size"]
                write_json_atomic(pipe, doc)
                case.update(kind="generate", pipeline=str(pipe), **GEN_ARGS)
            else:
                case.update(kind="photo", photo=str(photos[PHOTO_SIDE.get(task, DEFAULT_PHOTO_SIDE)]))
            cases.append(case)
    # which artifact `edgephoto run --format F` picks by itself (the first of each format family)
    for c in cases:
        fam = [x for x in cases if x["task"] == c["task"] and x["format"] == c["format"]]
        c["picked_by_runtime"] = c is fam[0]
    return cases, failures, notes


def tolerance(case: Dict[str, Any]) -> Dict[str, float]:
    """The exporter's parity tolerance of the artifact's format row (``export/formats.py``): fp32
    rows are gated on ``max_abs`` (plus the 8-bit floor of :data:`PNG_LEVELS` levels on the written
    PNG), reduced-precision rows (fp16, int8) on ``mean_abs`` -- of the raw float outputs and of the
    PNG (in [0, 1] units) -- because, as the exporter notes, single pixels near a decision edge may
    flip by much more: int8 kernels round differently on ARM NEON and x86."""
    from ..export.formats import get_format
    tol = get_format(case["key"]).tolerance
    return {"max_abs": tol["max_abs"]} if "max_abs" in tol else {"mean_abs": tol["mean_abs"]}


def cli_args(case: Dict[str, Any], out: Path) -> List[str]:
    base = ["-m", "edgephoto", "run", case["task"]]
    common = ["--engine", case["engine"], "--threads", "1"]
    if case["kind"] == "generate":
        return [*base, "--n", str(case["n"]), "--size", str(case["size"]), "--seed", str(case["seed"]),
                "--model", case["pipeline"], *common, "-o", str(out / case["id"]) + "/"]
    return [*base, case["photo"], "--model", case["model"], *common, "-o", str(out / f"{case['id']}.png")]


def run_side(side: str, root: Path, cases: List[Dict[str, Any]], out: Path) -> Dict[str, Dict[str, Any]]:
    """Every case's ``edgephoto run`` on one side (``host`` or ``guest``), then one probe process per
    engine for the raw outputs. -> {case id: {"rc", "seconds", "error", ...}}."""
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    res: Dict[str, Dict[str, Any]] = {}
    label = "emulated aarch64" if side == "guest" else "x86 host"
    for i, c in enumerate(cases, 1):
        if side == "guest":
            cmd, env = guest_cmd(root, cli_args(c, out)), guest_env(root, c["engine"])
        else:
            cmd, env = [sys.executable, *cli_args(c, out)], dict(os.environ, OMP_NUM_THREADS="1")
        log = logs / f"{c['id']}.log"
        t0 = time.time()
        with open(log, "w") as fh:
            fh.write("$ " + " ".join(cmd) + "\n")
            fh.flush()
            try:
                p = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=REPO, timeout=1800)
                rc = p.returncode
            except subprocess.TimeoutExpired:
                rc = -9
        dt = time.time() - t0
        r = {"rc": rc, "seconds": round(dt, 2), "log": str(log)}
        if rc != 0:
            r["error"] = _tail(log)
        res[c["id"]] = r
        if side == "guest":
            say(f"run {i}/{len(cases)} {c['task']} {c['key']} on {c['engine']}: "
                f"{'ok' if rc == 0 else 'FAILED (exit %d)' % rc}, {dt:.1f} s {label} (qemu, not Pi latency)")
    # raw outputs: one process per engine runs every case of that engine
    for engine in ENGINE_PACKAGE:
        mine = [c for c in cases if c["engine"] == engine]
        if not mine:
            continue
        spec = out / f"probe-{engine}.json"
        spec.write_text(json.dumps(mine, indent=1))
        args = ["-m", "edgephoto.tools.aarch64", "probe", str(spec), "--out", str(out / "raw")]
        if side == "guest":
            say(f"probe {engine}: raw outputs of {len(mine)} case(s) in one emulated process")
            cmd, env = guest_cmd(root, args), guest_env(root, engine)
        else:
            cmd, env = [sys.executable, *args], dict(os.environ, OMP_NUM_THREADS="1")
        log = logs / f"probe-{engine}.log"
        with open(log, "w") as fh:
            try:
                p = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=REPO, timeout=3600)
                rc = p.returncode
            except subprocess.TimeoutExpired:
                rc = -9
        summary = out / "raw" / f"probe-{engine}.json"
        probe = json.loads(summary.read_text()) if summary.is_file() and rc == 0 else {}
        for c in mine:
            r = res[c["id"]]
            pc = probe.get("cases", {}).get(c["id"])
            if pc is None:
                r["probe_error"] = f"probe process exit {rc}: {_tail(log)}"
            else:
                r.update(probe_infer_s=pc.get("infer_s"), probe_error=pc.get("error"))
            r["probe_env"] = probe.get("env")
    return res


def probe(cases_file: Path, out: Path) -> int:
    """(Runs on both sides.) Each case's raw float outputs -> ``out/<id>.npz``; a summary with the
    versions and the modules loaded -> ``out/probe-<engine>.json``."""
    import platform
    import numpy as np
    from .. import runtime
    from ..runtime.model import selected_output

    cases = json.loads(Path(cases_file).read_text())
    out.mkdir(parents=True, exist_ok=True)
    done: Dict[str, Any] = {}
    for c in cases:
        t0 = time.perf_counter()
        try:
            model = runtime.load(c["model"], engine=c["engine"], threads=1)
            if c["kind"] == "generate":
                z = model.input_kind.batch(model.spec, int(c["seed"]), int(c["n"]))
                raw = model.run_raw(z) if model.engine.batches else \
                    [np.concatenate(o) for o in zip(*(model.run_raw(z[i:i + 1]) for i in range(len(z))))]
                arrays = {"output": np.asarray(selected_output(model, raw), np.float32)}
            else:
                res = model.predict(c["photo"], composite=False)
                arrays = {k: np.asarray(v) for k, v in res.outputs.items()}
            # what one unit of each array is in the model's own output range (the exporter's parity
            # compares those): 255 for uint8, output.units / output.range for physical units (ab)
            scales = {k: 255.0 if v.dtype == np.uint8 else 1.0 for k, v in arrays.items()}
            o = model.spec.output
            if getattr(o, "units", None) is not None and o.name in scales:
                scales[o.name] = float((o.units[1] - o.units[0]) / max(o.range[1] - o.range[0], 1e-12))
            np.savez(out / f"{c['id']}.npz", _scales=np.array(json.dumps(scales)), **arrays)
            done[c["id"]] = {"infer_s": round(time.perf_counter() - t0, 3),
                             "shapes": {k: list(v.shape) for k, v in arrays.items()}}
        except Exception as e:   # reported per case by the caller
            done[c["id"]] = {"error": f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"}
    versions = {}
    for mod in ("numpy", "PIL", "ai_edge_litert", "onnxruntime"):
        m = sys.modules.get(mod)
        if m is not None:
            versions[mod] = getattr(m, "__version__", "?")
    engine = cases[0]["engine"] if cases else "none"
    env = {"machine": platform.machine(), "python": sys.version.split()[0], "versions": versions,
           "heavy_loaded": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)}
    (out / f"probe-{engine}.json").write_text(json.dumps({"env": env, "cases": done}, indent=1))
    return 0


def _png_arrays(path: Path) -> List[Tuple[str, Any]]:
    import numpy as np
    from PIL import Image
    files = sorted(path.glob("*.png")) if path.is_dir() else [path]
    return [(f.name, np.asarray(Image.open(f))) for f in files]


def compare(case: Dict[str, Any], host: Path, guest: Path) -> Dict[str, Any]:
    """Raw float and PNG differences of one case, guest (aarch64) vs host (x86)."""
    import numpy as np
    r: Dict[str, Any] = {}
    hp, gp = (host / case["id"], guest / case["id"]) if case["kind"] == "generate" else \
        (host / f"{case['id']}.png", guest / f"{case['id']}.png")
    try:
        ha, ga = _png_arrays(hp), _png_arrays(gp)
        if [n for n, _ in ha] != [n for n, _ in ga] or not ha:
            r["png_error"] = f"different PNG files: x86 {[n for n, _ in ha]} vs aarch64 {[n for n, _ in ga]}"
        elif any(a.shape != b.shape for (_, a), (_, b) in zip(ha, ga)):
            r["png_error"] = "PNG sizes differ"
        else:
            diffs = [np.abs(a.astype(np.int16) - b.astype(np.int16)) for (_, a), (_, b) in zip(ha, ga)]
            r["png_levels"] = int(max(d.max() for d in diffs))
            r["png_mean_abs"] = float(np.mean([d.mean() for d in diffs]) / 255.0)
            r["png_over_floor"] = float(np.mean([(d > PNG_LEVELS).mean() for d in diffs]))
            r["png_files"] = len(ha)
            r["png_size"] = list(ha[0][1].shape)
    except Exception as e:
        r["png_error"] = f"{type(e).__name__}: {e}"
    try:
        hz, gz = np.load(host / "raw" / f"{case['id']}.npz"), np.load(guest / "raw" / f"{case['id']}.npz")
        names = sorted(k for k in hz.files if not k.startswith("_"))
        if names != sorted(k for k in gz.files if not k.startswith("_")):
            r["raw_error"] = f"different outputs: {hz.files} vs {gz.files}"
        else:
            scales = json.loads(str(hz["_scales"]))
            mx, tot, n = 0.0, 0.0, 0
            for k in names:
                a, b = hz[k].astype(np.float64), gz[k].astype(np.float64)
                if a.shape != b.shape:
                    r["raw_error"] = f"output {k}: shape {a.shape} vs {b.shape}"
                    break
                d = np.abs(a - b) / scales.get(k, 1.0)
                r.setdefault("raw_by_output", {})[k] = {"max_abs": float(d.max()), "mean_abs": float(d.mean()),
                                                        "unit": scales.get(k, 1.0)}
                mx, tot, n = max(mx, float(d.max())), tot + float(d.sum()), n + d.size
            else:
                r["raw_max_abs"], r["raw_mean_abs"] = mx, tot / max(n, 1)
                r["raw_outputs"] = names
    except Exception as e:
        r["raw_error"] = f"{type(e).__name__}: {e}"
    tol = tolerance(case)
    r["tolerance"] = tol
    reasons = []
    for k, lim in tol.items():
        v = r.get(f"raw_{k}")
        if v is not None and not v <= lim:
            reasons.append(f"raw {k} {v:.2e} > {lim:g}")
    if "max_abs" in tol and "png_levels" in r and r["png_levels"] > PNG_LEVELS:
        reasons.append(f"PNG differs by {r['png_levels']} levels > {PNG_LEVELS}")
    if "mean_abs" in tol and "png_mean_abs" in r and not r["png_mean_abs"] <= tol["mean_abs"]:
        reasons.append(f"PNG mean_abs {r['png_mean_abs']:.2e} > {tol['mean_abs']:g}")
    for k in ("png_error", "raw_error"):
        if k in r:
            reasons.append(r[k])
    r["reasons"] = reasons
    return r


# ---------------------------------------------------------------------------------- the test
def _fmt_tol(tol: Dict[str, float]) -> str:
    if "max_abs" in tol:
        return f"max {tol['max_abs']:.0e}, PNG {PNG_LEVELS} lv"
    return f"mean {tol['mean_abs']:g}"


def main_test(args: argparse.Namespace) -> int:
    t_start = time.time()
    root, dist = Path(args.root).resolve(), Path(args.dist)
    if not dist.is_absolute():
        dist = (REPO / dist)
    runs = root / "runs"
    root.mkdir(parents=True, exist_ok=True)
    report: Dict[str, Any] = {"what": "edgephoto runtime on aarch64 under QEMU user-mode emulation vs the "
                                      "same commands on the x86 host (a functional proof, not a latency measurement)",
                              "dist": str(dist), "seconds": {}}
    failures: List[str] = []
    try:
        from ..tasks import TASKS
        registered = sorted(TASKS.names(), key=lambda t: (TASK_ORDER.index(t) if t in TASK_ORDER else 99, t))
        tasks = args.tasks or registered
        unknown = [t for t in tasks if t not in registered]
        if unknown:
            raise StepError(f"unknown task(s) {', '.join(unknown)} (registered: {', '.join(registered)})")
        t0 = time.time()
        report["sysroot"] = build_sysroot(root)
        report["qemu"] = get_qemu(root)
        report["seconds"]["sysroot_qemu"] = round(time.time() - t0, 1)
        t0 = time.time()
        report["wheels"] = get_wheels(root)
        report["seconds"]["wheels"] = round(time.time() - t0, 1)
        report["guest"] = guest_smoke(root)
        say(f"emulated Python {report['guest']['litert']['python']} on {report['guest']['litert']['machine']} "
            f"({report['qemu']['version']}, -cpu {QEMU_CPU}); no torch/tensorflow/onnx in either site")
        t0 = time.time()
        report["export"] = ensure_dist(dist, tasks, runs, root)
        report["seconds"]["export"] = round(time.time() - t0, 1)
        failures += [f"{t}: {v['error']}" for t, v in report["export"].items() if v.get("error")]
        work = root / "work"
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        photos = make_photos(work)
        cases, plan_fail, notes = plan_cases(dist, [t for t in tasks if not report["export"][t].get("error")],
                                             args.all_formats, photos, work)
        failures += plan_fail
        for n in notes:
            say(f"note: {n}")
        say(f"{len(cases)} case(s): {', '.join(c['id'] for c in cases)}")
        t0 = time.time()
        say("x86 host: the same commands first (the reference)")
        host = run_side("host", root, cases, work / "x86")
        report["seconds"]["x86_runs"] = round(time.time() - t0, 1)
        t0 = time.time()
        guest = run_side("guest", root, cases, work / "aarch64")
        report["seconds"]["aarch64_runs"] = round(time.time() - t0, 1)
    except StepError as e:
        failures.append(str(e))
        cases, host, guest = [], {}, {}
    rows = []
    for c in cases:
        h, g = host[c["id"]], guest[c["id"]]
        row = {**c, "x86": h, "aarch64": g}
        if h["rc"] != 0 or h.get("probe_error"):
            row["result"] = "FAIL"
            why = h.get("error") or h.get("probe_error")
            failures.append(f"{c['task']} {c['key']} on {c['engine']}: the x86 reference run failed ({why}); "
                            f"log: {h['log']}")
        elif g["rc"] != 0 or g.get("probe_error"):
            row["result"] = "FAIL"
            why = g.get("error") or g.get("probe_error")
            failures.append(f"{c['task']} {c['key']} on {c['engine']}: cannot run on aarch64 ({why}); "
                            f"log: {g['log']}")
        else:
            row["compare"] = compare(c, work / "x86", work / "aarch64")
            row["result"] = "PASS" if not row["compare"]["reasons"] else "FAIL"
            if row["compare"]["reasons"]:
                failures.append(f"{c['task']} {c['key']} on {c['engine']}: aarch64 output differs from x86: "
                                f"{'; '.join(row['compare']['reasons'])}")
        if g.get("probe_env") and g["probe_env"].get("heavy_loaded"):
            row["result"] = "FAIL"
            failures.append(f"{c['task']} on {c['engine']}: the runtime loaded {g['probe_env']['heavy_loaded']}")
        rows.append(row)
    report["cases"] = rows
    report["failures"] = failures
    report["passed"] = not failures and bool(rows)
    report["seconds"]["total"] = round(time.time() - t_start, 1)
    print_summary(report)
    out = root / "report.json"
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"report: {out}")
    if failures:
        for f in failures:
            print(f"test-aarch64: FAIL: {f}")
        return 1
    if not rows:
        print("test-aarch64: FAIL: nothing was run")
        return 1
    print(f"test-aarch64: PASS ({len(rows)} runs, {report['seconds']['total']:.0f} s)")
    return 0


def print_summary(report: Dict[str, Any]) -> None:
    rows = report.get("cases", [])
    if not rows:
        return
    q = report.get("qemu", {}).get("version", "qemu-aarch64")
    qv = re.search(r"version (\S+)", q)
    label = f"qemu-aarch64 {qv.group(1) if qv else '?'}, -cpu {QEMU_CPU}"
    print()
    print(f"aarch64 vs x86: the same `edgephoto run` (1 thread) on both sides; 'emulated s' is the wall")
    print(f"time of the whole process under QEMU ({label}): a functional proof, NOT Pi latency.")
    hdr = f"{'task':<9} {'artifact':<12} {'engine':<12} {'max|d| raw':>10} {'mean|d|':>9} {'PNG lv':>6} " \
          f"{'>2lv %':>6}  {'tolerance':<19} {'result':<6} {'emulated s':>10} {'x86 s':>6}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        cmp_ = r.get("compare", {})
        mx = f"{cmp_['raw_max_abs']:.1e}" if "raw_max_abs" in cmp_ else "-"
        mn = f"{cmp_['raw_mean_abs']:.1e}" if "raw_mean_abs" in cmp_ else "-"
        lv = str(cmp_.get("png_levels", "-"))
        over = f"{100 * cmp_['png_over_floor']:.1f}" if "png_over_floor" in cmp_ else "-"
        tag = r["key"] + ("*" if r.get("ship_format") else "")
        print(f"{r['task']:<9} {tag:<12} {r['engine']:<12} {mx:>10} {mn:>9} {lv:>6} {over:>6}  "
              f"{_fmt_tol(tolerance(r)):<19} {r['result']:<6} {r['aarch64']['seconds']:>10.1f} "
              f"{r['x86']['seconds']:>6.1f}")
    print(f"(* = the task's ship format. raw = the runtime's float outputs at the photo's resolution (generate:\n"
          f" the model's output for the seed's latents); PNG lv = largest difference of the written PNGs in 8-bit\n"
          f" levels, >2lv % = share of PNG values off by more than {PNG_LEVELS}. tolerance = the exporter's parity\n"
          f" tolerance of the format row: fp32 max_abs (and at most {PNG_LEVELS} levels in the PNG), fp16 / int8\n"
          f" mean_abs of the raw outputs and of the PNG)")
    s = report.get("seconds", {})
    if s:
        print("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in s.items()))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m edgephoto.tools.aarch64",
                                description="\n\n".join(__doc__.split("\n\n")[:2]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dist", default=str(DEFAULT_ROOT / "dist"),
                   help="artifact root (default: build/aarch64/dist; a task with no shipped model there is "
                        "exported from the starter weights)")
    p.add_argument("--root", default=str(DEFAULT_ROOT), help="work folder (default: build/aarch64)")
    p.add_argument("--tasks", nargs="+", metavar="TASK", help="only these tasks (default: every registered one)")
    p.add_argument("--all-formats", action="store_true",
                   help="every TFLite and ONNX artifact of the shipped variant, not only the runtime's pick "
                        "per format and the ship format")
    return p


def main(argv: Optional[Iterable[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["probe"]:     # internal: ``probe CASES.json --out DIR``, run on either side
        pr = argparse.ArgumentParser(prog="python -m edgephoto.tools.aarch64 probe")
        pr.add_argument("cases")
        pr.add_argument("--out", required=True)
        a = pr.parse_args(argv[1:])
        return probe(Path(a.cases), Path(a.out))
    return main_test(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
