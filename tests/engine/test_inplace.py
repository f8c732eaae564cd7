"""In-place changes: the ``*_`` methods, ``t[i] = v``, ``t.data`` assignment and the
version counter that makes ``backward`` refuse a gradient computed from stale values."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_opt import InplaceError, Tensor, no_grad


def leaf(values, rg=True):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=rg)


@pytest.mark.parametrize(
    "change",
    [
        lambda x: x.add_(1.0),
        lambda x: x.mul_(2.0),
        lambda x: x.__setitem__(0, 5.0),
        lambda x: x.zero_(),
        lambda x: x.copy_(Tensor(np.ones(3))),
        lambda x: setattr(x, "data", x.data + 1),  # t.data = new
    ],
    ids=["add_", "mul_", "setitem", "zero_", "copy_", "data="],
)
def test_changing_a_saved_input_after_forward_raises_at_backward(change):
    x = leaf([1.0, 2.0, 3.0])
    y = (x * x).sum()  # Mul saved x
    with no_grad():
        change(x)
    with pytest.raises(InplaceError, match="modified by an in-place operation"):
        y.backward()


def test_augmented_data_assignment_is_seen():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    x.data += 1  # reads .data, adds in place, assigns .data back: one version up
    with pytest.raises(RuntimeError, match="version"):
        y.backward()


def test_version_counts_each_change():
    x = Tensor(np.zeros(3))
    assert x._version == 0
    x.add_(1)
    x[1] = 7
    x.data = np.ones(3)
    assert x._version == 3
    np.testing.assert_array_equal(x.data, [1, 1, 1])


def test_in_place_on_a_leaf_that_requires_grad_raises_outside_no_grad():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf"):
        x[0] = 3.0
    with no_grad():
        x.add_(1)  # allowed: an optimizer step
    np.testing.assert_array_equal(x.data, [2.0, 3.0])


def test_in_place_without_grad_keeps_the_array_object():
    x = Tensor(np.arange(4.0))
    buf = x.data
    x.mul_(2).sub_(1)
    x[x > 4] = 0.0
    assert x.data is buf
    np.testing.assert_array_equal(buf, [-1, 1, 3, 0])
    with pytest.raises(RuntimeError, match="can't be cast"):
        Tensor([1, 2]).add_(0.5)  # float result into an int64 tensor, as torch


def test_setitem_on_a_non_leaf_matches_torch():
    torch = pytest.importorskip("torch")
    data = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])
    w_data = np.array([0.3, -0.7, 1.1])

    x = Tensor(data, requires_grad=True)
    w = Tensor(w_data, requires_grad=True)
    h = x * 2
    h[h < 0] = 0.0  # a masked write
    h[:, 1] = w[1] * 3  # a broadcast write of a value with a gradient
    (h * h).sum().backward()

    tx = torch.tensor(data, requires_grad=True)
    tw = torch.tensor(w_data, requires_grad=True)
    th = tx * 2
    th[th < 0] = 0.0
    th[:, 1] = tw[1] * 3
    (th * th).sum().backward()
    np.testing.assert_allclose(h.data, th.detach().numpy())
    np.testing.assert_allclose(x.grad, tx.grad.numpy())
    np.testing.assert_allclose(w.grad, tw.grad.numpy())


def test_in_place_add_on_a_non_leaf_matches_torch():
    torch = pytest.importorskip("torch")
    data = np.array([0.5, -1.5, 2.0])
    x = Tensor(data, requires_grad=True)
    h = x * 2.0  # the product saves x and 2, not h: changing h in place is legal
    h.add_(x).mul_(x)
    h.sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    th = tx * 2.0
    th.add_(tx).mul_(tx)
    th.sum().backward()
    np.testing.assert_allclose(h.data, th.detach().numpy())
    np.testing.assert_allclose(x.grad, tx.grad.numpy())


def test_a_consumer_of_the_old_value_refuses_to_backpropagate():
    x = leaf([1.0, 2.0])
    h = x * 1.0
    z = (h * h).sum()  # uses h's old value
    h.add_(1.0)  # rebases h
    with pytest.raises(InplaceError):
        z.backward()


def test_tensor_shares_numpy_memory_and_tensor_copies():
    from tinygrad_opt import tensor

    a = np.zeros(3)
    shared, copied, private = Tensor(a), tensor(a), Tensor(a, copy=True)
    a[0] = 1.0
    assert shared.data[0] == 1.0 and copied.data[0] == 0.0 and private.data[0] == 0.0
    assert shared.numpy() is a
    converted = Tensor(np.arange(3), dtype=np.float64)  # a conversion always copies
    assert not np.shares_memory(converted.data, a)
