"""The probabilistic TrueNorth core layer (Esser et al., NIPS 2015) in PyTorch.

A layer holds ``K`` cores of ``A = 256`` axons and ``N`` neurons. Per core: fixed axon types
(64 of each of the four types, in random order), a fixed weight table per neuron (a random
permutation of {-2, -1, +1, +2}), trainable connection probabilities ``c`` in [0, 1] per
(axon, neuron) and a trainable bias ``b`` per neuron (the integer leak on hardware).

For inputs that spike independently with probabilities ``x``, the net input of a neuron is
``I = b + sum_i X_i C_i s_i`` with Bernoulli ``X_i ~ x_i`` and ``C_i ~ c_i``. Its mean and
variance are ``mu = b + sum x c s`` and ``var = sum (x c)(1 - x c) s^2``; the Gaussian
approximation gives ``P(spike) = P(I >= 1) = Phi((mu - 0.5) / sqrt(var + floor))`` (the
0.5 is the continuity correction of the integer threshold of SPEC.md section 8).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
from torch import nn

AXONS = 256
WEIGHT_VALUES = (-2, -1, 1, 2)
BIAS_LIMIT = 255.0


def random_axon_types(rng: np.random.Generator, axons: int = AXONS) -> np.ndarray:
    """Axon types spread evenly (axons/4 of each) and in random order."""
    types = np.arange(axons) % 4
    rng.shuffle(types)
    return types.astype(np.int64)


def random_weight_tables(rng: np.random.Generator, neurons: int) -> np.ndarray:
    """``(neurons, 4)`` int: each row a random permutation of {-2, -1, 1, 2}."""
    return np.stack([rng.permutation(WEIGHT_VALUES) for _ in range(neurons)]).astype(np.int64)


def gaussian_spike_prob(x: torch.Tensor, c: torch.Tensor, s: torch.Tensor, b: torch.Tensor,
                        var_floor: float) -> torch.Tensor:
    """P(spike) for inputs ``x`` (B, K, A), ``c``, ``s`` (K, A, N), bias ``b`` (K, N) -> (B, K, N)."""
    cs = c * s
    mu = b + torch.einsum("bka,kan->bkn", x, cs)
    # var = sum x c s^2 - sum x^2 c^2 s^2
    var = (torch.einsum("bka,kan->bkn", x, cs * s)
           - torch.einsum("bka,kan->bkn", x * x, cs * cs))
    sigma = torch.sqrt(var.clamp_min(0.0) + var_floor)
    z = (mu - 0.5) / sigma
    return 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))


def signed_weights(axon_types: torch.Tensor, weight_tables: torch.Tensor) -> torch.Tensor:
    """``s[k, a, n] = weight_tables[k, n, axon_types[k, a]]``, float32 ``(K, A, N)``."""
    K, A = axon_types.shape
    N = weight_tables.shape[1]
    idx = axon_types[:, :, None, None].expand(K, A, N, 1)
    return torch.gather(weight_tables[:, None, :, :].expand(K, A, N, 4), 3, idx)[..., 0].to(torch.float32)


class ProbCoreLayer(nn.Module):
    """``cores`` probabilistic TrueNorth cores, each with ``AXONS`` axons and ``neurons`` neurons.

    ``forward(x)`` takes (B, cores, AXONS) spike probabilities and returns (B, cores, neurons).
    ``axon_mask`` (cores, AXONS) marks the axons that have an input (the rest have ``c`` fixed
    at 0 so a deployed crossbar has them off).

    ``shared=True`` makes the cores one convolution-like filter bank: all cores have the same
    axon types, weight tables, connection probabilities and biases (parameters of one core,
    trained on the gradients of all), and each deployed core is its own sample of them.
    """

    def __init__(self, cores: int, neurons: int, seed: int = 0, var_floor: float = 0.05,
                 axon_mask: Optional[np.ndarray] = None, c_init: str = "uniform", shared: bool = False) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.cores, self.neurons, self.var_floor, self.shared = cores, neurons, var_floor, shared
        if shared and axon_mask is not None and not (axon_mask == axon_mask[:1]).all():
            raise ValueError("a shared layer needs the same used axons on every core")
        distinct = 1 if shared else cores                # cores with their own parameters
        types = np.stack([random_axon_types(rng) for _ in range(distinct)])            # (K', A)
        tables = np.stack([random_weight_tables(rng, neurons) for _ in range(distinct)])  # (K', N, 4)
        if axon_mask is not None:
            axon_mask = axon_mask[:distinct]
        self.axon_types: torch.Tensor
        self.weight_tables: torch.Tensor
        self.s: torch.Tensor
        self.axon_mask: torch.Tensor
        self.register_buffer("axon_types", torch.as_tensor(types))
        self.register_buffer("weight_tables", torch.as_tensor(tables))
        # the signed weight of each synapse, a function of the two buffers above: not saved in
        # checkpoints (it would double their size) but recomputed after each load
        self.register_buffer("s", signed_weights(self.axon_types, self.weight_tables), persistent=False)
        self.register_load_state_dict_post_hook(self._refresh_signed_weights)
        mask = np.ones((distinct, AXONS), dtype=np.float32) if axon_mask is None else axon_mask.astype(np.float32)
        self.register_buffer("axon_mask", torch.as_tensor(mask)[:, :, None])
        if c_init == "uniform":
            c = rng.uniform(0.0, 1.0, size=(distinct, AXONS, neurons))
        else:
            c = np.full((distinct, AXONS, neurons), 0.5) + rng.normal(0, 0.05, size=(distinct, AXONS, neurons))
        self.c = nn.Parameter(torch.as_tensor(np.clip(c, 0, 1), dtype=torch.float32) * self.axon_mask)
        self.b = nn.Parameter(torch.zeros(distinct, neurons))

    def _refresh_signed_weights(self, module: nn.Module, incompatible_keys: object) -> None:
        self.s = signed_weights(self.axon_types, self.weight_tables).to(self.s.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.s.to(x.dtype)
        if self.shared:
            # one filter bank for all cores: (B, K, A) x (A, N) as one matrix product
            return gaussian_spike_prob(x.reshape(-1, 1, AXONS), self.c, s, self.b,
                                       self.var_floor).reshape(x.shape[0], self.cores, self.neurons)
        return gaussian_spike_prob(x, self.c, s, self.b, self.var_floor)

    @torch.no_grad()
    def constrain(self) -> None:
        """Project parameters back to their hardware ranges (after each optimiser step)."""
        self.c.clamp_(0.0, 1.0).mul_(self.axon_mask)
        self.b.clamp_(-BIAS_LIMIT, BIAS_LIMIT)

    @torch.no_grad()
    def probabilities(self) -> np.ndarray:
        """Connection probabilities of every deployed core, ``(K, A, N)`` float64 (a shared
        layer's one filter bank repeated for each core)."""
        c = self.c.detach().cpu().numpy().astype(np.float64)
        return np.broadcast_to(c, (self.cores, AXONS, self.neurons))

    @torch.no_grad()
    def hardware(self, crossbar: np.ndarray) -> dict:
        """The deterministic hardware layer with this ``(K, A, N)`` bool crossbar: leak =
        round(b), the layer's axon types and weight tables."""
        K = self.cores
        b = np.broadcast_to(self.b.detach().cpu().numpy(), (K, self.neurons))
        return {
            "crossbar": crossbar,
            "leak": np.clip(np.rint(b), -255, 255).astype(np.int64),
            "axon_types": np.broadcast_to(self.axon_types.cpu().numpy(), (K, AXONS)).copy(),
            "weight_tables": np.broadcast_to(self.weight_tables.cpu().numpy(), (K, self.neurons, 4)).copy(),
        }

    def sample(self, rng: np.random.Generator) -> dict:
        """One deterministic hardware sample: crossbar (K, A, N) bool = c > u, leak = round(b)."""
        c = self.probabilities()
        return self.hardware(c > rng.random(c.shape))
