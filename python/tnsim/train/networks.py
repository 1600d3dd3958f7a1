"""Networks of probabilistic cores: the paper-sized 5-core network and a larger one.

A network is described by a JSON-serialisable *spec* (saved in checkpoints and in a deployed
network's metadata) and built by :class:`CoreNetwork`:

- layer 1: ``len(patches)`` cores; core p reads the pixels of patch ``(r0, c0, h, w)`` (h*w <= 256,
  pixel (r0 + i // w, c0 + i % w) on axon i) and has ``hidden`` neurons;
- layer 2: ``len(out_sources)`` output cores; output core q's axon a reads hidden unit
  ``out_sources[q][a]`` (global index ``p * hidden + j``; -1: unused axon); each output core has
  ``classes * per_class`` neurons, neuron n voting for class ``n // per_class``;
- the class with the most output spikes (over all output cores) wins.

A hidden unit read by several output cores is deployed as that many identical neuron copies
(a TrueNorth neuron has one target), so ``hidden * fan-out <= 256`` per layer-1 core.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np
import torch
from torch import nn

from .layers import AXONS, ProbCoreLayer


def five_core_spec() -> Dict[str, Any]:
    """The paper-sized network: 4 patch cores x 64 neurons -> 1 output core of 250 neurons."""
    patches = [[r, c, 16, 16] for r in (0, 12) for c in (0, 12)]
    return {"name": "5core", "image_shape": [28, 28], "patches": patches, "hidden": 64,
            "out_sources": [list(range(256))], "classes": 10, "per_class": 25}


def large_spec(seed: int = 0) -> Dict[str, Any]:
    """A larger network (32 cores per copy, fits one chip many times over).

    16 patch cores (16x16 patches at rows/cols 0, 4, 8, 12) x 128 hidden neurons, each hidden
    unit copied twice (256 neurons per core); 16 output cores of 250 neurons, each reading 256
    hidden units: output cores 0-7 read one random permutation of the 2048 hidden units, cores
    8-15 another, so each hidden unit reaches exactly two output cores.
    """
    patches = [[r, c, 16, 16] for r in (0, 4, 8, 12) for c in (0, 4, 8, 12)]
    hidden = 128
    n = len(patches) * hidden
    rng = np.random.default_rng(seed + 7919)
    srcs: List[List[int]] = []
    for _ in range(2):
        perm = rng.permutation(n)
        srcs += [sorted(perm[i:i + AXONS].tolist()) for i in range(0, n, AXONS)]
    return {"name": "large", "image_shape": [28, 28], "patches": patches, "hidden": hidden,
            "out_sources": srcs, "classes": 10, "per_class": 25}


SPECS = {"5core": five_core_spec, "large": large_spec}


def get_spec(name: str, seed: int = 0) -> Dict[str, Any]:
    if name == "5core":
        return five_core_spec()
    if name == "large":
        return large_spec(seed)
    raise ValueError(f"unknown network {name!r}; known: {', '.join(SPECS)}")


def input_index(spec: Dict[str, Any]) -> np.ndarray:
    """(patch cores, 256) pixel index read by each axon (-1: none)."""
    rows, cols = spec["image_shape"]
    idx = np.full((len(spec["patches"]), AXONS), -1, dtype=np.int64)
    for p, (r0, c0, h, w) in enumerate(spec["patches"]):
        if h * w > AXONS or r0 + h > rows or c0 + w > cols:
            raise ValueError(f"patch {p} {(r0, c0, h, w)} does not fit a core or the image")
        i = np.arange(h * w)
        idx[p, : h * w] = (r0 + i // w) * cols + (c0 + i % w)
    return idx


def source_index(spec: Dict[str, Any]) -> np.ndarray:
    """(output cores, 256) hidden unit read by each output-core axon (-1: none)."""
    src = np.full((len(spec["out_sources"]), AXONS), -1, dtype=np.int64)
    for q, s in enumerate(spec["out_sources"]):
        src[q, : len(s)] = s
    return src


def fanout_check(spec: Dict[str, Any]) -> None:
    n_hidden = len(spec["patches"]) * spec["hidden"]
    counts = np.bincount(source_index(spec).ravel()[source_index(spec).ravel() >= 0], minlength=n_hidden)
    per_core = counts.reshape(len(spec["patches"]), spec["hidden"]).sum(1)
    if per_core.max() > 256:
        raise ValueError(f"layer-1 core needs {per_core.max()} neurons with fan-out copies (> 256)")


def _gather(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x (B, n) -> (B, K, A) with x[:, idx] and 0 where idx == -1."""
    padded = torch.cat([x, x.new_zeros(x.shape[0], 1)], dim=1)
    safe = torch.where(idx >= 0, idx, torch.full_like(idx, x.shape[1]))
    return padded[:, safe]


class CoreNetwork(nn.Module):
    """Two layers of probabilistic cores built from a spec (see the module docstring)."""

    def __init__(self, spec: Dict[str, Any], seed: int = 0, var_floor: float = 0.05,
                 dropout: float = 0.0) -> None:
        super().__init__()
        fanout_check(spec)
        self.spec = spec
        self.seed = seed
        self.dropout = dropout
        in_idx = input_index(spec)
        src = source_index(spec)
        self.in_idx: torch.Tensor
        self.src_idx: torch.Tensor
        self.register_buffer("in_idx", torch.as_tensor(in_idx))
        self.register_buffer("src_idx", torch.as_tensor(src))
        self.layer1 = ProbCoreLayer(len(spec["patches"]), spec["hidden"], seed=seed * 1000 + 1,
                                    var_floor=var_floor, axon_mask=in_idx >= 0)
        n_out = spec["classes"] * spec["per_class"]
        self.layer2 = ProbCoreLayer(len(spec["out_sources"]), n_out, seed=seed * 1000 + 2,
                                    var_floor=var_floor, axon_mask=src >= 0)

    @property
    def layers(self) -> List[ProbCoreLayer]:
        return [self.layer1, self.layer2]

    def hidden_probs(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, pixels) in [0, 1] -> hidden spike probabilities (B, patch cores * hidden)."""
        h = self.layer1(_gather(x, self.in_idx))
        return h.reshape(x.shape[0], -1)

    def output_probs(self, h: torch.Tensor) -> torch.Tensor:
        """hidden (B, n_hidden) -> output neuron spike probabilities (B, out cores, 250)."""
        return self.layer2(_gather(h, self.src_idx))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Expected spike count per class (B, classes), summed over output cores."""
        h = self.hidden_probs(x)
        if self.training and self.dropout > 0:
            # inverted dropout on hidden spike probabilities
            keep = (torch.rand_like(h) >= self.dropout).to(h.dtype)
            h = h * keep / (1.0 - self.dropout)
        o = self.output_probs(h)
        B = x.shape[0]
        return o.reshape(B, o.shape[1], self.spec["classes"], self.spec["per_class"]).sum(dim=(1, 3))

    def constrain(self) -> None:
        for layer in self.layers:
            layer.constrain()


def build(spec_or_name: Any, seed: int = 0, **kw: Any) -> CoreNetwork:
    spec = get_spec(spec_or_name, seed) if isinstance(spec_or_name, str) else spec_or_name
    return CoreNetwork(spec, seed=seed, **kw)
