"""The art-generation datasets without the network or a fetch cache: the procedural fallback, and
the real-artwork recipe on a tiny fake ``index.json`` (the split by artwork, the layout, the
manifests)."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgephoto.data import procedural_art, real_art
from edgephoto.data.real_sources import dhash, real_sources, split_of

SIZES = {"train": 6, "val": 3, "test": 3}


def tree(root: Path) -> dict:
    """Relative path -> sha256 of every PNG under ``root``."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.png"))}


# --- procedural fallback ----------------------------------------------------------------------

def test_procedural_art_writes_the_artbench_layout(tmp_path):
    assert procedural_art.generate(tmp_path, seed=0, sizes=SIZES, workers=1) == SIZES
    files = tree(tmp_path)
    assert len(files) == sum(SIZES.values())
    for rel in files:
        split, style, name = rel.split("/")
        assert split in SIZES and style in procedural_art.STYLES and name.startswith(f"{split}_")
        with Image.open(tmp_path / rel) as im:
            assert im.size == (128, 128) and im.mode == "RGB"
    styles = json.loads((tmp_path / "styles.json").read_text())
    assert styles["styles"] == sorted(procedural_art.STYLES) and styles["source"] == "procedural"
    assert {s: sum(c.values()) for s, c in styles["images"].items()} == SIZES
    assert styles["images"]["train"] == {s: 2 for s in sorted(procedural_art.STYLES)}  # styles take turns


def test_procedural_art_is_deterministic_and_resumes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    procedural_art.generate(a, seed=3, sizes=SIZES, workers=1)
    procedural_art.generate(b, seed=3, sizes=SIZES, workers=1)
    assert tree(a) == tree(b)
    assert np.array_equal(procedural_art.make_image(3, "val", 1), procedural_art.make_image(3, "val", 1))
    assert not np.array_equal(procedural_art.make_image(3, "val", 1), procedural_art.make_image(4, "val", 1))
    assert not np.array_equal(procedural_art.make_image(3, "val", 1), procedural_art.make_image(3, "test", 1))
    # pictures with texture, not flat fills
    img = procedural_art.make_image(0, "train", 2).astype(float)
    assert img.std() > 10 and len(np.unique(img.reshape(-1, 3), axis=0)) > 500
    # a second run keeps what is there; a smaller size removes the samples it no longer makes
    mtimes = {p: p.stat().st_mtime_ns for p in a.rglob("*.png")}
    procedural_art.generate(a, seed=3, sizes={"train": 3, "val": 3, "test": 3}, workers=1)
    left = sorted(a.rglob("*.png"))
    assert len(left) == 9 and all(p.stat().st_mtime_ns == mtimes[p] for p in left)


# --- the real-artwork recipe on a fake fetch cache ----------------------------------------------

