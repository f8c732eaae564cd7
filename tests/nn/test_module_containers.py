"""``ModuleList``, ``ModuleDict``, ``Sequential`` and the ``Module`` methods added for
torch parity (``to``/``double``/``float``/``half``, ``apply``, ``add_module``,
``requires_grad_``, ``zero_grad``, ``named_modules``, ``get_submodule``), checked
against torch's behaviour on the same structures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import Tensor, nn
from tinygrad_opt.optim import SGD

torch = pytest.importorskip("torch")

# --------------------------------------------------------------------------- ModuleList
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 9)),
        st.tuples(st.just("insert"), st.integers(-6, 6), st.integers(1, 9)),
        st.tuples(st.just("extend"), st.lists(st.integers(1, 9), max_size=3)),
        st.tuples(st.just("set"), st.integers(-6, 6), st.integers(1, 9)),
        st.tuples(st.just("del"), st.integers(-6, 6)),
        st.tuples(st.just("del_slice"), st.integers(-6, 6), st.integers(-6, 6)),
        st.tuples(st.just("pop"), st.integers(-6, 6)),
        st.tuples(st.just("iadd"), st.lists(st.integers(1, 9), max_size=2)),
    ),
    max_size=12,
)


def _apply_op(lst, op, make):
    """Run one list operation; returns the exception class raised, or None."""
    kind, *args = op
    try:
        if kind == "append":
            lst.append(make(args[0]))
        elif kind == "insert":  # torch supports 0 <= index <= len only (list.insert clamps)
            lst.insert(args[0] % (len(lst) + 1), make(args[1]))
        elif kind == "extend":
            lst.extend([make(k) for k in args[0]])
        elif kind == "set":
            lst[args[0]] = make(args[1])
        elif kind == "del":
            del lst[args[0]]
        elif kind == "del_slice":
            del lst[args[0] : args[1]]
        elif kind == "pop":
            lst.pop(args[0])
        elif kind == "iadd":
            lst += [make(k) for k in args[0]]
    except IndexError:
        return IndexError
    return None


@settings(max_examples=100, deadline=None)
@given(start=st.lists(st.integers(1, 9), max_size=4), ops=OPS)
def test_module_list_operations_match_torch(start, ops):
    ours = nn.ModuleList([nn.Linear(k, 1) for k in start])
    theirs = torch.nn.ModuleList([torch.nn.Linear(k, 1) for k in start])
    for op in ops:
        err = _apply_op(ours, op, lambda k: nn.Linear(k, 1))
        assert err is _apply_op(theirs, op, lambda k: torch.nn.Linear(k, 1)), op
        assert [m.in_features for m in ours] == [m.in_features for m in theirs], op
    assert len(ours) == len(theirs)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    assert all(ours_sd[k].shape == tuple(v.shape) for k, v in theirs_sd.items())
    for i in range(-len(ours), len(ours)):
        assert ours[i].in_features == theirs[i].in_features
    for cut in (slice(0, 2), slice(1, None), slice(None, -1), slice(None, None, 2)):
        part, ref = ours[cut], theirs[cut]
        assert isinstance(part, nn.ModuleList)
        assert [m.in_features for m in part] == [m.in_features for m in ref]


def test_module_list_slices_share_modules_and_names_follow_torch():
    class Net(nn.Module):
        def __init__(self):
            self.layers = nn.ModuleList([nn.Linear(2, 2, rng=i) for i in range(3)])
            self.head = nn.Linear(2, 1, rng=9)

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)])
            self.head = torch.nn.Linear(2, 1)

    net, tnet = Net(), TNet()
    assert list(net.state_dict()) == list(tnet.state_dict())
    assert [n for n, _ in net.named_modules()] == [n for n, _ in tnet.named_modules()]
    assert net.layers[1:][0] is net.layers[1]
    assert net.layers[0] in net.layers and nn.Linear(2, 2) not in net.layers
    both = net.layers + nn.ModuleList([net.head])
    assert isinstance(both, nn.ModuleList) and len(both) == 4 and len(net.layers) == 3
    tnet.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 2)).astype(np.float32)
    h, th = Tensor(x), torch.from_numpy(x)
    for layer, tlayer in zip(net.layers, tnet.layers):
        h, th = layer(h).tanh(), tlayer(th).tanh()
    np.testing.assert_allclose(net.head(h).data, tnet.head(th).detach().numpy(), rtol=1e-5)


def test_module_list_errors():
    ml = nn.ModuleList([nn.ReLU()])
    with pytest.raises(IndexError, match="index 3 is out of range"):
        ml[3]
    with pytest.raises(IndexError, match="index -2 is out of range"):
        ml.pop(-2)
    with pytest.raises(TypeError, match="indices must be integers or slices, not str"):
        ml["a"]
    with pytest.raises(TypeError, match="ModuleList.append: the argument is a int, not a Module"):
        ml.append(3)
    with pytest.raises(TypeError, match="item 1 is a str"):
        ml.extend([nn.ReLU(), "relu"])
    with pytest.raises(TypeError, match="should be called with an iterable"):
        ml.extend(nn.ReLU())
    with pytest.raises(TypeError, match="item 0 is a Tensor"):
        nn.ModuleList([Tensor(1.0)])
    with pytest.raises(NotImplementedError, match="forward"):
        ml(Tensor(1.0))


def test_sequential_has_the_list_operations_too():
    seq = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU())
    seq.append(nn.Linear(3, 1, rng=1))
    seq.insert(0, nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Identity", "Linear", "ReLU", "Linear"]
    assert isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 3
    del seq[0]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert seq(Tensor(np.ones((4, 2)))).shape == (4, 1)
    assert isinstance(nn.MLP([2, 3, 1])[1:], nn.Sequential)


# --------------------------------------------------------------------------- ModuleDict
def test_module_dict_api_and_names_follow_torch():
    ours = nn.ModuleDict({"enc": nn.Linear(4, 2), "dec": nn.Linear(2, 4)})
    theirs = torch.nn.ModuleDict({"enc": torch.nn.Linear(4, 2), "dec": torch.nn.Linear(2, 4)})
    ours["act"] = nn.ReLU()
    theirs["act"] = torch.nn.ReLU()
    ours.update([("out", nn.Linear(4, 1))])
    theirs.update([("out", torch.nn.Linear(4, 1))])
    assert list(ours) == list(theirs) == list(ours.keys()) == ["enc", "dec", "act", "out"]
    assert len(ours) == 4 and "enc" in ours and "nope" not in ours
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.enc is ours["enc"] and [k for k, _ in ours.items()] == list(ours)
    assert list(ours.values())[1] is ours["dec"]
    popped = ours.pop("act")
    del theirs["act"]
    assert isinstance(popped, nn.ReLU) and list(ours) == list(theirs)
    del ours["out"]
    assert list(ours) == ["enc", "dec"]
    ours.update({"enc": nn.Linear(4, 3)})  # replacing keeps the position
    assert list(ours) == ["enc", "dec"] and ours.enc.out_features == 3
    ours.clear()
    assert len(ours) == 0 and ours.state_dict() == {}


def test_module_dict_inside_a_model_round_trips_with_torch():
    class Net(nn.Module):
        def __init__(self):
            self.blocks = nn.ModuleDict({"a": nn.Linear(3, 3, dtype=np.float64)})
            self.blocks["b"] = nn.Sequential(nn.Linear(3, 2, dtype=np.float64), nn.Tanh())

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleDict({"a": torch.nn.Linear(3, 3)})
            self.blocks["b"] = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())

    net, tnet = Net(), TNet().double()
    net.load_state_dict({k: v.detach().numpy() for k, v in tnet.state_dict().items()})
    assert list(net.state_dict()) == ["blocks.a.weight", "blocks.a.bias", "blocks.b.0.weight",
                                      "blocks.b.0.bias"]  # fmt: skip
    x = np.random.default_rng(0).standard_normal((2, 3))
    ours = net.blocks.b(net.blocks.a(Tensor(x)))
    ref = tnet.blocks["b"](tnet.blocks["a"](torch.from_numpy(x)))
    np.testing.assert_allclose(ours.data, ref.detach().numpy(), rtol=1e-12)
    assert net.get_submodule("blocks.b.0") is net.blocks["b"][0]
    with pytest.raises(AttributeError, match="no submodule 'c'"):
        net.get_submodule("blocks.c")


def test_module_dict_errors():
    md = nn.ModuleDict()
    with pytest.raises(KeyError, match=r'contain "\."'):
        md["a.b"] = nn.ReLU()
    with pytest.raises(KeyError, match="empty"):
        md[""] = nn.ReLU()
    with pytest.raises(KeyError, match="attribute 'train' already exists"):
        md["train"] = nn.ReLU()
    with pytest.raises(TypeError, match="item 'x' is a int, not a Module"):
        md["x"] = 3
    with pytest.raises(KeyError, match="no key 'zz'"):
        md["zz"]
    with pytest.raises(KeyError):
        md.pop("zz")
    with pytest.raises(ValueError, match=r"element #0 should be a \(key, module\) pair"):
        md.update([("x",)])
    with pytest.raises(AttributeError, match="no attribute or key 'zz'"):
        _ = md.zz


# --------------------------------------------------------------------------- Module methods
def _model(dtype=np.float32):
    return nn.Sequential(
        nn.Linear(3, 4, rng=0, dtype=dtype), nn.BatchNorm1d(4, dtype=dtype), nn.ReLU(),
        nn.Linear(4, 2, rng=1, dtype=dtype),
    )  # fmt: skip


@pytest.mark.parametrize(
    "convert, dtype",
    [
        (lambda m: m.double(), np.float64),
        (lambda m: m.to(np.float64), np.float64),
        (lambda m: m.to("float64"), np.float64),
        (lambda m: m.to(torch.float64), np.float64),
        (lambda m: m.to(dtype=np.float64, device="cpu"), np.float64),
        (lambda m: m.to("cpu", np.float64), np.float64),
        (lambda m: m.to(Tensor(np.zeros(1))), np.float64),
        (lambda m: m.half(), np.float16),
    ],
)
def test_to_converts_parameters_grads_and_float_buffers_in_place(convert, dtype):
    model = _model()
    params = model.parameters()
    model(Tensor(np.random.default_rng(0).standard_normal((5, 3)))).sum().backward()
    assert convert(model) is model
    assert model.parameters() == params  # the same Tensor objects
    assert all(p.dtype == dtype and p.grad.dtype == dtype for p in params)
    bn = model[1]
    assert bn.running_mean.dtype == bn.running_var.dtype == dtype
    assert bn.num_batches_tracked.dtype == np.int64 and int(bn.num_batches_tracked) == 1
    assert model.float() is model and all(p.dtype == np.float32 for p in params)


def test_double_then_matches_torch_double_and_optimizer_keeps_working():
    model = _model()
    opt = SGD(model.parameters(), lr=0.1)  # built before the conversion
    tmodel = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2)
    )  # fmt: skip
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    model.double()
    tmodel.double()
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    x = np.random.default_rng(1).standard_normal((6, 3))
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        out, ref = model(Tensor(x)), tmodel(torch.from_numpy(x))
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
        (out * out).sum().backward()
        (ref * ref).sum().backward()
        opt.step()
        topt.step()
    ours, theirs = model.state_dict(), tmodel.state_dict()
    assert sorted(ours) == sorted(theirs)
    for name, q in theirs.items():
        assert ours[name].dtype == q.numpy().dtype, name
        np.testing.assert_allclose(ours[name], q.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_to_rejects_non_float_dtypes_and_other_devices():
    model = _model()
    with pytest.raises(TypeError, match="only accepts floating point dtypes"):
        model.to(np.int32)
    with pytest.raises(ValueError, match="only device is 'cpu'"):
        model.to("cuda")
    with pytest.raises(TypeError, match="unexpected keyword"):
        model.to(dtyp=np.float64)
    assert model.to("cpu") is model and model[0].weight.dtype == np.float32


def test_apply_visits_children_first_as_torch():
    ours, theirs = [], []
    _model().apply(lambda m: ours.append(type(m).__name__))
    torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2)
    ).apply(lambda m: theirs.append(type(m).__name__))  # fmt: skip
    assert ours == theirs == ["Linear", "BatchNorm1d", "ReLU", "Linear", "Sequential"]
    model = _model()

    def init_(m):
        if isinstance(m, nn.Linear):
            m.weight.data[...] = 0.5

    assert model.apply(init_) is model
    assert np.all(model[0].weight.data == 0.5) and np.all(model[3].weight.data == 0.5)


def test_named_modules_duplicates_and_memo_as_torch():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    tshared = torch.nn.Linear(2, 2)
    tseq = torch.nn.Sequential(tshared, torch.nn.ReLU(), tshared)
    for kw in ({}, {"remove_duplicate": False}, {"prefix": "net"}):
        assert [n for n, _ in seq.named_modules(**kw)] == [n for n, _ in tseq.named_modules(**kw)]
    assert len(list(seq.modules(remove_duplicate=False))) == 4
    assert [n for n, _ in seq.named_modules(memo={shared})] == ["", "1"]


def test_add_module_register_parameter_requires_grad_and_zero_grad():
    m = nn.Module()
    m.add_module("fc", nn.Linear(2, 1, rng=0))
    m.register_module("act", nn.Tanh())
    m.register_parameter("scale", Tensor(np.ones(1), requires_grad=True))
    assert [n for n, _ in m.named_parameters()] == ["fc.weight", "fc.bias", "scale"]
    assert [n for n, _ in m.named_children()] == ["fc", "act"]
    m.add_module("fc", nn.Linear(2, 3))  # replacing a child is allowed
    assert m.fc.out_features == 3
    m.note = "text"
    with pytest.raises(KeyError, match="attribute 'note' already exists"):
        m.add_module("note", nn.ReLU())
    with pytest.raises(KeyError, match=r'contain "\."'):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(KeyError, match="empty"):
        m.add_module("", nn.ReLU())
    with pytest.raises(TypeError, match="not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(TypeError, match="should be a string"):
        m.add_module(1, nn.ReLU())
    with pytest.raises(TypeError, match="not a Tensor"):
        m.register_parameter("w", np.ones(2))

    model = _model(np.float64)
    assert model.requires_grad_(False) is model
    x = Tensor(np.ones((4, 3)), requires_grad=True)
    model(x).sum().backward()
    assert all(p.grad is None for p in model.parameters()) and x.grad is not None
    model.requires_grad_()
    model(x).sum().backward()
    grads = [p.grad for p in model.parameters()]
    model.zero_grad(set_to_none=False)
    assert all(p.grad is g and not g.any() for p, g in zip(model.parameters(), grads))
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_nn_utils_clips_gradients_under_torchs_name():
    import numpy as np

    from tinygrad_opt import Tensor, nn

    p = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    (p * p).sum().backward()  # grad (6, 8), norm 10
    total = nn.utils.clip_grad_norm_([p], 1.0)
    assert abs(float(total) - 10.0) < 1e-12
    np.testing.assert_allclose(p.grad, [0.6, 0.8], rtol=1e-6)
    nn.utils.clip_grad_value_([p], 0.7)
    assert np.abs(p.grad).max() <= 0.7 + 1e-12
