"""The command line: --help everywhere, one-line errors, build commands without the build stack."""

import subprocess
import sys
from pathlib import Path

import pytest

from edgephoto.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
SUBCOMMANDS = ["fetch", "data", "train", "compress", "export", "bench", "run", "adjust"]


@pytest.mark.parametrize("cmd", SUBCOMMANDS)
def test_every_subcommand_has_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    assert "usage: edgephoto " + cmd in capsys.readouterr().out


def test_all_stages_registered():
    text = build_parser().format_help()
    assert all(c in text for c in SUBCOMMANDS)


def test_unknown_task_is_one_line(capsys):
    assert main(["train", "--task", "nope", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown task 'nope'" in err[0]


def test_missing_data_is_one_line(tmp_path, capsys):
    assert main(["train", "--task", "matte", "--data", str(tmp_path / "none"), "--profile", "smoke"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no training data" in err and "edgephoto data" in err


BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'tensorflow', 'onnx', 'onnx2tf', 'nncf', 'tensorflowjs'):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from edgephoto.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_build_command_without_build_stack_says_what_to_install(tmp_path):
    # the data check comes first, so point at a folder that has a train split
    data = tmp_path / "d"
    (data / "train").mkdir(parents=True)
    r = subprocess.run([sys.executable, "-c", BLOCK, "train", "--task", "matte", "--data", str(data),
                        "--profile", "smoke"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2
    assert "pip install 'edgephoto[build]'" in r.stderr
    assert "Traceback" not in r.stderr