def painting(seed: int, w: int = 240, h: int = 200) -> Image.Image:
    """A smooth random picture: its difference hash survives resizing (the "same painting twice")."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    img = sum(rng.uniform(30, 70) * np.sin(rng.uniform(1, 5) * x * np.cos(a) * 6 + rng.uniform(1, 5) * y * np.sin(a) * 6
                                           + rng.uniform(0, 6))[..., None] * rng.uniform(0.3, 1, 3)
              for a in rng.uniform(0, np.pi, 3))
    return Image.fromarray(np.clip(128 + img, 0, 255).astype(np.uint8))


@pytest.fixture
def fake_art_cache(tmp_path, monkeypatch):
    """``index.json`` + files as ``edgephoto fetch`` writes them: 40 artworks in 3 styles, one of them
    also shipped by a second source at another size, one with a variant (another picture, the same
    ``artwork`` key), one identical to a photo of a photo row, and a dropped one."""
    cache = tmp_path / "sources"
    records = []

    def add(path: str, im: Image.Image, source="fake-art", kind="art", **extra):
        p = cache / path
        p.parent.mkdir(parents=True, exist_ok=True)
        im.save(p)
        data = p.read_bytes()
        records.append({"path": path, "source": source, "package": f"pkg-{source}", "version": "1.0",
                        "licence": f"GPL ({source})", "sha256": hashlib.sha256(data).hexdigest(),
                        "bytes": len(data), "kind": kind, "kept": extra.pop("kept", True), **extra})

    styles = ("portrait", "landscape", "japanese-print")
    for i in range(40):
        add(f"art/fake-art/a{i:02d}.png", painting(i), style=styles[i % 3], artwork=f"fake:a{i:02d}")
    add("art/other-art/a00-small.png", painting(0).resize((180, 150), Image.LANCZOS), source="other-art",
        style="portrait", artwork="other:a00")                                   # the same picture again
    add("art/fake-art/a01_sun.png", Image.fromarray(255 - np.asarray(painting(1))), style="landscape",
        artwork="fake:a01")                                                      # a variant of a01
    add("photos/fake-photos/a02.png", painting(2), source="fake-photos", kind="photo")
    add("dropped/fake-art/statue.png", painting(99), style=None, kept=False, reason="not a painting")
    (cache / "index.json").write_text(json.dumps({"version": 1, "sources": {}, "files": records}))
    monkeypatch.setenv("EDGEPHOTO_SOURCES", str(cache))
    return cache


def test_no_artwork_is_in_two_splits(fake_art_cache):
    cache = fake_art_cache
    assert dhash(cache / "art/fake-art/a00.png") == dhash(cache / "art/other-art/a00-small.png")
    arts = real_sources("art", root=cache)
    assert len(arts) == 42 and all(f.kind == "art" and f.style for f in arts)   # not the dropped one
    split = {f.path.name: f.split for f in arts}
    assert split["a00.png"] == split["a00-small.png"]      # one picture, two sources: one split
    assert split["a01.png"] == split["a01_sun.png"]        # two variants of one painting: one split
    groups = {}
    for f in arts:
        groups.setdefault(f.group, set()).add(f.split)
    assert all(len(s) == 1 for s in groups.values())
    assert len({f.split for f in arts}) == 3               # every split has artworks
    # the photo with the same picture as an artwork keeps its own (photo) group and split
    (photo,) = real_sources("photo", root=cache)
    assert photo.group == dhash(cache / "photos/fake-photos/a02.png")
    assert photo.split == split_of(photo.group, "photo")


def test_real_art_writes_crops_manifest_and_styles(fake_art_cache, tmp_path):
    assert real_art.available()
    root = tmp_path / "data"
    real_art.generate(root, seed=0, sizes=SIZES, workers=1)
    files = tree(root)
    assert len(files) == sum(SIZES.values())
    manifest = json.loads((root / "sources.json").read_text())
    assert set(manifest) == set(SIZES)
    split_of_sha = {}
    for split, recs in manifest.items():
        for r in recs:
            assert r["kind"] == "art" and r["licence"] and r["style"]
            assert split_of_sha.setdefault(r["sha256"], split) == split    # never two splits
    styles = json.loads((root / "styles.json").read_text())
    assert styles["styles"] == ["japanese-print", "landscape", "portrait"] and styles["source"] == "real"
    assert {s: sum(c.values()) for s, c in styles["images"].items()} == SIZES
    assert {s: sum(c.values()) for s, c in styles["artworks"].items()} == {s: len(r) for s, r in manifest.items()}
    for rel in files:
        split, style, name = rel.split("/")
        assert style in styles["styles"] and name.startswith(f"{split}_")
        assert styles["artworks"][split][style] > 0        # only styles the split has artworks of
        with Image.open(root / rel) as im:
            assert im.size == (128, 128) and im.mode == "RGB"
    # deterministic from (seed, split, index): a second root is the same, another seed is not
    again = tmp_path / "again"
    real_art.generate(again, seed=0, sizes=SIZES, workers=1)
    assert tree(again) == files
    assert not np.array_equal(real_art.make_image(0, "train", 0), real_art.make_image(1, "train", 0))


def test_real_art_augment_crops_within_bounds_and_keeps_colours_mild():
    art = np.asarray(painting(5, 300, 180))
    for i in range(20):
        out = real_art.augment(art, np.random.default_rng(i))
        assert out.shape == (128, 128, 3) and out.dtype == np.uint8
        assert abs(out.astype(float).mean() - art.mean()) < 40


def test_style_weights_balance_rare_styles():
    from edgephoto.data.real_sources import SourceFile
    files = [SourceFile(Path(f"{i}"), "s", "p", "1", "l", str(i), "art", str(i), "train",
                        "portrait" if i < 9 else "print") for i in range(10)]
    w = real_art.weights(files, balance=0.5)
    assert abs(w.sum() - 1) < 1e-9
    assert abs(w[9] / w[0] - 3.0) < 1e-9                  # 9 portraits vs 1 print: sqrt(9) = 3
    assert np.allclose(real_art.weights(files, balance=0.0), 0.1)
