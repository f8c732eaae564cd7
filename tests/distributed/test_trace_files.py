"""`timeline --trace FILE`: a trace file that is not as `Trace.write` writes it is refused
with exit 2 and one line naming the field (no MPI needed)."""

from __future__ import annotations

import copy
import json

import pytest

from tinygrad_opt.cli import main
from tinygrad_opt.distributed.trace import FORMAT, VERSION, load_trace

GOOD = {
    "format": FORMAT,
    "version": VERSION,
    "world_size": 2,
    "meta": {"mode": "allreduce"},
    "ranks": [
        {"rank": r, "role": "worker", "host": "h", "accepted": [],
         "events": [[s, "compute", 0.1 * s, 0.1 * s + 0.05] for s in range(4)]}
        for r in range(2)
    ],
}  # fmt: skip


def _write(tmp_path, data) -> str:
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_a_good_trace_is_drawn(tmp_path, capsys):
    png = tmp_path / "g.png"
    assert main(["timeline", "--trace", _write(tmp_path, GOOD), "--out", str(png)]) == 0
    assert png.stat().st_size > 1000
    assert load_trace(tmp_path / "trace.json")["world_size"] == 2


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d["ranks"][1].pop("events"), "ranks[1].events is missing or not a list"),
        (lambda d: d["ranks"][0]["events"].append([0, "compute", "a", 1]),
         "ranks[0].events[4] must be [step, kind, start, end], got [0, 'compute', 'a', 1]"),
        (lambda d: d["ranks"][0]["events"].append([1, 2]), "ranks[0].events[4] must be"),
        (lambda d: d.update(ranks={}), "ranks must be a list, got dict"),
        (lambda d: d["ranks"].append("x"), "ranks[2] must be an object with an integer"),
        (lambda d: d.update(world_size="2"), "world_size must be an integer, got '2'"),
    ],
)  # fmt: skip
def test_a_malformed_trace_is_one_line_naming_the_field(tmp_path, capsys, change, needle):
    data = copy.deepcopy(GOOD)
    change(data)
    png = tmp_path / "g.png"
    assert main(["timeline", "--trace", _write(tmp_path, data), "--out", str(png)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and needle in err, err
    assert "Traceback" not in err and not png.exists()


def test_a_negative_first_step_is_refused(tmp_path, capsys):
    path = _write(tmp_path, GOOD)
    argv = ["timeline", "--trace", path, "--first-step", "-3", "--out", str(tmp_path / "g.png")]
    assert main(argv) == 2
    assert "--first-step must be a step number >= 0, got -3" in capsys.readouterr().err


def test_first_step_without_a_trace_is_refused(tmp_path, capsys):
    argv = ["timeline", "--params", "25M", "--workers", "4", "--compute-time", "0.1s",
            "--bandwidth", "25Gbit/s", "--latency", "5us", "--first-step", "3",
            "--out", str(tmp_path / "t.png")]  # fmt: skip
    assert main(argv) == 2
    assert "--first-step chooses the steps of a --trace" in capsys.readouterr().err
    assert not (tmp_path / "t.png").exists()
