"""edgephoto.utils.progress: a tqdm bar on a terminal, plain lines with an ETA in a log."""

import io
import os
import select
import subprocess
import sys
import time

import pytest

from edgephoto.utils import progress
from edgephoto.utils.progress import Progress, fmt_duration, log


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_plain_lines_with_count_and_eta(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(progress.time, "time", lambda: clock[0])
    out = io.StringIO()
    bar = Progress("data matte/train", 40, every_s=5.0, stream=out)
    for i in range(1, 41):
        clock[0] += 0.5                                  # 2 samples a second
        bar.update(i, "extra info" if i == 20 else "")
        if i == 10:
            log("a message", out)
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text       # line-based: no redraws
    lines = text.splitlines()
    assert lines == ["[data matte/train] 10/40 elapsed 5s eta 15s", "a message",
                     "[data matte/train] 20/40 extra info elapsed 10s eta 10s",
                     "[data matte/train] 30/40 elapsed 15s eta 5s",
                     "[data matte/train] 40/40 elapsed 20s"]   # every 5 s, then the last one
    assert bar.closed and not progress._bars


def test_forced_lines_only_with_infinite_interval():
    out = io.StringIO()
    bar = Progress("train matte/student", 30, every_s=float("inf"), stream=out, start=10, what="step")
    for step in range(11, 31):
        time.sleep(0.002)
        if step % 10 == 0:
            bar.update(step, "loss 0.0495 lr 1.0e-03 12.3 img/s", force=True)
        else:
            bar.update(step)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[train matte/student] step 20/30 loss 0.0495 lr 1.0e-03 12.3 img/s elapsed ")
    assert " eta " in lines[0]
    assert lines[1].startswith("[train matte/student] step 30/30 loss")


def test_no_rate_yet_is_an_unknown_eta():
    bar = Progress("x", 10, stream=io.StringIO(), start=3)
    assert bar.line(3).endswith("eta ?")
    bar.close()


def test_a_terminal_gets_a_tqdm_bar_and_messages_above_it():
    pytest.importorskip("tqdm")
    term = Terminal()
    with Progress("bench", 3, stream=term) as bar:
        assert bar.is_bar and progress._bars == [bar]
        bar.update(1, "matte/student/onnx_fp32")
        log("[bench] (1/3) matte/student/onnx_fp32: 1.20 MB", term)
        bar.update(2, "matte/student/onnx_int8")
    assert not progress._bars
    text = term.getvalue()
    assert "\r" in text                                      # redrawn in place
    assert "[bench]" in text and "2/3" in text and "%|" in text and "<" in text   # count, bar, ETA
    assert "matte/student/onnx_int8" in text                 # the postfix
    assert "[bench] (1/3) matte/student/onnx_fp32: 1.20 MB\n" in text


def test_the_bar_finishes_itself_at_total():
    pytest.importorskip("tqdm")
    term = Terminal()
    bar = Progress("fetch", 2, stream=term)
    bar.update(2)
    assert bar.closed and not progress._bars
    assert "2/2" in term.getvalue().splitlines()[-1]


def test_a_pty_without_a_size_still_gets_a_bar():
    """A 0 x 0 pty (``script``, some containers) made tqdm draw nothing."""
    pytest.importorskip("tqdm")
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    with open(slave, "w", encoding="utf-8", closefd=True) as term:
        bar = Progress("train matte/student", 4, stream=term, what="step")
        assert bar.is_bar
        bar.update(2, "loss 0.0495", force=True)
        bar.close()
        term.flush()
        got = b""
        while select.select([master], [], [], 0.5)[0]:   # a pty hands the output over in pieces
            got += os.read(master, 65536)
    os.close(master)
    got = got.decode("utf-8", "replace")
    assert "[train matte/student]" in got and "2/4" in got and "loss 0.0495" in got


def test_fmt_duration():
    assert [fmt_duration(s) for s in (0, 59, 61, 3600 + 120)] == ["0s", "59s", "1m01s", "1h02m"]


def test_the_runtime_does_not_import_tqdm():
    code = ("import sys, edgephoto.runtime, edgephoto.runtime.command; "
            "print('tqdm' in sys.modules, 'edgephoto.utils.progress' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]
