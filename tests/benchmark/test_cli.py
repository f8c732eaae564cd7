"""``tinygrad-opt benchmark`` through ``tinygrad_opt.cli.main``: mistakes exit 2 with one
line and write nothing; ``--quick`` runs end to end and resumes to the same file."""

from __future__ import annotations

import json
import os

import pytest

from tinygrad_opt.cli import main
from tinygrad_opt.optim import registry


def run_cli(capsys, *argv):
    code = main(["benchmark", "--no-progress", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--optimizers", "adam,nosuch"], "unknown optimizer(s) 'nosuch'; valid: "),
        (["--workloads", "logreg,nosuch"], "unknown workload(s) 'nosuch'; valid: logreg"),
        (["--optimizers", "muon", "--workloads", "logreg"], "'muon' steps 2-D weight matrices"),
        (["--lr-grid", "1e-3:1"], "--lr-grid: expected LOW:HIGH:N"),
        (["--lr-grid", "0.1,-1"], "--lr-grid: expected LOW:HIGH:N"),
        (["--lr-grid", "1e-3:1:3", "--budget", "4"], "the grid is the budget"),
        (["--out", "{tmp}/missing/b.json"], "folder '{tmp}/missing' does not exist"),
        (["--out", "{tmp}/b.txt"], "unknown extension '.txt'"),
        (["--set", "logreg.max_steps"], "--set: expected WORKLOAD.KEY=VALUE, got 'logreg."),
        (["--set", "mlp.target=0.5"], "workload 'mlp' is not benchmarked (--workloads: logreg)"),
        (["--set", "logreg.depth=3"], "--set: workload 'logreg' has no setting 'depth'"),
        (["--plot", "{tmp}/p.gif"], "unknown extension '.gif'"),
    ],
)
def test_mistakes_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "b.json")]
    if "--workloads" not in argv:
        argv += ["--workloads", "logreg"]
    code, out, err = run_cli(capsys, "--quick", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("tinygrad-opt benchmark: error: ")
    assert message.replace("{tmp}", str(tmp_path)) in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("budget", ["0", "-3", "x"])
def test_a_budget_that_is_not_positive_exits_2(tmp_path, capsys, budget):
    with pytest.raises(SystemExit) as e:
        main(["benchmark", "--budget", budget, "--out", str(tmp_path / "b.json")])
    assert e.value.code == 2
    assert "--budget" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_method_without_a_declared_space_is_refused(tmp_path, capsys, monkeypatch):
    cls, _ = registry.lookup("sgd")
    monkeypatch.setitem(registry._REGISTRY, "my_sgd", (cls, {}))
    code, out, err = run_cli(
        capsys,
        "--quick",
        "--optimizers",
        "my_sgd",
        "--workloads",
        "logreg",
        "--out",
        str(tmp_path / "b.json"),
    )
    assert code == 2 and out == ""
    assert "optimizer 'my_sgd' has no declared search space" in err
    assert err.count("\n") == 1


def test_an_unwritable_out_is_refused(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, out, err = run_cli(capsys, "--quick", "--out", str(afile / "b.json"))
    assert code == 2 and out == "" and f"folder {str(afile)!r} is not a folder" in err
    folder = tmp_path / "d.json"
    folder.mkdir()
    code, out, err = run_cli(capsys, "--quick", "--out", str(folder))
    assert code == 2 and out == "" and "is a folder; give a file name" in err
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            code, out, err = run_cli(capsys, "--quick", "--out", str(locked / "b.json"))
        finally:
            locked.chmod(0o700)
        assert code == 2 and "is not writable" in err and list(locked.iterdir()) == []


def test_quick_end_to_end_then_resumed_to_the_same_file(tmp_path, capsys):
    out = tmp_path / "b.json"
    code, text, err = run_cli(capsys, "--quick", "--out", str(out))
    assert code == 0, err
    doc = json.loads(out.read_text())
    assert doc["complete"] and doc["settings"]["quick"]
    assert len(doc["trials"]) == 2 * 2 * 2  # sgd, adam x logreg, mlp x budget 2
    assert {t["method"] for t in doc["trials"]} == {"sgd", "adam"}
    assert all(t["history"][-1][0] <= 100 for t in doc["trials"])  # shortened workloads
    assert doc["workloads"]["logreg"]["max_steps"] == 100
    assert any(t["steps_to_target"] is not None for t in doc["trials"])
    profile = tmp_path / "b_profile.png"
    assert profile.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = text.splitlines()
    assert lines[0].startswith("2 optimizers x 2 workloads, random search, budget 2")
    table = {line.split()[0]: line for line in lines if line.split()[0] in ("sgd", "adam")}
    assert set(table) == {"sgd", "adam"}
    for s in doc["scores"]:  # the table shows each score's count of reaching trials
        assert f"({s['reached']}/{s['trials']})" in table[s["method"]]
    first = out.read_bytes()

    # interrupted (stopped after 3 trials) and continued: the same file
    part = tmp_path / "part.json"
    code, text, _ = run_cli(capsys, "--quick", "--out", str(part), "--stop-after", "3")
    assert code == 0 and "3 of 8 trials done" in text
    assert len(json.loads(part.read_text())["trials"]) == 3
    assert not (tmp_path / "part_profile.png").exists()
    assert run_cli(capsys, "--quick", "--out", str(part))[0] == 0
    a, b = json.loads(part.read_text()), json.loads(first)
    # wall-clock seconds differ between runs; everything else is identical
    for doc in (a, b):
        for t in doc["trials"]:
            t.pop("seconds_to_target")
            for h in t["history"]:
                h[1] = None
        doc.pop("scores")
    assert a == b

    # a complete file: the same command again runs nothing and rewrites the same bytes
    assert run_cli(capsys, "--quick", "--out", str(out))[0] == 0
    assert out.read_bytes() == first

    # other settings on the same file: refused, file untouched
    code, text, err = run_cli(capsys, "--quick", "--budget", "3", "--out", str(out))
    assert code == 2 and text == "" and "settings.budget: 2 there, 3 now" in err
    assert out.read_bytes() == first


def test_json_output_and_list_spaces(tmp_path, capsys):
    out = tmp_path / "b.json"
    code, text, _ = run_cli(capsys, "--quick", "--workloads", "logreg", "--json", "--no-plot",
                            "--out", str(out))  # fmt: skip
    assert code == 0
    printed = json.loads(text)
    assert printed["scores"] == json.loads(out.read_text())["scores"]
    assert not (tmp_path / "b_profile.png").exists()
    code, text, _ = run_cli(capsys, "--list-spaces")
    assert code == 0
    assert "adam: lr log-uniform [1e-05, 0.1]; betas (1 - log-uniform" in text
    assert len(text.splitlines()) == len(registry.available())


def test_all_runs_every_registered_method_that_can_train_the_workload(tmp_path, capsys):
    out = tmp_path / "b.json"
    code, text, err = run_cli(capsys, "--optimizers", "all", "--workloads", "logreg",
                              "--budget", "1", "--max-steps", "3", "--no-plot",
                              "--out", str(out))  # fmt: skip
    assert code == 0, err
    ran = json.loads(out.read_text())["settings"]["optimizers"]
    assert set(ran) == set(registry.available()) - {"muon", "muon_optax"}
    for name in ("muon", "muon_optax"):
        assert f"skipped {name} ('{name}' steps 2-D weight matrices only" in text
    sophia = [t for t in json.loads(out.read_text())["trials"] if t["method"] == "sophiag"][0]
    assert sophia["hyperparameters"]["bs"] == 64  # what the runner added is recorded too


def test_set_changes_a_workload_and_is_recorded(tmp_path, capsys):
    out = tmp_path / "b.json"
    argv = ["--workloads", "logreg", "--optimizers", "adam", "--budget", "1", "--set",
            "logreg.max_steps=20", "--set", "logreg.target=0.6", "--no-plot"]  # fmt: skip
    code, text, err = run_cli(capsys, *argv, "--out", str(out))
    assert code == 0, err
    doc = json.loads(out.read_text())
    assert doc["workloads"]["logreg"]["max_steps"] == 20
    assert doc["workloads"]["logreg"]["target"] == 0.6
    assert doc["trials"][0]["history"][-1][0] <= 20
    assert "logreg: val_loss <= 0.6 within 20 steps" in text
    quick = tmp_path / "q.json"  # --set applies on top of --quick's shortened workloads
    argv = ["--quick", "--workloads", "logreg", "--budget", "1", "--set", "logreg.target=0.7",
            "--no-plot", "--out", str(quick)]  # fmt: skip
    assert run_cli(capsys, *argv)[0] == 0
    logreg = json.loads(quick.read_text())["workloads"]["logreg"]
    assert (logreg["target"], logreg["max_steps"], logreg["eval_every"]) == (0.7, 100, 10)


def test_ctrl_c_keeps_finished_trials_and_the_same_command_continues(tmp_path, capsys,
                                                                    monkeypatch):  # fmt: skip
    import tinygrad_opt.workloads as workloads

    real_run, calls = workloads.run, []

    def interrupted_run(*args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(args[1])
        return real_run(*args, **kwargs)

    out = tmp_path / "b.json"
    argv = ["--quick", "--workloads", "logreg", "--budget", "3", "--no-plot", "--out", str(out)]
    monkeypatch.setattr(workloads, "run", interrupted_run)
    code, text, err = run_cli(capsys, *argv)
    assert code == 130 and "interrupted" in err and "rerun the same command" in err
    assert len(json.loads(out.read_text())["trials"]) == 3
    monkeypatch.setattr(workloads, "run", real_run)
    code, text, err = run_cli(capsys, *argv)
    assert code == 0, err
    doc = json.loads(out.read_text())
    assert doc["complete"] and len(doc["trials"]) == 6
    assert [t["method"] for t in doc["trials"]] == ["sgd"] * 3 + ["adam"] * 3
