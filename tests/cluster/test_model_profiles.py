"""Built-in model profiles and per-tensor workloads.

The totals below are the published ones, typed here: torchvision's ``num_params`` of its
model weights (AlexNet, VGG-16, Inception-v3, ResNets) and their ``GFLOPS``; Hugging
Face ``BertModel`` (bert-base/large-uncased; the paper's "110M" / "340M"); OpenAI's GPT-2
checkpoints (124M / 355M / 774M / 1558M in the ``openai/gpt-2`` repository).
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cli import main
from tinygrad_opt.cluster import ClusterSpec, SpecError, Workload, simulate
from tinygrad_opt.cluster.config import expand
from tinygrad_opt.cluster.models import MODEL_NAMES, get_model, list_models

PUBLISHED = {
    "alexnet": 61_100_840,
    # 4 bytes each: the "model size 203 MB" of MXNet's image-classification README
    "alexnet_mxnet": 50_844_008,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    # BVLC Caffe's bvlc_googlenet without its auxiliary classifiers
    "googlenet": 6_998_552,
    "inception_v3": 27_161_264,
    "inception_v3_noaux": 23_834_568,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "bert_base": 109_482_240,
    "bert_large": 335_141_888,
    "gpt2": 124_439_808,
    "gpt2_medium": 354_823_168,
    "gpt2_large": 774_030_080,
    "gpt2_xl": 1_557_611_200,
    # counted from NVIDIA's configuration (no published total): see test_transformer_xl_*
    "transformer_xl_base": 191_950_298,
    "transformer_xl_large": 285_167_482,
    # torchvision's num_params of ViT_B_16_Weights / ViT_L_16_Weights
    "vit_b_16": 86_567_656,
    "vit_l_16": 304_326_632,
    # Meta's LLaMA checkpoints as Hugging Face's LlamaForCausalLM holds them
    "llama_7b": 6_738_415_616,
    "llama_13b": 13_015_864_320,
}
TORCHVISION_GFLOPS = {  # forward multiply-adds, billions (torchvision's "GFLOPS")
    "alexnet": 0.71,
    "vgg16": 15.47,
    "vgg19": 19.63,
    "inception_v3": 5.71,
    "resnet50": 4.09,
    "resnet101": 7.80,
    "resnet152": 11.51,
}
BASE = {"compute_time_per_step": "0.3s", "steps": 100}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_totals_match_the_published_counts(name):
    assert set(PUBLISHED) == set(MODEL_NAMES)
    p = get_model(name)
    assert p.parameters == PUBLISHED[name]
    assert len(p.tensor_names) == len(p.tensor_sizes) == len(p.tensor_macs)
    assert len(set(p.tensor_names)) == len(p.tensor_names)  # every tensor named once
    assert all(s > 0 for s in p.tensor_sizes) and all(m > 0 for m in p.tensor_macs)


def test_paper_round_figures():
    """The papers' own round numbers: BERT 110M / 340M, GPT-2 as released 124M ... 1.5B."""
    assert round(get_model("bert_base").parameters / 1e6) == 109  # "110M"
    assert abs(get_model("bert_large").parameters / 340e6 - 1) < 0.02
    for name, m in (("gpt2", 124), ("gpt2_medium", 355), ("gpt2_large", 774), ("gpt2_xl", 1558)):
        assert round(get_model(name).parameters / 1e6) == m


@pytest.mark.parametrize("name", sorted(TORCHVISION_GFLOPS))
def test_cnn_macs_match_torchvision_gflops(name):
    macs = sum(get_model(name).tensor_macs) / 1e9
    assert macs == pytest.approx(TORCHVISION_GFLOPS[name], rel=0.015)


def test_googlenet_costs_the_papers_one_and_a_half_billion_multiply_adds():
    # Szegedy et al. 2015, section 5: "1.5 billion multiply-adds at inference time"
    assert sum(get_model("googlenet").tensor_macs) / 1e9 == pytest.approx(1.5, rel=0.06)
    assert get_model("inception-v1").name == "googlenet"
    assert get_model("VGG-19").name == "vgg19"


