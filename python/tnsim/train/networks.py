"""The PyTorch model of a layered core network (:class:`CoreNetwork`), built from a spec of
:mod:`tnsim.specs` (which documents the spec format)."""

from __future__ import annotations

from typing import Any, Dict, List

import torch
from torch import nn

from ..specs import (SPECS, check_spec, conv_spec, cores_per_copy, deep_spec, five_core_spec, get_spec,  # noqa: F401
                     large_spec, layer_sources, layered, local_sources, patch_sources, random_sources, wide_spec)
from .layers import ProbCoreLayer


def _gather(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x (B, n) -> (B, K, A) with x[:, idx] and 0 where idx == -1."""
    padded = torch.cat([x, x.new_zeros(x.shape[0], 1)], dim=1)
    safe = torch.where(idx >= 0, idx, torch.full_like(idx, x.shape[1]))
    return padded[:, safe]


class CoreNetwork(nn.Module):
    """Layers of probabilistic cores built from a spec (see the module docstring). Layer ``i``
    is the attribute ``layer{i + 1}``."""

    def __init__(self, spec: Dict[str, Any], seed: int = 0, var_floor: float = 0.05,
                 dropout: float = 0.0) -> None:
        super().__init__()
        check_spec(spec)
        self.spec = spec
        self.seed = seed
        self.dropout = dropout
        self.n_layers = len(layered(spec)["layers"])
        for i, (layer, src) in enumerate(zip(layered(spec)["layers"], layer_sources(spec))):
            # derived from the spec, so not saved in checkpoints
            self.register_buffer(f"src{i}", torch.as_tensor(src), persistent=False)
            setattr(self, f"layer{i + 1}", ProbCoreLayer(len(src), layer["neurons"], seed=seed * 1000 + i + 1,
                                                         var_floor=var_floor, axon_mask=src >= 0,
                                                         shared=bool(layer.get("shared", False))))

    @property
    def layers(self) -> List[ProbCoreLayer]:
        return [getattr(self, f"layer{i + 1}") for i in range(self.n_layers)]

    def _src(self, i: int) -> torch.Tensor:
        src: torch.Tensor = getattr(self, f"src{i}")
        return src

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, pixels) in [0, 1] -> expected spike count per class (B, classes)."""
        B = x.shape[0]
        h = x
        for i, layer in enumerate(self.layers):
            if i > 0 and self.training and self.dropout > 0:
                # inverted dropout on the previous layer's spike probabilities
                keep = (torch.rand_like(h) >= self.dropout).to(h.dtype)
                h = h * keep / (1.0 - self.dropout)
            h = layer(_gather(h, self._src(i))).reshape(B, -1)
        return h.reshape(B, -1, self.spec["classes"], self.spec["per_class"]).sum(dim=(1, 3))

    def constrain(self) -> None:
        for layer in self.layers:
            layer.constrain()


def build(spec_or_name: Any, seed: int = 0, spec_seed: "int | None" = None, **kw: Any) -> CoreNetwork:
    """A model of a spec or a named network; ``seed`` draws the fixed axon types and weight
    tables, ``spec_seed`` (default: ``seed``) the random wiring of a named network's spec."""
    if isinstance(spec_or_name, str):
        spec = get_spec(spec_or_name, seed if spec_seed is None else spec_seed)
    else:
        spec = spec_or_name
    return CoreNetwork(spec, seed=seed, **kw)
