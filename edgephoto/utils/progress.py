"""Progress for long work (fetch, data, train, export, bench): a bar with count, rate, elapsed and ETA.

On a terminal it is a tqdm bar on stderr, extra information (loss, lr, the current item) in its
postfix. When the stream is not a terminal (CI, ``make`` piped to a log, tests) carriage-return
redraws would make the log unreadable, so it prints plain lines instead, at most every
``every_s`` seconds plus a last one::

    [data colorize/train] 57/6000 elapsed 5s eta 10m09s

Messages printed while a bar is drawn go through :func:`log` (``tqdm.write``) so they appear
above the bar instead of breaking it. tqdm is a build dependency: the runtime never imports this
module, and without tqdm the plain lines are used everywhere.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Dict, List, Optional

_bars: List["Progress"] = []   # the tqdm bars drawn now (messages must go around them)
# tqdm's default without the colon after the label: "[train matte/student]  40%|####  | 2/5 [...]"
_BAR = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):   # no isatty, or a closed stream
        return False


def _screen(stream: Any) -> Dict[str, Any]:
    """tqdm's size arguments: follow the terminal's size, or, for a pty without one (e.g. under
    ``script`` or in some containers: 0 x 0, with which tqdm draws nothing), $COLUMNS (or 100) x 20."""
    try:
        cols, rows = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        cols, rows = 0, 0
    if cols > 0 and rows > 0:
        return {"dynamic_ncols": True}
    env = os.environ.get("COLUMNS", "")
    return {"ncols": int(env) if env.isdigit() and int(env) > 0 else 100, "nrows": 20}


class Progress:
    """``Progress(label, total)`` then ``update(done, extra)`` with the absolute count ``done``.

    ``what`` names the count in the plain lines (``"step"``: ``[train x] step 10/300 ...``) and is
    the bar's unit; ``start``: the count already done before this run (resumed work; the rate and
    ETA count only what this run does); ``every_s``: the plain lines' interval (``float("inf")``:
    only the lines the caller forces and the last one); ``bar``: force the tqdm bar (True) or the
    plain lines (False) instead of deciding by ``stream.isatty()``. The bar closes itself when
    ``done`` reaches ``total``; ``close()`` (or ``with``) ends it early.
    """

    def __init__(self, label: str, total: int, every_s: float = 5.0, stream=None, start: int = 0,
                 what: str = "", bar: Optional[bool] = None) -> None:
        self.label, self.total, self.every_s, self.what = label, int(total), every_s, what
        self.stream = stream or sys.stderr
        self.t0 = time.time()
        self.start = self.done = int(start)
        self.last = self.t0      # the first plain line comes after every_s (a rate to show by then)
        self.closed = False
        self._tqdm = None
        if _is_tty(self.stream) if bar is None else bar:
            try:
                from tqdm import tqdm
            except ImportError:   # the runtime-only install: plain lines
                tqdm = None
            if tqdm is not None:
                self._tqdm = tqdm(total=self.total, initial=self.start, desc=f"[{label}]", file=self.stream,
                                  unit=what or "it", leave=True, mininterval=0.2,
                                  smoothing=0.1, bar_format=_BAR, **_screen(self.stream))
                _bars.append(self)

    @property
    def is_bar(self) -> bool:
        return self._tqdm is not None

    def update(self, done: int, extra: str = "", force: bool = False) -> None:
        """Set the count to ``done``; ``extra`` is the bar's postfix / the line's middle part;
        ``force``: a plain line now (the bar draws by itself)."""
        if self.closed:
            return
        self.done = done
        final = done >= self.total
        if self._tqdm is not None:
            if extra or final:   # the last one shows what it says, not the item of the step before
                self._tqdm.set_postfix_str(extra, refresh=False)
            self._tqdm.update(done - self._tqdm.n)
            if force:
                self._tqdm.refresh()
            if final:
                self.close()
            return
        now = time.time()
        if not (force or final or now - self.last >= self.every_s):
            return
        self.last = now
        print(self.line(done, extra, now), file=self.stream, flush=True)
        if final:
            self.closed = True

    def line(self, done: int, extra: str = "", now: Optional[float] = None) -> str:
        """The plain line: ``[label] what done/total extra elapsed 5s eta 10m09s``."""
        elapsed = (time.time() if now is None else now) - self.t0
        rate = (done - self.start) / elapsed if elapsed > 0 else 0.0
        msg = f"[{self.label}] " + (f"{self.what} " if self.what else "") + f"{done}/{self.total}"
        if extra:
            msg += f" {extra}"
        msg += f" elapsed {fmt_duration(elapsed)}"
        if done < self.total:
            msg += f" eta {fmt_duration((self.total - done) / rate)}" if rate > 0 else " eta ?"
        return msg

    def write(self, msg: str) -> None:
        """A message above the bar (or a plain line)."""
        log(msg, self.stream)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._tqdm is not None:
            self._tqdm.close()
            if self in _bars:
                _bars.remove(self)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def log(msg: str, stream: Optional[object] = None) -> None:
    """Print one message (to stderr by default) without breaking a bar that is being drawn."""
    stream = stream or sys.stderr
    if _bars:
        from tqdm import tqdm
        tqdm.write(msg, file=stream)
        stream.flush()   # type: ignore[attr-defined]
    else:
        print(msg, file=stream, flush=True)