def test_vgg16_fc6_holds_three_quarters():
    p = get_model("vgg16")
    name, size = p.largest_tensor
    assert name == "classifier.0.weight" and size == 512 * 7 * 7 * 4096
    share = size / p.parameters
    assert share == pytest.approx(102_760_448 / 138_357_544) and 0.72 < share < 0.76
    # ... but a tiny part of the work: 25088 × 4096 MACs of 15.5 G
    i = p.tensor_names.index(name)
    assert p.tensor_macs[i] / sum(p.tensor_macs) == pytest.approx(25088 * 4096 / 15.48e9, rel=0.01)


@pytest.mark.parametrize(
    "name, layers, d, vocab, positions",
    [("gpt2", 12, 768, 50257, 1024), ("gpt2_xl", 48, 1600, 50257, 1024)],
)
def test_gpt2_closed_form(name, layers, d, vocab, positions):
    # per block: ln (2d) + qkv (3d² + 3d) + proj (d² + d) + ln (2d) + fc (4d² + 4d)
    # + proj (4d² + d) = 12d² + 13d; plus the tied embeddings and the final norm
    p = get_model(name)
    assert p.parameters == vocab * d + positions * d + layers * (12 * d * d + 13 * d) + 2 * d
    assert len(p.tensor_sizes) == 2 + 12 * layers + 2


@pytest.mark.parametrize("name, layers, d", [("bert_base", 12, 768), ("bert_large", 24, 1024)])
def test_bert_closed_form(name, layers, d):
    emb = (30522 + 512 + 2) * d + 2 * d
    pooler = d * d + d
    p = get_model(name)
    assert p.parameters == emb + layers * (12 * d * d + 13 * d) + pooler
    assert len(p.tensor_sizes) == 5 + 16 * layers + 2


def test_transformer_xl_closed_form():
    # NVIDIA's WikiText-103 configurations: vocabulary 267,735, cutoffs 19,997 / 39,997 /
    # 199,997 (3 clusters); per layer qkv (3·d·64H, no bias) + o (64H·d) + r (d·64H) + two
    # norms (4d) + feed-forward (2·d·f + f + d); shared r_w/r_r biases (2·64H); the
    # softmax's cluster weights and biases (3d + 3) and its output biases (the vocabulary)
    vocab, segments = 267_735, (19_997, 20_000, 160_000, 67_738)

    def layer(d, h, f):
        return 3 * d * 64 * h + 2 * 64 * h * d + 4 * d + 2 * d * f + f + d

    base = vocab * 512 + 16 * layer(512, 8, 2048) + 2 * 64 * 8 + 3 * 512 + 3 + vocab
    widths = (1024, 256, 64, 16)  # div_val 4
    emb = sum(n * w for n, w in zip(segments, widths)) + sum(1024 * w for w in widths)
    large = emb + 18 * layer(1024, 16, 4096) + 2 * 64 * 16 + 3 * 1024 + 3 + vocab + 1024**2
    assert get_model("transformer_xl_base").parameters == base
    assert get_model("transformer_xl_large").parameters == large
    assert get_model("txl-large") is get_model("transformer_xl_large")


def test_transformer_xl_tied_embedding_is_ready_last():
    # the tied embedding (71% of the base model) comes right after the two shared biases:
    # in reverse order its gradient is completed last, after the softmax head's backward
    p = get_model("transformer_xl_base")
    assert p.tensor_names[:3] == ("r_w_bias", "r_r_bias", "word_emb.emb_layers.0.weight")
    assert p.largest_tensor == ("word_emb.emb_layers.0.weight", 267_735 * 512)
    assert p.tensor_sizes[2] / p.parameters == pytest.approx(0.714, abs=1e-3)
    # its MACs: the lookup (d); the softmax head (d · (19,997 + 3 clusters)) is the tied
    # head, whose backward comes first and readies no gradient
    assert p.tensor_macs[2] == 512 and p.head_macs == 512 * 20_000


