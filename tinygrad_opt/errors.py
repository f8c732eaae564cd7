"""The engine's exception classes, chosen so code written for torch catches them.

torch raises ``RuntimeError`` for shape and dtype mistakes and ``IndexError`` for a
dimension or index out of range. Earlier versions of this library raised ``ValueError``
for shape mistakes; the classes below inherit from both, so either ``except`` works.

============================  =====================================  ========================
class                         raised for                             is a
============================  =====================================  ========================
:class:`ShapeError`           shapes that do not fit an op           ValueError, RuntimeError
:class:`DimError`             a dim / axis / index out of range,     ShapeError, IndexError
                              a float used as an index
:class:`DTypeError`           a dtype an op cannot take (gradients   RuntimeError, TypeError
                              of integers, ``mean`` of integers)
:class:`InplaceError`         a tensor saved for backward was        RuntimeError
                              changed in place before ``backward``
============================  =====================================  ========================
"""

from __future__ import annotations

__all__ = ["DTypeError", "DimError", "InplaceError", "ShapeError"]


class ShapeError(ValueError, RuntimeError):
    """An operation got inputs whose shapes do not fit together.

    The message names the op and the shapes involved.
    """


class DimError(ShapeError, IndexError):
    """A dimension or index is out of range, or an index has a type that cannot index."""


class DTypeError(RuntimeError, TypeError):
    """An operation cannot take a tensor of this dtype (e.g. a gradient for integers)."""


class InplaceError(RuntimeError):
    """A tensor needed by ``backward`` was modified in place after the forward pass."""
