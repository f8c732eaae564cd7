"""The published architectures, layer by layer: each builder returns a :class:`ModelProfile`.

Every profile is *generated* from its architecture (layer shapes), tensor by tensor in
model order (the order of PyTorch's ``named_parameters()`` / the creation order of
TensorFlow variables): a convolution's or linear layer's weight and its bias are two
tensors, a batch-norm / layer-norm layer has two (scale, shift). Each tensor also carries
the forward multiply-adds (MACs) of one example through its layer — attributed to the
weight, with the biases and norms costing one MAC per output element — which
:class:`~tinygrad_opt.cluster.workload.Workload` uses to split the backward time among the
tensors (the backward pass of a layer does about twice its forward work: the gradients
with respect to the input and to the weights, so backward time ∝ forward MACs).

:mod:`.models` names the profiles, gives their sources and totals, and looks them up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BUILDERS", "ModelProfile"]


@dataclass(frozen=True)
class ModelProfile:
    """One model's tensors in order.

    Attributes:
        name: canonical name (``"vgg16"``).
        description: architecture and source, one line.
        tensor_names: ``named_parameters()``-style names.
        tensor_sizes: parameters per tensor.
        tensor_macs: forward multiply-adds of one example (a token for the transformers)
            attributed to each tensor.
        head_macs: multiply-adds of an output layer tied to the input embedding (GPT-2,
            Transformer-XL): its backward runs first in the backward pass but its weight
            gradient lands in the embedding, the first tensor in model order, which is
            complete only at the end; so its time passes before any gradient is ready.
    """

    name: str
    description: str
    tensor_names: tuple[str, ...]
    tensor_sizes: tuple[int, ...]
    tensor_macs: tuple[float, ...]
    head_macs: float = 0.0

    @property
    def parameters(self) -> int:
        """Total parameters."""
        return int(sum(self.tensor_sizes))

    @property
    def largest_tensor(self) -> tuple[str, int]:
        """(name, size) of the largest tensor."""
        i = max(range(len(self.tensor_sizes)), key=self.tensor_sizes.__getitem__)
        return self.tensor_names[i], self.tensor_sizes[i]


class _Builder:
    """Accumulates tensors; activations are ``(channels, height, width)`` tuples."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.sizes: list[int] = []
        self.macs: list[float] = []

    def add(self, name: str, size: int, macs: float) -> None:
        self.names.append(name)
        self.sizes.append(int(size))
        self.macs.append(float(macs))

    def conv(self, name, x, cout, k, stride=1, pad=0, bias=True, bn=False):
        """A 2-d convolution (kernel ``k`` or ``(kh, kw)``) [+ bias] [+ batch norm]."""
        cin, h, w = x
        kh, kw = (k, k) if isinstance(k, int) else k
        ph, pw = (pad, pad) if isinstance(pad, int) else pad
        ho = (h + 2 * ph - kh) // stride + 1
        wo = (w + 2 * pw - kw) // stride + 1
        out = cout * ho * wo
        self.add(f"{name}.weight", cin * cout * kh * kw, cin * kh * kw * out)
        if bias:
            self.add(f"{name}.bias", cout, out)
        if bn:
            self.norm(f"{name}.bn" if not bias else f"{name}_bn", cout, out)
        return (cout, ho, wo)

    def norm(self, name: str, width: int, elements: float) -> None:
        """Batch norm or layer norm: a scale and a shift vector."""
        self.add(f"{name}.weight", width, elements)
        self.add(f"{name}.bias", width, elements)

    def linear(self, name: str, fan_in: int, fan_out: int, extra_macs: float = 0.0) -> None:
        self.add(f"{name}.weight", fan_in * fan_out, fan_in * fan_out + extra_macs)
        self.add(f"{name}.bias", fan_out, fan_out)

    def profile(self, name: str, description: str, head_macs: float = 0.0) -> ModelProfile:
        return ModelProfile(
            name,
            description,
            tuple(self.names),
            tuple(self.sizes),
            tuple(self.macs),
            float(head_macs),
        )