@pytest.mark.parametrize("name", ["gpt2", "transformer_xl_base"])
def test_tied_head_time_passes_before_the_first_gradient(name):
    # backward = β·C split over the tensors and the head in proportion to their MACs; the
    # head's share readies nothing, so the tensors' times sum to β·C·Σw / (Σw + h) and the
    # first gradient (the last tensor's) is ready at C − Σ b + b_last
    p = get_model(name)
    w = Workload(model=name, compute_time_per_step=1.0, steps=1, backward_fraction=0.6)
    t = w.tensor_backward_times
    share = sum(p.tensor_macs) / (sum(p.tensor_macs) + p.head_macs)
    assert sum(t) == pytest.approx(0.6 * share)
    assert 0.6 * (1 - share) > 0.05  # the head is a real part of the backward pass
    assert t[0] / sum(t) == pytest.approx(p.tensor_macs[0] / sum(p.tensor_macs))
    assert get_model("vgg16").head_macs == 0.0  # untied models keep the plain split


def test_transformer_xl_embedding_all_reduce_is_exposed():
    # DDP buckets: the base model's embedding (549 MB of gradient) is ready only when the
    # backward pass ends, so at least its all-reduce is exposed after the compute; a bare
    # parameter count of the same size (equal buckets ready evenly) hides far more
    spec = {"workers": 8, "bandwidth": "25GB/s", "latency": "5us"}
    kw = {"compute_time_per_step": "0.15s", "steps": 10}
    prof = Workload(model="transformer_xl_base", **kw)
    bare = Workload(parameters=prof.parameters, **kw)
    r_prof = simulate(ClusterSpec(**spec), prof, "ring", overlap=True)
    r_bare = simulate(ClusterSpec(**spec), bare, "ring", overlap=True)
    emb = 267_735 * 512 * 4
    ring_emb = 2 * 7 / 8 * emb / 25e9  # the embedding's ring all-reduce alone
    assert r_prof.step_time_s - 0.15 >= ring_emb * 0.99
    assert r_prof.step_time_s > r_bare.step_time_s + 0.5 * ring_emb


def test_resnet50_structure():
    # 53 convolutions (1 stem + 16 blocks × 3 + 4 projections), each with a batch norm
    # (scale, shift), and the classifier's weight and bias
    p = get_model("resnet50")
    assert len(p.tensor_sizes) == 53 + 2 * 53 + 2
    assert p.tensor_sizes[0] == 3 * 64 * 7 * 7 and p.tensor_sizes[-2:] == (2048 * 1000, 1000)


def test_names_are_forgiving_and_unknown_names_are_errors():
    assert get_model("ResNet-50") is get_model("resnet50")
    assert get_model("GPT2-XL").name == "gpt2_xl" and get_model("gpt2-small").name == "gpt2"
    assert get_model("Inception-v3").name == "inception_v3"
    with pytest.raises(SpecError) as e:
        get_model("resnet51")
    assert e.value.field == "model" and "resnet51" in str(e.value) and "vgg16" in str(e.value)
    rows = list_models()
    assert [r["name"] for r in rows] == list(MODEL_NAMES)
    vgg16 = rows[MODEL_NAMES.index("vgg16")]
    assert vgg16["largest_share"] == pytest.approx(102_764_544 / 138_357_544, abs=1e-3)


# ============================================================================ workloads
def test_workload_from_model():
    w = Workload.from_model("VGG-16", **BASE)
    assert w == Workload(model="vgg16", **BASE)
    assert w.parameters == 138_357_544 and w.model == "vgg16" and w.name == "vgg16"
    assert w.tensor_sizes == get_model("vgg16").tensor_sizes
    assert w.gradient_bytes == 4 * 138_357_544
    assert Workload.from_dict(w.to_dict()) == w
    assert "tensor_sizes" not in w.to_dict()  # the name gives them
    hash(w)


