"""Progress lines for long work: a counter that prints at most every few seconds, with rate and ETA.

Plain lines (not carriage-return bars) so logs in CI and ``make`` output stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import Optional


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


class Progress:
    def __init__(self, label: str, total: int, every_s: float = 5.0, stream=None, start: int = 0) -> None:
        self.label, self.total, self.every_s = label, total, every_s
        self.stream = stream or sys.stderr
        self.t0 = time.time()
        self.start = start
        self.last = 0.0

    def update(self, done: int, extra: str = "", force: bool = False) -> None:
        now = time.time()
        final = done >= self.total
        if not (force or final or now - self.last >= self.every_s):
            return
        self.last = now
        elapsed = now - self.t0
        rate = (done - self.start) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        msg = f"[{self.label}] {done}/{self.total}"
        if extra:
            msg += f" {extra}"
        msg += f" elapsed {fmt_duration(elapsed)}" + ("" if final else f" eta {fmt_duration(eta)}")
        print(msg, file=self.stream, flush=True)


def log(msg: str, stream: Optional[object] = None) -> None:
    print(msg, file=stream or sys.stderr, flush=True)
