"""Built-in model profiles: per-tensor parameter counts from the published architectures.

Every profile is generated from its architecture's layer shapes by the builders of
:mod:`.architectures`, tensor by tensor in model order, each tensor with the forward
multiply-adds (MACs) of one example through its layer, which split the backward time.

Profiles (``MODEL_NAMES``; names are case- and punctuation-insensitive, ``"ResNet-50"`` =
``"resnet50"``):

============  =========================================================  ==============
name          architecture                                               parameters
============  =========================================================  ==============
alexnet       torchvision's AlexNet (Krizhevsky 2014 "One weird trick"    61,100,840
              single-GPU variant: 64-192-384-256-256 filters, no
              grouped convolutions; the 2012 two-GPU net differs)
alexnet_      AlexNet as MXNet's example ``symbols/alexnet.py`` (2016):    50,844,008
mxnet         96-256-384-384-256 filters, conv1 unpadded, so 256 × 5 × 5
              into fc1 (the MXNet README's "model size 203 MB")
vgg16         Simonyan & Zisserman 2015, configuration D                138,357,544
vgg19         configuration E                                           143,667,240
googlenet     Szegedy et al. 2015 as BVLC Caffe's ``bvlc_googlenet``:      6,998,552
              5×5 branches, biases, no batch norm, auxiliary classifiers
              dropped
inception_v3  Szegedy et al. 2016, torchvision's layout with the          27,161,264
              auxiliary classifier (batch norm after every conv)
inception_v3_ the same without the auxiliary classifier (torchvision's      23,834,568
noaux         ``aux_logits=False``; Keras' 23,851,784 counts batch-norm
              statistics and no scale: the same convolutions)
resnet50      He et al. 2016, bottleneck [3, 4, 6, 3] (torchvision        25,557,032
              v1.5: stride on the 3×3 conv; the count is the same)
resnet101     bottleneck [3, 4, 23, 3]                                    44,549,160
resnet152     bottleneck [3, 8, 36, 3]                                    60,192,808
bert_base     Devlin et al. 2019: L=12, H=768, A=12, vocabulary 30,522,  109,482,240
              512 positions, 2 segments, with the pooler ("110M")
bert_large    L=24, H=1024, A=16 ("340M")                                335,141,888
gpt2          Radford et al. 2019: L=12, d=768, vocabulary 50,257,       124,439,808
              1,024 positions, tied output embedding ("124M")
gpt2_medium   L=24, d=1024 ("355M")                                      354,823,168
gpt2_large    L=36, d=1280 ("774M")                                      774,030,080
gpt2_xl       L=48, d=1600 ("1558M", "1.5B")                           1,557,611,200
transformer_  Dai et al. 2019 as NVIDIA's PyTorch scripts train it on      191,950,298
xl_base       WikiText-103: 16 layers, d=512, 8 heads, d_inner 2,048,
              adaptive embedding (div_val 1) tied with the softmax
transformer_  18 layers, d=1024, 16 heads, d_inner 4,096, div_val 4,      285,167,482
xl_large      the softmax's first projection untied
vit_b_16      Dosovitskiy et al. 2021, torchvision's ViT-B/16: 12 layers,    86,567,656
              d=768, MLP 3,072, 16×16 patches of 224×224, class token
vit_l_16      ViT-L/16: 24 layers, d=1,024, MLP 4,096                   304,326,632
llama_7b      Touvron et al. 2023 as Hugging Face's LlamaForCausalLM:  6,738,415,616
              32 layers, d=4,096, SwiGLU 11,008, vocabulary 32,000,
              RMSNorm weights, untied output layer
llama_13b     40 layers, d=5,120, SwiGLU 13,824                     13,015,864,320
============  =========================================================  ==============

The image models classify 1,000 ImageNet classes from 224×224 inputs (Inception-v3:
299×299). The CNN totals equal torchvision's published ``num_params`` (the weights'
metadata in ``torchvision.models``); BERT's equal Hugging Face's ``BertModel``
(``bert-base-uncased``, ``bert-large-uncased``), whose round figures the paper gives;
GPT-2's equal OpenAI's released checkpoints, named by their corrected sizes 124M / 355M /
774M / 1558M in the ``openai/gpt-2`` repository (the paper's Table 2 says 117M / 345M /
762M / 1542M). Transformer-XL's are counted from NVIDIA's configuration files
(``wt103_base.yaml``, ``wt103_large.yaml`` of DeepLearningExamples' PyTorch
Transformer-XL), which publish no total. The MACs of the transformers are per token, with
the attention score and weighted-sum products (``2·T·d`` per token and layer, ``T`` = 512
for BERT, 1,024 for GPT-2; Transformer-XL: see :func:`_transformer_xl`) attributed to the
attention's input projection.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from tinygrad_opt.cluster.architectures import BUILDERS, ModelProfile
from tinygrad_opt.cluster.validation import SpecError

__all__ = [
    "MODEL_NAMES",
    "ModelProfile",
    "backward_weights",
    "get_model",
    "head_weight",
    "list_models",
]


MODEL_NAMES: tuple[str, ...] = tuple(BUILDERS)
"""Canonical names of the built-in profiles."""

_ALIASES = {"vgg": "vgg16", "inceptionv1": "googlenet",
            "bvlcgooglenet": "googlenet", "inception": "inception_v3", "inception3": "inception_v3",
            "googlenetv3": "inception_v3", "inception3noaux": "inception_v3_noaux",
            "bert": "bert_base", "gpt2small": "gpt2", "gpt2base": "gpt2",
            "gpt2124m": "gpt2", "gpt2355m": "gpt2_medium", "gpt2774m": "gpt2_large",
            "gpt21558m": "gpt2_xl", "gpt215b": "gpt2_xl", "txl": "transformer_xl_base",
            "txlbase": "transformer_xl_base", "txllarge": "transformer_xl_large",
            "transformerxl": "transformer_xl_base", "resnet50v1": "resnet50",
            "resnet50v15": "resnet50", "resnet101v1": "resnet101", "resnet101v15": "resnet101",
            "resnet152v1": "resnet152", "resnet152v15": "resnet152",
            "vit": "vit_b_16", "vitb16": "vit_b_16", "vitbase": "vit_b_16",
            "vitl16": "vit_l_16", "vitlarge": "vit_l_16", "llama": "llama_7b",
            "llama7b": "llama_7b", "llama13b": "llama_13b", "llama17b": "llama_7b",
            "llama113b": "llama_13b"}  # fmt: skip
# ResNet v1.5 (NVIDIA, torchvision) moves the stride-2 from the first 1x1 to the 3x3
# convolution of a bottleneck: the same tensors as v1


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_LOOKUP = {**{_key(n): n for n in MODEL_NAMES}, **_ALIASES}


@cache
def _build(name: str) -> ModelProfile:
    return BUILDERS[name]()


def get_model(name: str) -> ModelProfile:
    """The profile called ``name`` (``"vgg16"``, ``"ResNet-50"``, ``"gpt2-xl"`` ...).

    Raises:
        SpecError: (field ``model``) for an unknown name, listing the valid ones.
    """
    if not isinstance(name, str) or _key(name) not in _LOOKUP:
        raise SpecError("model", name, f"unknown model; valid: {', '.join(MODEL_NAMES)}")
    return _build(_LOOKUP[_key(name)])


def list_models() -> list[dict[str, object]]:
    """One row per profile: ``name``, ``parameters``, ``tensors``, ``largest_tensor``,
    ``largest_share`` (its fraction of the parameters) and ``description``."""
    rows = []
    for n in MODEL_NAMES:
        p = get_model(n)
        big, size = p.largest_tensor
        rows.append({"name": n, "parameters": p.parameters, "tensors": len(p.tensor_sizes),
                     "largest_tensor": big, "largest_share": size / p.parameters,
                     "description": p.description})  # fmt: skip
    return rows


def head_weight(model: str | None) -> float:
    """The tied output layer's share of the backward cost, in :func:`backward_weights`'
    units (the profile's ``head_macs``; 0 without a model)."""
    return 0.0 if model is None else float(get_model(model).head_macs)


def backward_weights(tensor_sizes: Sequence[int], model: str | None) -> tuple[float, ...]:
    """Relative backward cost of each tensor: the model's forward MACs per tensor for a
    built-in profile (backward ≈ 2 × forward per layer), else the tensor sizes (with no
    layer shapes, parameters are the only proxy: exact for fully connected layers, an
    underestimate of convolutions, whose cost also scales with the image size)."""
    if model is not None:
        return tuple(get_model(model).tensor_macs)
    return tuple(float(s) for s in tensor_sizes)