def test_tensor_list_as_parameters_or_tensor_sizes():
    a = Workload(parameters=[300, 2, 50], **BASE)
    b = Workload(tensor_sizes=[300, 2, 50], **BASE)
    assert a == b and a.parameters == 352 and a.tensor_sizes == (300, 2, 50)
    assert Workload(parameters=352, tensor_sizes=(300, 2, 50), **BASE) == a
    assert Workload.from_dict(json.loads(json.dumps(a.to_dict()))) == a


@pytest.mark.parametrize(
    "kwargs, field, shown",
    [
        ({"parameters": 351, "tensor_sizes": [300, 2, 50]}, "parameters", "351"),
        ({"parameters": 10, "model": "vgg16"}, "parameters", "138,357,544"),
        ({"tensor_sizes": [300, 0, 50]}, "tensor_sizes[1]", "0"),
        ({"tensor_sizes": []}, "tensor_sizes", "empty"),
        ({"tensor_sizes": "300"}, "tensor_sizes", "list"),
        ({"tensor_sizes": [1, 2], "model": "vgg16"}, "tensor_sizes", "vgg16"),
        ({"model": "vgg17"}, "model", "vgg17"),
        ({"parameters": 10, "backward_times": [0.1]}, "backward_times", "tensor_sizes"),
        ({"tensor_sizes": [1, 2], "backward_times": [0.1]}, "backward_times", "one time per"),
        ({"tensor_sizes": [1, 2], "backward_times": [0.1, "-1s"]}, "backward_times[1]", "-1s"),
        ({}, "parameters", "model"),
    ],
)
def test_inconsistent_sizes_are_errors_naming_the_field(kwargs, field, shown):
    with pytest.raises(SpecError) as e:
        Workload(**kwargs, **BASE)
    assert e.value.field == field and shown in str(e.value)


def test_backward_times_default_split():
    # a plain list: in proportion to the sizes
    w = Workload(tensor_sizes=[300, 100, 600], compute_time_per_step=0.3, steps=1,
                 backward_fraction=0.5)  # fmt: skip
    assert w.tensor_backward_times == pytest.approx((0.045, 0.015, 0.09))
    # a bare count: one blob with the whole backward time
    assert Workload(parameters=10, **BASE).tensor_backward_times == pytest.approx((0.2,))
    # a model: in proportion to the layers' forward MACs
    v = Workload.from_model("vgg16", **BASE)
    t = v.tensor_backward_times
    p = get_model("vgg16")
    assert sum(t) == pytest.approx(0.2)
    i = p.tensor_names.index("classifier.0.weight")
    assert t[i] / sum(t) == pytest.approx(p.tensor_macs[i] / sum(p.tensor_macs)) and t[i] < 0.002
    # given: parsed durations, kept
    g = Workload(tensor_sizes=[3, 4], backward_times=["3ms", 0.001], **BASE)
    assert g.tensor_backward_times == pytest.approx((0.003, 0.001))


def test_replace_switches_the_size_description():
    w = Workload.from_model("vgg16", **BASE)
    r = w.replace(model="resnet50")
    assert r.parameters == 25_557_032 and r.name == "resnet50"
    bare = w.replace(parameters=1000)
    assert bare.model is None and bare.tensor_sizes is None and bare.name == ""
    t = bare.replace(tensor_sizes=[10, 20])
    assert t.parameters == 30


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 10**7), min_size=1, max_size=30))
def test_allreduce_ignores_the_tensor_split(sizes):
    """An all-reduce moves the whole gradient: tensors or one count, the same result."""
    c = ClusterSpec(workers=8, bandwidth="10Gbps", latency="5us")
    a = simulate(c, Workload(tensor_sizes=sizes, **BASE), "ring", steps_to_sample=10)
    b = simulate(c, Workload(parameters=sum(sizes), **BASE), "ring", steps_to_sample=10)
    assert a.step_time_s == b.step_time_s and a.tensor_placement is None
    assert a.ps_hot_shard is None and a.ps_shard_bytes == []


