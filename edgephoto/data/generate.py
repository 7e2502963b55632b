"""Writing a built-in paired dataset to disk: shared by every task's generator.

``write_pairs`` fills ``root/<split>/<input dir>/<stem><ext>`` and ``root/<split>/<target dir>/...``
with ``make(seed, split, index) -> (input uint8, target uint8)``, in parallel processes, keeping
pairs that already exist (generation is deterministic, so re-running is cheap and resumes).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Callable, Dict, Tuple

import numpy as np
from PIL import Image

from ..runtime.imageio import save_atomic

MakePair = Callable[[int, str, int], Tuple[np.ndarray, np.ndarray]]


def _write_one(make: MakePair, job: Tuple[int, str, int, str, str]) -> None:
    seed, split, i, ip, tp = job
    inp, target = make(seed, split, i)
    save_atomic(Image.fromarray(inp), ip, quality=95)
    save_atomic(Image.fromarray(target), tp)


def write_pairs(root: Path, make: MakePair, sizes: Dict[str, int], dirs: Tuple[str, str],
                exts: Tuple[str, str] = (".jpg", ".png"), seed: int = 0,
                progress: Callable[[str, int, int], None] | None = None,
                workers: int | None = None) -> Dict[str, int]:
    """Write ``sizes[split]`` pairs per split; ``make`` must be a picklable module-level function."""
    root = Path(root)
    workers = workers or os.cpu_count() or 1
    write = partial(_write_one, make)
    for split, n in sizes.items():
        in_dir, tg_dir = root / split / dirs[0], root / split / dirs[1]
        in_dir.mkdir(parents=True, exist_ok=True)
        tg_dir.mkdir(parents=True, exist_ok=True)
        jobs = []
        for i in range(n):
            stem = f"{split}_{i:05d}"
            ip, tp = in_dir / f"{stem}{exts[0]}", tg_dir / f"{stem}{exts[1]}"
            if not (ip.exists() and tp.exists()):
                jobs.append((seed, split, i, str(ip), str(tp)))
        run_jobs(write, jobs, split, n, progress, workers)
    return dict(sizes)


def run_jobs(write: Callable, jobs: list, split: str, n: int,
             progress: Callable[[str, int, int], None] | None = None, workers: int | None = None) -> None:
    """``write(job)`` for every job, in ``workers`` processes when there are enough of them;
    ``progress(split, done, n)`` counts the ``n - len(jobs)`` samples already on disk as done."""
    workers = workers or os.cpu_count() or 1
    done = n - len(jobs)
    if workers > 1 and len(jobs) > 16:
        with ProcessPoolExecutor(workers) as pool:
            for _ in pool.map(write, jobs, chunksize=8):
                done += 1
                if progress:
                    progress(split, done, n)
    else:
        for job in jobs:
            write(job)
            done += 1
            if progress:
                progress(split, done, n)
    if progress and not jobs:
        progress(split, n, n)
