"""fit(callbacks=...) and SharpnessCallback: the hook contract, the recorded sharpness
equals the top eigenvalue of the dense Hessian at the recorded parameters, training is
unchanged by the measurement, and the record survives a checkpoint resume."""

from __future__ import annotations

import numpy as np
import pytest
from curv_helpers import our_loss, tanh_mlp

from tinygrad_opt.curvature import HessianOperator, SharpnessCallback
from tinygrad_opt.data import DataLoader
from tinygrad_opt.optim import SGD
from tinygrad_opt.train import History, fit, load_checkpoint

LOSS = our_loss("mse")


def setup(seed=0):
    rng = np.random.default_rng(100)
    X = rng.standard_normal((48, 3))
    y = np.sin(X @ np.array([[1.0], [-2.0], [0.5]]))
    model = tanh_mlp([3, 6, 1], seed=seed)
    opt = SGD(model.parameters(), lr=0.2, momentum=0.5)
    loader = DataLoader((X, y), batch_size=16, shuffle=True, rng=seed)
    return model, opt, loader, (X[:20], y[:20])


class Snapshots:
    """Records the parameters at the steps where the sharpness callback measures."""

    def __init__(self, every):
        self.every = every
        self.params = {}

    def on_step_end(self, step, model, loss):
        if step % self.every == 0:
            self.params[step] = [p.data.copy() for p in model.parameters()]


def test_recorded_sharpness_is_the_top_eigenvalue_at_those_parameters():
    model, opt, loader, batch = setup()
    cb = SharpnessCallback(LOSS, batch, every=2, k=2, tol=1e-10)
    snaps = Snapshots(2)
    history = fit(
        model, opt, loader, LOSS, epochs=2, metric=None, progress=False, callbacks=[cb, snaps]
    )
    assert history.records["sharpness"] is cb.values
    np.testing.assert_array_equal(cb.steps, [2, 4, 6])  # 3 batches per epoch, 2 epochs
    assert cb.eigenvalues.shape == (3, 2)
    probe = tanh_mlp([3, 6, 1], seed=0)
    for (step, *values), (snap_step, params) in zip(cb.values, snaps.params.items()):
        assert step == snap_step
        for p, a in zip(probe.parameters(), params):
            p.data = a
        dense = HessianOperator(probe, LOSS, batch).to_dense()
        top = np.sort(np.linalg.eigvalsh(dense))[::-1][:2]
        np.testing.assert_allclose(values, top, rtol=1e-9, atol=1e-12)
    assert len(set(cb.eigenvalues[:, 0])) == 3  # it changes as the model trains


def test_measuring_does_not_change_training():
    model_a, opt_a, loader_a, batch = setup()
    fit(model_a, opt_a, loader_a, LOSS, epochs=3, metric=None, progress=False)
    model_b, opt_b, loader_b, _ = setup()
    cb = SharpnessCallback(LOSS, batch, every=1)
    fit(model_b, opt_b, loader_b, LOSS, epochs=3, metric=None, progress=False, callbacks=[cb])
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
        assert b.grad is not None  # the optimizer's gradients are still the training ones
    assert len(cb.values) == 9


def test_sharpness_record_survives_resume(tmp_path):
    model_a, opt_a, loader_a, batch = setup()
    cb_a = SharpnessCallback(LOSS, batch, every=2)
    h_a = fit(
        model_a, opt_a, loader_a, LOSS, epochs=4, metric=None, progress=False, callbacks=[cb_a]
    )
    ckpt = tmp_path / "run.ckpt"
    model_b, opt_b, loader_b, _ = setup()
    cb_b = SharpnessCallback(LOSS, batch, every=2)
    fit(
        model_b,
        opt_b,
        loader_b,
        LOSS,
        epochs=2,
        metric=None,
        progress=False,
        checkpoint=ckpt,
        callbacks=[cb_b],
    )
    assert load_checkpoint(ckpt)["step"] == 6
    # a fresh process: fresh objects, fresh callback; all state comes from the file
    model_c, opt_c, loader_c, _ = setup(seed=7)
    cb_c = SharpnessCallback(LOSS, batch, every=2)
    h_c = fit(
        model_c,
        opt_c,
        loader_c,
        LOSS,
        epochs=4,
        metric=None,
        progress=False,
        checkpoint=ckpt,
        resume=True,
        callbacks=[cb_c],
    )
    assert cb_c.values == cb_a.values and h_c.records == h_a.records
    assert [entry[0] for entry in cb_c.values] == [2, 4, 6, 8, 10, 12]
    assert h_c.train_loss == h_a.train_loss
    for a, c in zip(model_a.parameters(), model_c.parameters()):
        np.testing.assert_array_equal(a.data, c.data)


class Recorder:
    """Logs every hook call."""

    def __init__(self):
        self.calls = []

    def on_train_begin(self, model, history):
        self.calls.append(("begin", len(history.train_loss)))

    def on_step_end(self, step, model, loss):
        assert isinstance(loss, float)
        self.calls.append(("step", step))

    def on_epoch_end(self, epoch, model, history):
        history.records.setdefault("epochs", []).append(epoch)
        self.calls.append(("epoch", epoch, len(history.train_loss)))

    def on_train_end(self, model, history):
        self.calls.append(("end", len(history.train_loss)))


def test_callback_contract_order_and_counters_across_resume(tmp_path):
    model, opt, loader, _ = setup()
    rec = Recorder()
    partial = object()  # a callback with none of the hooks is allowed
    fit(
        model,
        opt,
        loader,
        LOSS,
        epochs=1,
        metric=None,
        progress=False,
        checkpoint=tmp_path / "c",
        callbacks=[rec, partial],
    )
    assert rec.calls == [
        ("begin", 0),
        ("step", 1),
        ("step", 2),
        ("step", 3),
        ("epoch", 1, 1),
        ("end", 1),
    ]
    rec2 = Recorder()
    model, opt, loader, _ = setup()
    h = fit(
        model,
        opt,
        loader,
        LOSS,
        epochs=2,
        metric=None,
        progress=False,
        checkpoint=tmp_path / "c",
        resume=True,
        callbacks=[rec2],
    )
    assert rec2.calls == [
        ("begin", 1),
        ("step", 4),
        ("step", 5),
        ("step", 6),
        ("epoch", 2, 2),
        ("end", 2),
    ]
    assert h.records == {"epochs": [1, 2]}


def test_history_records_round_trip_and_old_histories_load():
    h = History(train_loss=[1.0], records={"sharpness": [(2, 3.5)]})
    d = h.to_dict()
    assert (
        d["records"] == {"sharpness": [(2, 3.5)]}
        and d["records"]["sharpness"] is not h.records["sharpness"]
    )
    old = {k: v for k, v in d.items() if k != "records"}
    assert History(**old).records == {}


def test_callback_arguments_are_checked():
    batch = (np.zeros((2, 3)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="every must be a positive integer"):
        SharpnessCallback(LOSS, batch, every=0)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        SharpnessCallback(LOSS, batch, k=0)
    model = tanh_mlp([3, 2, 1], seed=0)
    cb = SharpnessCallback(LOSS, (np.ones((4, 3)), np.ones((4, 1))), k=2, which="SA")
    dense = HessianOperator(model, LOSS, (np.ones((4, 3)), np.ones((4, 1)))).to_dense()
    np.testing.assert_allclose(cb.measure(model), np.sort(np.linalg.eigvalsh(dense))[:2], atol=1e-9)