# ============================================================================ TOML and CLI
def test_toml_model_and_tensor_lists():
    base = {
        "cluster": {"workers": 4, "bandwidth": "10Gbps", "latency": "5us"},
        "workload": {"model": ["vgg16", "resnet50"], "compute_time_per_step": "0.3s",
                     "steps": 10},
        "scheme": {"name": "ps", "ps_shards": 2},
    }  # fmt: skip
    confs = expand(base)
    assert [c.workload.model for c in confs] == ["vgg16", "resnet50"]
    one = {**base, "workload": {"tensor_sizes": [5, 3, 2], "backward_times": [0.1, 0.2, 0.3],
                                "compute_time_per_step": "0.3s", "steps": 10}}  # fmt: skip
    confs = expand(one)  # one list of per-tensor values: not a grid axis
    assert len(confs) == 1 and confs[0].workload.tensor_sizes == (5, 3, 2)
    grid = {**base, "workload": {"tensor_sizes": [[5, 3], [4, 4]],
                                 "compute_time_per_step": "0.3s", "steps": 10}}  # fmt: skip
    assert [c.workload.tensor_sizes for c in expand(grid)] == [(5, 3), (4, 4)]


CLI = ["--workers", "4", "--compute-time", "0.3s", "--bandwidth", "10Gbps", "--latency", "5us"]


