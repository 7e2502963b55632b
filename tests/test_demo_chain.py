"""`make demo`'s whole chain at the `smoke` profile, for every registered task: data, train,
compress (distill + selection), export of every format, bench. A new task that breaks the main
command fails here."""

from __future__ import annotations

import json

import pytest

from edgephoto.bench.budgets import load_budgets, resolve
from edgephoto.cli import main
from edgephoto.export.formats import FORMAT_KEYS
from edgephoto.tasks import TASKS

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("task", sorted(TASKS.names()))
def test_demo_chain_at_smoke_profile(task, tmp_path, capsys):
    data, runs, dist, reports = (tmp_path / n for n in ("data", "runs", "dist", "reports"))
    common = ["--task", task, "--data", str(data), "--runs", str(runs), "--profile", "smoke", "--threads", "1"]
    assert main(["data", "--task", task, "--out", str(data), "--train", "8", "--val", "4", "--test", "4"]) == 0
    assert main(["train", *common]) == 0
    assert main(["compress", *common]) == 0
    assert main(["export", "--task", task, "--runs", str(runs), "--dist", str(dist), "--data", str(data),
                 "--parity-images", "2"]) == 0
    assert main(["bench", "--task", task, "--dist", str(dist), "--data", str(data), "--out", str(reports),
                 "--quick", "--runs", "1", "--limit", "2", "--threads", "1"]) in (0, 1)   # 1: a smoke model may miss a budget
    out = capsys.readouterr().out

    sel = json.loads((runs / task / "selection.json").read_text())
    shipped = sel["shipped"]
    assert shipped in sel["ranking"] and set(sel["ranking"]) <= set(sel["candidates"])
    # every format of the shipped variant was attempted and recorded; the ship format is built
    status = json.loads((dist / task / shipped / "export.json").read_text())["rows"]
    assert set(status) == set(FORMAT_KEYS)
    ship = resolve(load_budgets(None), "default", task)["ship_format"]
    assert status[ship]["status"] == "ok", status[ship]
    man = json.loads((dist / task / shipped / ship / "manifest.json").read_text())
    assert man["shipped"] is True and man["variant"] == shipped
    assert "export summary" in out
    # the task's classical methods are ranked with the networks, and the shipped manifest says
    # in plain words which of the two is better on the selection split
    methods = set(TASKS.get(task).classical_methods())
    assert set(sel["classical"]) == methods
    assert set(sel["overall"]) == set(sel["ranking"]) | {"classical:" + m for m in methods}
    if methods:
        note = man["selection"]["note"]
        assert shipped in note and any(f"'{m}'" in note for m in methods)
        assert ("beats the shipped network" in note) == sel["overall"][0].startswith("classical:")
    else:
        assert "selection" not in man

    report = json.loads((reports / "bench.json").read_text())
    assert (reports / "bench.md").is_file()
    rows = {(r["variant"], r["key"]): r for r in report["rows"]}
    assert rows[(shipped, ship)]["status"] in ("ok", "fail")   # measured (a smoke model may miss budgets)
    assert rows[(shipped, ship)].get("quality"), "the shipped row has test-split quality"
    from edgephoto.compress.distill import variant_name
    kd = {variant_name(t) for t in TASKS.get(task).distill_temperatures}
    assert {v for v, _ in rows} >= {"teacher", "student"} | kd
