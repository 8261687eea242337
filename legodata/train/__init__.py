"""Training of the masking model (``train-mask``) and the rotation model (``train-rot``) on published datasets.

Importing this package is cheap; torch is imported inside the modules that need it (see :func:`torch_module`).
"""

from __future__ import annotations


def torch_module():
    """``import torch``, or :class:`legodata.errors.MissingExtraError` naming the ``train`` extra."""
    from legodata.errors import require

    return require("torch", "train")