def test_cli_model_flag_and_list_models(capsys):
    assert main(["whatif", "--model", "vgg16,resnet50", *CLI, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["model"] for r in rows] == ["vgg16", "resnet50"]
    w = Workload.from_model("vgg16", compute_time_per_step=0.3, steps=10_000)
    r = simulate(ClusterSpec(workers=4, bandwidth="10Gbps", latency="5us"), w, "ring")
    assert rows[0]["step_time_s"] == pytest.approx(r.step_time_s)
    assert main(["whatif", "--model", "vgg16,resnet50", *CLI]) == 0
    out = capsys.readouterr().out
    assert "vgg16: 138,357,544 parameters in 32 tensors" in out and "resnet50" in out
    assert main(["whatif", "--list-models"]) == 0
    out = capsys.readouterr().out
    for name in MODEL_NAMES:
        assert name in out
    assert "138,357,544" in out and "74.3%" in out
    assert main(["whatif", "--list-models", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)["models"]
    assert {m["name"]: m["parameters"] for m in models} == PUBLISHED
    assert main(["list"]) == 0 and "gpt2_xl" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, shown",
    [
        (["--model", "vgg17"], ["model", "vgg17", "(from --model)", "valid"]),
        (["--model", "vgg16", "--params", "5"], ["parameters", "(from --params)"]),
    ],
)
def test_cli_bad_model_exits_2(extra, shown, capsys):
    assert main(["whatif", *CLI, *extra]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "Traceback" not in cap.err and len(cap.err.strip().splitlines()) == 1
    for part in shown:
        assert part in cap.err, cap.err


def test_gradient_bytes_follow_the_profile():
    w = Workload.from_model("gpt2_xl", bytes_per_param="fp16", **BASE)
    assert w.gradient_bytes == 2 * 1_557_611_200
    assert math.isclose(sum(w.tensor_sizes), w.parameters)


def test_from_module_per_tensor():
    from tinygrad_opt.nn import MLP

    net = MLP([10, 32, 4], rng=0)
    w = Workload.from_module(net, per_tensor=True, **BASE)
    # Linear(10→32): weight 320, bias 32; Linear(32→4): weight 128, bias 4
    assert sorted(w.tensor_sizes) == sorted((320, 32, 128, 4))
    assert w.parameters == 484 == net.num_parameters(trainable_only=True)
    assert w.name == "MLP"
    blob = Workload.from_module(net, **BASE)
    assert blob.tensor_sizes is None and blob.parameters == 484


def test_numpy_sizes_and_model_copies():
    import numpy as np

    w = Workload(tensor_sizes=np.array([3, 4], dtype=np.int64), **BASE)
    assert w.tensor_sizes == (3, 4) and all(type(s) is int for s in w.tensor_sizes)
    v = Workload.from_model("vgg16", **BASE)
    assert v.replace(per_worker_batch=64).tensor_sizes == v.tensor_sizes
    with pytest.raises(SpecError) as e:
        Workload(model="vgg16", tensor_sizes=5, **BASE)
    assert e.value.field == "tensor_sizes"


def test_inception_without_the_auxiliary_head():
    # aux head: 1×1 conv 768→128 + batch norm, 5×5 conv 128→768 + batch norm, fc 768→1000
    aux = (768 * 128 + 2 * 128) + (128 * 768 * 25 + 2 * 768) + (768 * 1000 + 1000)
    assert get_model("inception_v3_noaux").parameters == 27_161_264 - aux
    # Keras' InceptionV3 (23,851,784) keeps the moving mean and variance (2 per channel)
    # and no scale (1 trainable per channel): + 1 per batch-norm channel
    p = get_model("inception_v3_noaux")
    channels = sum(s for n, s in zip(p.tensor_names, p.tensor_sizes) if n.endswith("bn.bias"))
    assert p.parameters + channels == 23_851_784
    assert get_model("inception3").name == "inception_v3"


@pytest.mark.parametrize(
    "name, keras", [("resnet50", 25_636_712), ("resnet101", 44_707_176), ("resnet152", 60_419_944)]
)
def test_keras_resnet_totals(name, keras):
    """Keras' ResNets (the counts in docs/validation-data.md) give every convolution a bias
    and count the batch norms' moving mean and variance: 3 more per batch-norm channel."""
    p = get_model(name)
    channels = sum(s for n, s in zip(p.tensor_names, p.tensor_sizes) if n.endswith("bn.bias"))
    assert p.parameters + 3 * channels == keras


def test_model_flag_replaces_the_files_parameters(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[cluster]\nworkers = 4\nbandwidth = "10Gbps"\nlatency = "5us"\n'
        '[workload]\nparameters = "25M"\ncompute_time_per_step = "0.3s"\nsteps = 10\n'
    )
    assert main(["whatif", "--config", str(cfg), "--model", "resnet50", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"][0]["model"] == "resnet50" and "parameters" not in out["settings"]["workload"]
    assert main(["whatif", "--config", str(cfg), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"][0]["model"] is None


def test_vit_and_llama_layouts():
    vit = get_model("ViT-B/16")
    assert vit.name == "vit_b_16" and vit.tensor_names[0] == "conv_proj.weight"
    assert dict(zip(vit.tensor_names, vit.tensor_sizes))["encoder.pos_embedding"] == 197 * 768
    # per image: 196 patches of the conv (768·3·16·16 MACs each) and 12 layers of linear
    # layers over 197 tokens, about 17.6 G multiply-adds (torchvision: 17.56 GFLOPS)
    assert sum(vit.tensor_macs) / 1e9 == pytest.approx(17.56, rel=0.02)
    llama = get_model("LLaMA-7B")
    assert llama.name == "llama_7b" and llama.head_macs == 0.0  # the output layer is untied
    sizes = dict(zip(llama.tensor_names, llama.tensor_sizes))
    assert sizes["lm_head.weight"] == sizes["model.embed_tokens.weight"] == 32_000 * 4096
    assert sizes["model.layers.0.mlp.gate_proj.weight"] == 4096 * 11008
    assert get_model("llama-13b").parameters == 13_015_864_320
