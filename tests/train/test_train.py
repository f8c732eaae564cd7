"""fit() and checkpoints: atomic writes, clear errors, bit-identical resume."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tinygrad_opt import nn
from tinygrad_opt.data import DataLoader, make_moons, train_test_split
from tinygrad_opt.optim import SGD, Adam
from tinygrad_opt.optim.lr_scheduler import StepLR
from tinygrad_opt.train import (
    CheckpointError,
    evaluate,
    fit,
    load_checkpoint,
    read_checkpoint_file,
    save_checkpoint,
    write_checkpoint_file,
)


def setup(seed=0, data_seed=0):
    X, y = make_moons(400, noise=0.15, rng=data_seed)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, rng=data_seed)
    model = nn.MLP([2, 16, 16, 2], rng=seed)
    opt = Adam(model.parameters(), lr=1e-2)
    sched = StepLR(opt, step_size=10, gamma=0.5)
    loader = DataLoader((Xtr, ytr), batch_size=32, shuffle=True, rng=seed)
    return model, opt, sched, loader, (Xte, yte)


def params(model):
    return [p.data.copy() for p in model.parameters()]


def test_fit_trains_and_returns_a_history():
    model, opt, sched, loader, val = setup()
    h = fit(
        model,
        opt,
        loader,
        nn.cross_entropy,
        epochs=20,
        val_data=val,
        scheduler=sched,
        progress=False,
    )
    assert len(h.train_loss) == len(h.val_metric) == 20
    assert h.val_metric[-1] >= 0.95
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.lr[9:11] == [1e-2, 5e-3]
    assert evaluate(model, *val, nn.cross_entropy)["accuracy"] == pytest.approx(h.val_metric[-1])


def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path):
    model_a, opt_a, sched_a, loader_a, val = setup()
    fit(model_a, opt_a, loader_a, nn.cross_entropy, epochs=6, scheduler=sched_a, progress=False)

    ckpt = tmp_path / "run.ckpt"
    model_b, opt_b, sched_b, loader_b, _ = setup()
    fit(
        model_b,
        opt_b,
        loader_b,
        nn.cross_entropy,
        epochs=3,
        scheduler=sched_b,
        checkpoint=ckpt,
        progress=False,
    )
    # a fresh process builds fresh objects (other seeds: all state must come from disk)
    model_c, opt_c, sched_c, loader_c, _ = setup(seed=99)
    h = fit(
        model_c,
        opt_c,
        loader_c,
        nn.cross_entropy,
        epochs=6,
        scheduler=sched_c,
        checkpoint=ckpt,
        resume=True,
        progress=False,
    )
    assert len(h.train_loss) == 6
    for a, c in zip(params(model_a), params(model_c)):
        np.testing.assert_array_equal(a, c)
    assert opt_c.param_groups[0]["lr"] == opt_a.param_groups[0]["lr"]


def test_checkpoint_round_trip_of_nested_state(tmp_path):
    payload = {
        "a": np.arange(6.0).reshape(2, 3),
        "ints": {0: {"step": 3, "buf": None}, 1: {"t": (0.9, 0.999)}},
        "big": 2**100,
        "inf": float("inf"),
        "s": "text",
        "f32": np.float32(1.5),
    }
    write_checkpoint_file(tmp_path / "x.ckpt", payload)
    back = read_checkpoint_file(tmp_path / "x.ckpt")
    np.testing.assert_array_equal(back["a"], payload["a"])
    assert back["ints"] == {0: {"step": 3, "buf": None}, 1: {"t": (0.9, 0.999)}}
    assert back["big"] == 2**100 and back["inf"] == float("inf") and back["s"] == "text"


def test_unstorable_objects_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="cannot store a function"):
        write_checkpoint_file(tmp_path / "x.ckpt", {"f": lambda: 0})
    assert not list(tmp_path.iterdir())  # no temporary file left behind


def test_write_is_atomic_and_never_damages_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "run.ckpt"
    model, opt, sched, loader, _ = setup()
    save_checkpoint(path, model, opt, epoch=1)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, opt, epoch=2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"]


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_damaged_checkpoints_give_a_clear_error_and_change_nothing(tmp_path, damage):
    path = tmp_path / "run.ckpt"
    model, opt, sched, loader, _ = setup()
    save_checkpoint(path, model, opt, sched, loader, epoch=1)
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip":
        raw[len(raw) // 3] ^= 0xFF
    elif damage == "empty":
        raw = bytearray()
    else:
        raw = bytearray(b"not a checkpoint at all" * 10)
    path.write_bytes(bytes(raw))
    model2, opt2, _, _, _ = setup(seed=5)
    before = params(model2)
    with pytest.raises(CheckpointError, match="truncated or corrupt|not a tinygrad_opt"):
        load_checkpoint(path, model2, opt2)
    for a, b in zip(before, params(model2)):
        np.testing.assert_array_equal(a, b)
    assert path.read_bytes() == bytes(raw)


def test_mismatched_checkpoint_leaves_model_and_optimizer_untouched(tmp_path):
    path = tmp_path / "run.ckpt"
    model, opt, sched, loader, _ = setup()
    fit(model, opt, loader, nn.cross_entropy, epochs=1, progress=False)
    save_checkpoint(path, model, opt, epoch=1)

    other = nn.MLP([2, 16, 16, 2], rng=3)
    other_opt = SGD(other.parameters(), lr=0.1, momentum=0.9)
    before = params(other)
    with pytest.raises(CheckpointError, match="holds Adam state, cannot load it into SGD"):
        load_checkpoint(path, other, other_opt)
    bigger = nn.MLP([2, 32, 2], rng=3)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_checkpoint(path, bigger, Adam(bigger.parameters()))
    # an optimizer with other group sizes fails after the model loaded: the model is rolled back
    same = nn.MLP([2, 16, 16, 2], rng=3)
    same_before = params(same)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_checkpoint(path, same, Adam(same.parameters()[:2]))
    for a, b in zip(same_before, params(same)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(before, params(other)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.ckpt", other)
    with pytest.raises(CheckpointError, match="holds no scheduler state"):
        load_checkpoint(path, model, opt, sched)


def test_layer_random_generators_are_saved(tmp_path):
    class Noisy(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(2, 2, rng=0)
            self.gen = np.random.default_rng(7)

        def forward(self, x):
            return self.lin(x)

    m = Noisy()
    m.gen.random(5)
    save_checkpoint(tmp_path / "n.ckpt", m)
    expected = m.gen.random(3)
    m2 = Noisy()
    load_checkpoint(tmp_path / "n.ckpt", m2)
    np.testing.assert_array_equal(m2.gen.random(3), expected)


def test_fit_drives_closure_based_optimizers():
    from tinygrad_opt.optim import LBFGS

    X, y = make_moons(200, noise=0.1, rng=0)
    model = nn.MLP([2, 16, 2], rng=0)
    opt = LBFGS(model.parameters(), lr=1, max_iter=5, line_search_fn="strong_wolfe")
    loader = DataLoader((X, y), batch_size=200)
    h = fit(model, opt, loader, nn.cross_entropy, epochs=5, progress=False)
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]


def test_evaluate_puts_textbook_nesterov_at_theta_and_restores_the_lookahead():
    from tinygrad_opt import nn, optim
    from tinygrad_opt.nn.functional import mse_loss
    from tinygrad_opt.tensor import Tensor
    from tinygrad_opt.train import evaluate

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 3)), rng.standard_normal((32, 1))
    model = nn.MLP([3, 8, 1], rng=0, dtype=np.float64)
    opt = optim.create("textbook_nesterov", model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(5):
        opt.zero_grad()
        mse_loss(model(Tensor(X)), y).backward()
        opt.step()
    lookahead = [p.data.copy() for p in model.parameters()]
    at_lookahead = evaluate(model, X, y, mse_loss, metric=None)["loss"]
    at_theta = evaluate(model, X, y, mse_loss, metric=None, optimizer=opt)["loss"]
    with opt.at_theta():
        expected = float(mse_loss(model(Tensor(X)), y).data)
    assert at_theta == pytest.approx(expected, rel=1e-12)
    assert at_theta != pytest.approx(at_lookahead, rel=1e-6)
    assert all(np.array_equal(p.data, q) for p, q in zip(model.parameters(), lookahead))


def test_resume_from_a_missing_checkpoint_names_the_path(tmp_path):
    model, opt, sched, loader, _ = setup()
    before = params(model)
    missing = tmp_path / "nope.ckpt"
    with pytest.raises(CheckpointError, match=f"resume=True but checkpoint {missing} does not"):
        fit(model, opt, loader, nn.cross_entropy, 2, checkpoint=missing, resume=True,
            progress=False)  # fmt: skip
    for a, b in zip(before, params(model)):  # nothing was trained
        np.testing.assert_array_equal(a, b)
    assert not missing.exists()
    with pytest.raises(ValueError, match="needs checkpoint="):
        fit(model, opt, loader, nn.cross_entropy, 2, resume=True, progress=False)
    with pytest.raises(ValueError, match="resume must be True, False or 'if_present'"):
        fit(model, opt, loader, nn.cross_entropy, 2, checkpoint=missing, resume="yes",
            progress=False)  # fmt: skip


def test_resume_if_present_starts_afresh_then_resumes(tmp_path):
    model_a, opt_a, sched_a, loader_a, _ = setup()
    fit(model_a, opt_a, loader_a, nn.cross_entropy, 4, scheduler=sched_a, progress=False)
    ckpt = tmp_path / "run.ckpt"
    model_b, opt_b, sched_b, loader_b, _ = setup()
    h = fit(model_b, opt_b, loader_b, nn.cross_entropy, 2, scheduler=sched_b, checkpoint=ckpt,
            resume="if_present", progress=False)  # fmt: skip
    assert len(h.train_loss) == 2 and ckpt.exists()
    model_c, opt_c, sched_c, loader_c, _ = setup(seed=7)
    h = fit(model_c, opt_c, loader_c, nn.cross_entropy, 4, scheduler=sched_c, checkpoint=ckpt,
            resume="if_present", progress=False)  # fmt: skip
    assert len(h.train_loss) == 4
    for a, c in zip(params(model_a), params(model_c)):
        np.testing.assert_array_equal(a, c)


def test_a_checkpoint_path_that_is_a_symlink_is_written_through(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    target = store / "real.ckpt"
    link = tmp_path / "latest.ckpt"
    link.symlink_to(target)  # dangling until the first save
    model, opt, sched, loader, _ = setup()
    fit(model, opt, loader, nn.cross_entropy, 1, checkpoint=link, progress=False)
    assert link.is_symlink() and os.readlink(link) == str(target) and target.is_file()
    first = target.stat().st_ino
    save_checkpoint(link, model, opt, epoch=1)  # again: an atomic replace of the target
    assert link.is_symlink() and target.stat().st_ino != first
    assert sorted(p.name for p in store.iterdir()) == ["real.ckpt"]  # no temporary left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.ckpt", "store"]
    assert load_checkpoint(link, model, opt)["epoch"] == 1
    # a chain of links ends at the same target
    chain = tmp_path / "chain.ckpt"
    chain.symlink_to(link)
    save_checkpoint(chain, model, opt, epoch=2)
    assert chain.is_symlink() and link.is_symlink()
    assert read_checkpoint_file(target)["epoch"] == 2