def _pool(x, k, stride, pad=0):
    c, h, w = x
    return (c, (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1)


# ============================================================================ CNNs
_ALEXNETS = {
    "alexnet": ((64, 192, 384, 256, 256), 2,
                "AlexNet, torchvision's single-GPU variant (Krizhevsky 2014)"),
    "alexnet_mxnet": ((96, 256, 384, 384, 256), 0,
                      "AlexNet as MXNet's example symbols/alexnet.py"),
}  # fmt: skip
"""Filters of the five convolutions, conv1's padding (torchvision pads it, 256 × 6 × 6 into
fc1; MXNet's does not, 256 × 5 × 5) and the description of each AlexNet layout."""


def _alexnet(name: str) -> ModelProfile:
    filters, pad1, description = _ALEXNETS[name]
    b = _Builder()
    x = b.conv("conv1", (3, 224, 224), filters[0], 11, stride=4, pad=pad1)
    x = _pool(x, 3, 2)
    x = b.conv("conv2", x, filters[1], 5, pad=2)
    x = _pool(x, 3, 2)
    for i, cout in enumerate(filters[2:], start=3):
        x = b.conv(f"conv{i}", x, cout, 3, pad=1)
    x = _pool(x, 3, 2)
    b.linear("fc1", x[0] * x[1] * x[2], 4096)
    b.linear("fc2", 4096, 4096)
    b.linear("fc3", 4096, 1000)
    return b.profile(name, description)


_VGG_CONFIGS = {
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"),
    "E": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"),
}  # fmt: skip
"""Simonyan & Zisserman 2015, Table 1: output channels of each 3×3 convolution, "M" a
2×2 max-pool (configuration D is VGG-16, E is VGG-19)."""


def _vgg(name: str, config: str, description: str) -> ModelProfile:
    b = _Builder()
    x, i = (3, 224, 224), 0
    for v in _VGG_CONFIGS[config]:
        if v == "M":
            x, i = _pool(x, 2, 2), i + 1
        else:
            x, i = b.conv(f"features.{i}", x, v, 3, pad=1), i + 2
    b.linear("classifier.0", x[0] * x[1] * x[2], 4096)
    b.linear("classifier.3", 4096, 4096)
    b.linear("classifier.6", 4096, 1000)
    return b.profile(name, description)


def _googlenet() -> ModelProfile:
    """BVLC GoogLeNet (Szegedy et al. 2015, Table 1): 5×5 convolutions, biases, no batch
    norm, no auxiliary classifiers (they are dropped after training)."""
    b = _Builder()
    x = b.conv("conv1/7x7_s2", (3, 224, 224), 64, 7, stride=2, pad=3)
    x = _pool(x, 3, 2, 1)  # Caffe rounds the pooled size up: 112 -> 56
    x = b.conv("conv2/3x3_reduce", x, 64, 1)
    x = b.conv("conv2/3x3", x, 192, 3, pad=1)
    x = _pool(x, 3, 2, 1)  # 56 -> 28

    def inception(p, x, c1, r3, c3, r5, c5, pp):
        b.conv(f"{p}/1x1", x, c1, 1)
        b.conv(f"{p}/3x3", b.conv(f"{p}/3x3_reduce", x, r3, 1), c3, 3, pad=1)
        b.conv(f"{p}/5x5", b.conv(f"{p}/5x5_reduce", x, r5, 1), c5, 5, pad=2)
        b.conv(f"{p}/pool_proj", x, pp, 1)
        return (c1 + c3 + c5 + pp, x[1], x[2])

    x = inception("inception_3a", x, 64, 96, 128, 16, 32, 32)
    x = inception("inception_3b", x, 128, 128, 192, 32, 96, 64)
    x = _pool(x, 3, 2, 1)  # 28 -> 14
    for p, cfg in (("4a", (192, 96, 208, 16, 48, 64)), ("4b", (160, 112, 224, 24, 64, 64)),
                   ("4c", (128, 128, 256, 24, 64, 64)), ("4d", (112, 144, 288, 32, 64, 64)),
                   ("4e", (256, 160, 320, 32, 128, 128))):  # fmt: skip
        x = inception(f"inception_{p}", x, *cfg)
    x = _pool(x, 3, 2, 1)  # 14 -> 7
    x = inception("inception_5a", x, 256, 160, 320, 32, 128, 128)
    x = inception("inception_5b", x, 384, 192, 384, 48, 128, 128)
    b.linear("loss3/classifier", x[0], 1000)  # after a 7×7 average pool
    return b.profile("googlenet", "GoogLeNet / Inception-v1, BVLC Caffe (Szegedy et al. 2015)")


def _resnet(depth: int, blocks: tuple[int, int, int, int]) -> ModelProfile:
    b = _Builder()
    x = b.conv("conv1", (3, 224, 224), 64, 7, stride=2, pad=3, bias=False, bn=True)
    x = _pool(x, 3, 2, 1)
    for layer, (n, width) in enumerate(zip(blocks, (64, 128, 256, 512)), start=1):
        for j in range(n):
            stride = 2 if (j == 0 and layer > 1) else 1
            p = f"layer{layer}.{j}"
            y = b.conv(f"{p}.conv1", x, width, 1, bias=False, bn=True)
            y = b.conv(f"{p}.conv2", y, width, 3, stride=stride, pad=1, bias=False, bn=True)
            y = b.conv(f"{p}.conv3", y, 4 * width, 1, bias=False, bn=True)
            if j == 0:
                b.conv(f"{p}.downsample", x, 4 * width, 1, stride=stride, bias=False, bn=True)
            x = y
    b.linear("fc", x[0], 1000)
    text = f"ResNet-{depth}, bottleneck {list(blocks)} (He et al. 2016)"
    return b.profile(f"resnet{depth}", text)


def _inception_v3(aux: bool = True) -> ModelProfile:
    b = _Builder()

    def cv(name, x, cout, k, stride=1, pad=0):  # BasicConv2d: conv (no bias) + batch norm
        return b.conv(name, x, cout, k, stride=stride, pad=pad, bias=False, bn=True)

    def cat(*xs):
        return (sum(x[0] for x in xs), xs[0][1], xs[0][2])

    def block_a(p, x, pool_features):
        a = cv(f"{p}.branch1x1", x, 64, 1)
        c = cv(f"{p}.branch5x5_2", cv(f"{p}.branch5x5_1", x, 48, 1), 64, 5, pad=2)
        d = cv(f"{p}.branch3x3dbl_1", x, 64, 1)
        d = cv(f"{p}.branch3x3dbl_3", cv(f"{p}.branch3x3dbl_2", d, 96, 3, pad=1), 96, 3, pad=1)
        return cat(a, c, d, cv(f"{p}.branch_pool", x, pool_features, 1))

    def block_b(p, x):
        a = cv(f"{p}.branch3x3", x, 384, 3, stride=2)
        d = cv(f"{p}.branch3x3dbl_2", cv(f"{p}.branch3x3dbl_1", x, 64, 1), 96, 3, pad=1)
        d = cv(f"{p}.branch3x3dbl_3", d, 96, 3, stride=2)
        return cat(a, d, _pool(x, 3, 2))

    def block_c(p, x, c7):
        a = cv(f"{p}.branch1x1", x, 192, 1)
        s = cv(f"{p}.branch7x7_1", x, c7, 1)
        s = cv(f"{p}.branch7x7_2", s, c7, (1, 7), pad=(0, 3))
        s = cv(f"{p}.branch7x7_3", s, 192, (7, 1), pad=(3, 0))
        d = cv(f"{p}.branch7x7dbl_1", x, c7, 1)
        for i, (cout, k, pad) in enumerate(
            ((c7, (7, 1), (3, 0)), (c7, (1, 7), (0, 3)), (c7, (7, 1), (3, 0)),
             (192, (1, 7), (0, 3))), start=2):  # fmt: skip
            d = cv(f"{p}.branch7x7dbl_{i}", d, cout, k, pad=pad)
        return cat(a, s, d, cv(f"{p}.branch_pool", x, 192, 1))

    def block_d(p, x):
        a = cv(f"{p}.branch3x3_2", cv(f"{p}.branch3x3_1", x, 192, 1), 320, 3, stride=2)
        d = cv(f"{p}.branch7x7x3_1", x, 192, 1)
        d = cv(f"{p}.branch7x7x3_2", d, 192, (1, 7), pad=(0, 3))
        d = cv(f"{p}.branch7x7x3_3", d, 192, (7, 1), pad=(3, 0))
        d = cv(f"{p}.branch7x7x3_4", d, 192, 3, stride=2)
        return cat(a, d, _pool(x, 3, 2))

    def block_e(p, x):
        a = cv(f"{p}.branch1x1", x, 320, 1)
        s = cv(f"{p}.branch3x3_1", x, 384, 1)
        s = cat(cv(f"{p}.branch3x3_2a", s, 384, (1, 3), pad=(0, 1)),
                cv(f"{p}.branch3x3_2b", s, 384, (3, 1), pad=(1, 0)))  # fmt: skip
        d = cv(f"{p}.branch3x3dbl_2", cv(f"{p}.branch3x3dbl_1", x, 448, 1), 384, 3, pad=1)
        d = cat(cv(f"{p}.branch3x3dbl_3a", d, 384, (1, 3), pad=(0, 1)),
                cv(f"{p}.branch3x3dbl_3b", d, 384, (3, 1), pad=(1, 0)))  # fmt: skip
        return cat(a, s, d, cv(f"{p}.branch_pool", x, 192, 1))

    x = cv("Conv2d_1a_3x3", (3, 299, 299), 32, 3, stride=2)
    x = cv("Conv2d_2a_3x3", x, 32, 3)
    x = cv("Conv2d_2b_3x3", x, 64, 3, pad=1)
    x = cv("Conv2d_3b_1x1", _pool(x, 3, 2), 80, 1)
    x = _pool(cv("Conv2d_4a_3x3", x, 192, 3), 3, 2)
    for name, pf in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
        x = block_a(name, x, pf)
    x = block_b("Mixed_6a", x)
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        x = block_c(name, x, c7)
    if aux:  # the auxiliary classifier on Mixed_6e
        a = cv("AuxLogits.conv0", _pool(x, 5, 3), 128, 1)
        a = cv("AuxLogits.conv1", a, 768, 5)
        b.linear("AuxLogits.fc", a[0], 1000)
    x = block_e("Mixed_7c", block_e("Mixed_7b", block_d("Mixed_7a", x)))
    b.linear("fc", x[0], 1000)
    if aux:
        return b.profile("inception_v3", "Inception-v3 with the auxiliary head (Szegedy 2016)")
    return b.profile("inception_v3_noaux", "Inception-v3 without the auxiliary head")


# ============================================================================ transformers
def _bert(name: str, layers: int, d: int) -> ModelProfile:
    b, vocab, positions, ctx = _Builder(), 30522, 512, 512
    b.add("embeddings.word_embeddings.weight", vocab * d, d)  # a lookup: d per token
    b.add("embeddings.position_embeddings.weight", positions * d, d)
    b.add("embeddings.token_type_embeddings.weight", 2 * d, d)
    b.norm("embeddings.LayerNorm", d, d)
    for i in range(layers):
        p = f"encoder.layer.{i}"
        b.linear(f"{p}.attention.self.query", d, d, extra_macs=2 * ctx * d)  # QK^T and AV
        b.linear(f"{p}.attention.self.key", d, d)
        b.linear(f"{p}.attention.self.value", d, d)
        b.linear(f"{p}.attention.output.dense", d, d)
        b.norm(f"{p}.attention.output.LayerNorm", d, d)
        b.linear(f"{p}.intermediate.dense", d, 4 * d)
        b.linear(f"{p}.output.dense", 4 * d, d)
        b.norm(f"{p}.output.LayerNorm", d, d)
    b.linear("pooler.dense", d, d)
    return b.profile(name, f"BERT L={layers}, H={d} (Devlin et al. 2019), with the pooler")


def _gpt2(name: str, layers: int, d: int) -> ModelProfile:
    b, vocab, ctx = _Builder(), 50257, 1024
    # the output layer reuses wte: its d × vocab MACs per token are the tied head's
    b.add("wte.weight", vocab * d, d)
    b.add("wpe.weight", ctx * d, d)
    for i in range(layers):
        p = f"h.{i}"
        b.norm(f"{p}.ln_1", d, d)
        b.linear(f"{p}.attn.c_attn", d, 3 * d, extra_macs=2 * ctx * d)
        b.linear(f"{p}.attn.c_proj", d, d)
        b.norm(f"{p}.ln_2", d, d)
        b.linear(f"{p}.mlp.c_fc", d, 4 * d)
        b.linear(f"{p}.mlp.c_proj", 4 * d, d)
    b.norm("ln_f", d, d)
    return b.profile(
        name, f"GPT-2 L={layers}, d={d} (Radford et al. 2019), tied output layer", vocab * d
    )


def _vit(
    name: str, layers: int, d: int, mlp: int, patch: int = 16, image: int = 224
) -> ModelProfile:
    """Vision Transformer (Dosovitskiy et al. 2021) as torchvision builds it: a patch
    convolution, a class token and learned positions, pre-norm encoder layers (one packed
    q/k/v projection), a final norm and a 1,000-class head. MACs per image: every linear
    layer once per token, the attention products ``2·T·d`` per token and layer."""
    b = _Builder()
    tokens = (image // patch) ** 2 + 1
    x = b.conv("conv_proj", (3, image, image), d, patch, stride=patch)
    assert x == (d, image // patch, image // patch)
    b.add("class_token", d, d)
    b.add("encoder.pos_embedding", tokens * d, tokens * d)

    def linear(n: str, fan_in: int, fan_out: int, extra: float = 0.0) -> None:
        b.add(f"{n}.weight", fan_in * fan_out, tokens * (fan_in * fan_out + extra))
        b.add(f"{n}.bias", fan_out, tokens * fan_out)

    for i in range(layers):
        p = f"encoder.layers.encoder_layer_{i}"
        b.norm(f"{p}.ln_1", d, tokens * d)
        b.add(
            f"{p}.self_attention.in_proj_weight", 3 * d * d, tokens * (3 * d * d + 2 * tokens * d)
        )
        b.add(f"{p}.self_attention.in_proj_bias", 3 * d, tokens * 3 * d)
        linear(f"{p}.self_attention.out_proj", d, d)
        b.norm(f"{p}.ln_2", d, tokens * d)
        linear(f"{p}.mlp.0", d, mlp)
        linear(f"{p}.mlp.3", mlp, d)
    b.norm("encoder.ln", d, tokens * d)
    b.linear("heads.head", d, 1000)
    return b.profile(
        name,
        f"ViT L={layers}, d={d}, MLP {mlp}, {patch}x{patch} patches of {image}x{image} images "
        "(Dosovitskiy et al. 2021, torchvision)",
    )


def _llama(name: str, layers: int, d: int, ffn: int, vocab: int = 32_000) -> ModelProfile:
    """LLaMA (Touvron et al. 2023) as Hugging Face's ``LlamaForCausalLM`` holds it: a token
    embedding, layers of bias-free q/k/v/o projections and a SwiGLU MLP (gate, up, down)
    with RMSNorm weights before each, a final RMSNorm and an untied output layer. MACs
    per token, the attention products ``2·T·d`` with ``T`` = 2,048."""
    b, ctx = _Builder(), 2048
    b.add("model.embed_tokens.weight", vocab * d, d)
    for i in range(layers):
        p = f"model.layers.{i}"
        b.add(f"{p}.input_layernorm.weight", d, d)
        b.add(f"{p}.self_attn.q_proj.weight", d * d, d * d + 2 * ctx * d)
        for proj in ("k_proj", "v_proj", "o_proj"):
            b.add(f"{p}.self_attn.{proj}.weight", d * d, d * d)
        b.add(f"{p}.post_attention_layernorm.weight", d, d)
        for proj in ("gate_proj", "up_proj", "down_proj"):
            b.add(f"{p}.mlp.{proj}.weight", d * ffn, d * ffn)
    b.add("model.norm.weight", d, d)
    b.add("lm_head.weight", d * vocab, d * vocab)
    return b.profile(
        name, f"LLaMA L={layers}, d={d}, SwiGLU {ffn} (Touvron et al. 2023), untied output layer"
    )


TXL_VOCAB = 267_735
"""WikiText-103's word vocabulary, as Transformer-XL's adaptive embedding sees it."""
TXL_CUTOFFS = (19_997, 39_997, 199_997)
"""The adaptive embedding's and softmax's cluster boundaries for WikiText-103."""


def _transformer_xl(
    name: str, layers: int, d: int, heads: int, d_inner: int, div_val: int, ctx: int
) -> ModelProfile:
    """Transformer-XL (Dai et al. 2019) as NVIDIA's PyTorch scripts build it for
    WikiText-103: relative-position attention with learnable biases shared by the layers
    (``r_w_bias``, ``r_r_bias``, first in ``named_parameters()``), an adaptive embedding
    (``div_val``: each cluster's width divided by ``div_val``, with projections to ``d``
    when ``div_val > 1``) tied with the adaptive softmax's weights and projections but the
    first projection, which the softmax keeps (``tie_projs = [False, True, True, True]``).

    Per-token MACs: attention scores, position scores and the weighted sum over ``ctx``
    keys (segment plus memory, ``3·ctx·H·64``) go to ``qkv_net``; ``r_net`` projects the
    ``ctx`` relative positions once per segment of ``ctx/2`` tokens (``2·d·H·64`` per
    token); the softmax's head (``d·(cutoff_0 + clusters)``, its tail clusters left out:
    only their words' tokens reach them) is the tied head (``head_macs``).
    """
    b, hd = _Builder(), heads * 64
    clusters = len(TXL_CUTOFFS)
    b.add("r_w_bias", hd, hd * layers)
    b.add("r_r_bias", hd, hd * layers)
    bounds = (0, *TXL_CUTOFFS, TXL_VOCAB)
    head_macs = (TXL_CUTOFFS[0] + clusters) * d
    if div_val == 1:
        b.add("word_emb.emb_layers.0.weight", TXL_VOCAB * d, d)
    else:
        widths = [d // div_val**i for i in range(clusters + 1)]
        for i, w in enumerate(widths):
            b.add(f"word_emb.emb_layers.{i}.weight", (bounds[i + 1] - bounds[i]) * w, w)
        for i, w in enumerate(widths):
            b.add(f"word_emb.emb_projs.{i}", d * w, d * w)
    for i in range(layers):
        p = f"layers.{i}"
        b.add(f"{p}.dec_attn.qkv_net.weight", d * 3 * hd, d * 3 * hd + 3 * ctx * hd)
        b.add(f"{p}.dec_attn.o_net.weight", hd * d, hd * d)
        b.norm(f"{p}.dec_attn.layer_norm", d, d)
        b.add(f"{p}.dec_attn.r_net.weight", d * hd, 2 * d * hd)
        b.linear(f"{p}.pos_ff.CoreNet.0", d, d_inner)
        b.linear(f"{p}.pos_ff.CoreNet.3", d_inner, d)
        b.norm(f"{p}.pos_ff.layer_norm", d, d)
    b.add("crit.cluster_weight", clusters * d, clusters * d)
    b.add("crit.cluster_bias", clusters, clusters)
    segments = [TXL_VOCAB] if div_val == 1 else [hi - lo for lo, hi in zip(bounds, bounds[1:])]
    for i, n in enumerate(segments):
        b.add(f"crit.out_layers.{i}.bias", n, n)
    if div_val > 1:
        b.add("crit.out_projs.0", d * d, d * d)
    return b.profile(
        name,
        f"Transformer-XL {layers} layers, d={d}, {heads} heads, d_inner={d_inner}, "
        f"div_val={div_val} (Dai et al. 2019; NVIDIA's WikiText-103 configuration)",
        head_macs,
    )


BUILDERS: dict[str, Callable[[], ModelProfile]] = {
    "alexnet": lambda: _alexnet("alexnet"),
    "alexnet_mxnet": lambda: _alexnet("alexnet_mxnet"),
    "vgg16": lambda: _vgg("vgg16", "D", "VGG-16, configuration D (Simonyan & Zisserman 2015)"),
    "vgg19": lambda: _vgg("vgg19", "E", "VGG-19, configuration E (Simonyan & Zisserman 2015)"),
    "googlenet": _googlenet,
    "inception_v3": _inception_v3,
    "inception_v3_noaux": lambda: _inception_v3(aux=False),
    "resnet50": lambda: _resnet(50, (3, 4, 6, 3)),
    "resnet101": lambda: _resnet(101, (3, 4, 23, 3)),
    "resnet152": lambda: _resnet(152, (3, 8, 36, 3)),
    "bert_base": lambda: _bert("bert_base", 12, 768),
    "bert_large": lambda: _bert("bert_large", 24, 1024),
    "gpt2": lambda: _gpt2("gpt2", 12, 768),
    "gpt2_medium": lambda: _gpt2("gpt2_medium", 24, 1024),
    "gpt2_large": lambda: _gpt2("gpt2_large", 36, 1280),
    "gpt2_xl": lambda: _gpt2("gpt2_xl", 48, 1600),
    "transformer_xl_base": lambda: _transformer_xl("transformer_xl_base", 16, 512, 8, 2048, 1, 384),
    "transformer_xl_large": lambda: _transformer_xl(
        "transformer_xl_large", 18, 1024, 16, 4096, 4, 768
    ),
    "vit_b_16": lambda: _vit("vit_b_16", 12, 768, 3072),
    "vit_l_16": lambda: _vit("vit_l_16", 24, 1024, 4096),
    "llama_7b": lambda: _llama("llama_7b", 32, 4096, 11008),
    "llama_13b": lambda: _llama("llama_13b", 40, 5120, 13824),
}
"""Every built-in profile's builder, by canonical name (the order of ``MODEL_NAMES``)."""
