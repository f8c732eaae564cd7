"""``torch.nn.utils``'s gradient clipping under its torch name.

The implementations live with the optimizers (:mod:`tinygrad_opt.optim.clip`, which needs
only tensors); this module lets code written for torch call
``nn.utils.clip_grad_norm_(model.parameters(), 1.0)`` unchanged.
"""

from tinygrad_opt.optim.clip import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
