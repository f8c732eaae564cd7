"""Small ready-made models built from :mod:`tinygrad_opt.nn`.

* :class:`CharTransformerLM`, :class:`CharLSTMLM`: character-level language models, with
  :func:`lm_loss` and :func:`generate` (temperature / top-k sampling).
"""

from tinygrad_opt.models.char_lm import (
    CharLSTMLM,
    CharTransformerLM,
    causal_mask,
    generate,
    lm_loss,
)

__all__ = ["CharLSTMLM", "CharTransformerLM", "causal_mask", "generate", "lm_loss"]
