"""Deployment: sample trained probabilistic networks into deterministic TrueNorth cores.

Each *copy* of an ensemble is an independent sample of the trained network: synapse (a, j) is
on iff ``c[a, j] > u`` with a fresh uniform ``u`` per copy, and every neuron is the memoryless
classifier neuron of SPEC.md section 8 (threshold 1, reset to 0 in mode 0, kappa 1, beta 0,
leak = round(bias) clipped to -255..255). A sampled network is plain NumPy data (see
:func:`sample`), independent of PyTorch; :func:`forward` is an independent NumPy forward pass
of it, used to check the simulator bit for bit.

Placement (:func:`build_network`): each copy occupies a block of cores (5-core network: a row
``[patch 0, patch 1, output, patch 2, patch 3]``, so no route is longer than 2 hops; larger
networks: a block 8 cores wide with the output cores in the middle rows). Blocks fill a chip
row by row; further copies go to the next chip along x (one more chip per 64 x 64 cores).
Layer-1 neurons target their output core's axon with delay 1; a hidden unit read by several
output cores is several identical neuron copies. Output neurons send to host port
``copy * classes + class`` (several neurons share a port; the simulator counts spikes per port).

The saved network's metadata (``Network.metadata["tnsim_deploy"]``) holds everything needed to
evaluate it alone: the network spec, the input map (pixel -> (x, y, axon) for every patch core
of every copy), the port -> (copy, class) map, copies, cores and the encoding defaults.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .network import Network
from .neurons import Neurons

CHIP = 64
META_KEY = "tnsim_deploy"


def _weights_matrix(layer: Dict[str, np.ndarray]) -> np.ndarray:
    """Signed integer weight (K, A, N) of each synapse that is on (0 where off)."""
    types = layer["axon_types"]                      # (K, A)
    tables = layer["weight_tables"]                  # (K, N, 4)
    s = np.take_along_axis(tables[:, None, :, :], types[:, :, None, None], axis=3)[..., 0]  # (K, A, N)
    return np.where(layer["crossbar"], s, 0).astype(np.int32)


def sample(model: Any, copies: int, seed: int = 0) -> List[Dict[str, Any]]:
    """Draw ``copies`` deterministic networks from a trained :class:`CoreNetwork`."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(copies):
        out.append({"l1": model.layer1.sample(rng), "l2": model.layer2.sample(rng)})
    return out


def forward(spec: Dict[str, Any], samples: Sequence[Dict[str, Any]], spikes: np.ndarray) -> np.ndarray:
    """Independent NumPy forward pass of sampled integer networks.

    ``spikes``: bool (n, ticks, pixels) input spikes. Returns int64 class spike counts
    (n, copies, classes) summed over the ticks of each image (each tick is independent: the
    neurons are memoryless).
    """
    from .train.networks import input_index, source_index  # pure NumPy helpers (no torch use)

    n, T, npix = spikes.shape
    flat = spikes.reshape(n * T, npix)
    in_idx, src = input_index(spec), source_index(spec)
    classes, per_class = spec["classes"], spec["per_class"]
    padded = np.concatenate([flat, np.zeros((n * T, 1), bool)], axis=1)
    x1 = padded[:, np.where(in_idx >= 0, in_idx, npix)].astype(np.int32)   # (nT, P, A)
    out = np.zeros((n, len(samples), classes), dtype=np.int64)
    for e, smp in enumerate(samples):
        w1 = _weights_matrix(smp["l1"])
        v1 = np.einsum("bka,kan->bkn", x1, w1) + smp["l1"]["leak"][None]
        h = (v1 >= 1).reshape(n * T, -1)
        nh = h.shape[1]
        hp = np.concatenate([h, np.zeros((n * T, 1), bool)], axis=1)
        x2 = hp[:, np.where(src >= 0, src, nh)].astype(np.int32)           # (nT, Q, A)
        w2 = _weights_matrix(smp["l2"])
        v2 = np.einsum("bka,kan->bkn", x2, w2) + smp["l2"]["leak"][None]
        o = (v2 >= 1)                                                      # (nT, Q, 250)
        cnt = o.reshape(n, T, o.shape[1], classes, per_class).sum(axis=(1, 2, 4))
        out[:, e] = cnt
    return out


def _block_layout(spec: Dict[str, Any]) -> Tuple[int, int, List[Tuple[int, int]], List[Tuple[int, int]]]:
    """(width, height, patch-core offsets, output-core offsets) of one copy's block."""
    P, Q = len(spec["patches"]), len(spec["out_sources"])
    if P == 4 and Q == 1:
        return 5, 1, [(0, 0), (1, 0), (3, 0), (4, 0)], [(2, 0)]
    width = 8
    rows_p = math.ceil(P / width)
    rows_q = math.ceil(Q / width)
    height = rows_p + rows_q
    # output rows in the middle of the block, patch rows above and below
    top = rows_p // 2
    out_rows = list(range(top, top + rows_q))
    patch_rows = [r for r in range(height) if r not in out_rows]
    patch = [(i % width, patch_rows[i // width]) for i in range(P)]
    outs = [(i % width, out_rows[i // width]) for i in range(Q)]
    return width, height, patch, outs


def placement(spec: Dict[str, Any], copies: int) -> Tuple[Tuple[int, int], List[Dict[str, List[List[int]]]]]:
    """Chips needed and, per copy, the global (x, y) of its patch cores and output cores."""
    bw, bh, patch, outs = _block_layout(spec)
    per_row, per_col = CHIP // bw, CHIP // bh
    per_chip = per_row * per_col
    chips_x = max(1, math.ceil(copies / per_chip))
    result = []
    for e in range(copies):
        chip, k = divmod(e, per_chip)
        bx, by = (k % per_row) * bw + chip * CHIP, (k // per_row) * bh
        result.append({"patch_cores": [[bx + dx, by + dy] for dx, dy in patch],
                       "output_cores": [[bx + dx, by + dy] for dx, dy in outs]})
    return (chips_x, 1), result


def build_network(spec: Dict[str, Any], samples: Sequence[Dict[str, Any]],
                  encoding: Optional[Dict[str, Any]] = None, extra_meta: Optional[Dict[str, Any]] = None) -> Network:
    """Place sampled copies on the core grid and return a :class:`tnsim.Network` with metadata."""
    from .train.networks import input_index, source_index

    copies = len(samples)
    chips, places = placement(spec, copies)
    classes, per_class, H = spec["classes"], spec["per_class"], spec["hidden"]
    n_out = classes * per_class
    src = source_index(spec)
    in_idx = input_index(spec)
    # destinations of each hidden unit: list of (output core q, axon a)
    dests: Dict[int, List[Tuple[int, int]]] = {}
    for q in range(src.shape[0]):
        for ax in np.nonzero(src[q] >= 0)[0]:
            dests.setdefault(int(src[q, ax]), []).append((q, int(ax)))
    net = Network(chips=chips, output_ports=copies * classes)
    for e, smp in enumerate(samples):
        pl = places[e]
        l1, l2 = smp["l1"], smp["l2"]
        for p, (x, y) in enumerate(pl["patch_cores"]):
            cb = np.zeros((256, 256), bool)
            w = np.zeros((256, 4), np.int64)
            leak = np.zeros(256, np.int64)
            tdx = np.zeros(256, np.int64)
            tdy = np.zeros(256, np.int64)
            tax = np.full(256, -1, np.int64)
            slot = 0
            for j in range(H):
                for q, a in dests.get(p * H + j, []):
                    cb[:, slot] = l1["crossbar"][p, :, j]
                    w[slot] = l1["weight_tables"][p, j]
                    leak[slot] = l1["leak"][p, j]
                    ox, oy = pl["output_cores"][q]
                    tdx[slot], tdy[slot], tax[slot] = ox - x, oy - y, a
                    slot += 1
            neurons = Neurons(weights=w, leak=leak, threshold=1, reset_value=0, reset_mode=0,
                              negative_saturation=True, negative_threshold=0,
                              target_dx=tdx, target_dy=tdy, target_axon=tax, target_delay=1)
            net.add_core((x, y), crossbar=cb, axon_types=l1["axon_types"][p], neurons=neurons, seed=1)
        for q, (x, y) in enumerate(pl["output_cores"]):
            cb = np.zeros((256, 256), bool)
            cb[:, :n_out] = l2["crossbar"][q]
            w = np.zeros((256, 4), np.int64)
            w[:n_out] = l2["weight_tables"][q]
            leak = np.zeros(256, np.int64)
            leak[:n_out] = l2["leak"][q]
            port = np.full(256, -1, np.int64)
            port[:n_out] = e * classes + np.arange(n_out) // per_class
            neurons = Neurons(weights=w, leak=leak, threshold=1, reset_value=0, reset_mode=0,
                              negative_saturation=True, negative_threshold=0, output_port=port)
            net.add_core((x, y), crossbar=cb, axon_types=l2["axon_types"][q], neurons=neurons, seed=1)
    # host input map: pixel -> (x, y, axon) for each patch core of each copy
    pix: List[np.ndarray] = []
    xs: List[np.ndarray] = []
    ys: List[np.ndarray] = []
    axs: List[np.ndarray] = []
    for e in range(copies):
        for p, (x, y) in enumerate(places[e]["patch_cores"]):
            used = np.nonzero(in_idx[p] >= 0)[0]
            pix.append(in_idx[p, used])
            axs.append(used)
            xs.append(np.full(len(used), x))
            ys.append(np.full(len(used), y))
    order = np.argsort(np.concatenate(pix), kind="stable")
    meta = {
        "kind": "esser2015",
        "spec": spec,
        "copies": copies,
        "cores_per_copy": len(spec["patches"]) + len(spec["out_sources"]),
        "cores": net.num_cores,
        "classes": classes,
        "placement": places,
        "input_map": {k: np.concatenate(v)[order].astype(int).tolist()
                      for k, v in (("pixel", pix), ("x", xs), ("y", ys), ("axon", axs))},
        "port_copy": [p // classes for p in range(copies * classes)],
        "port_class": [p % classes for p in range(copies * classes)],
        "pixels": int(np.prod(spec["image_shape"])),
        "output_delay": 1,
        "encoding": encoding or {"mode": "stochastic", "ticks_per_image": 1},
        "tie_rule": "lowest class index among the classes with the most spikes",
    }
    if extra_meta:
        meta.update(extra_meta)
    net.metadata = {META_KEY: meta}
    return net


def deploy(model: Any, copies: int, seed: int = 0, **kw: Any) -> Tuple[Network, List[Dict[str, Any]]]:
    """Sample ``copies`` networks from ``model`` and place them: -> (Network, samples)."""
    samples = sample(model, copies, seed)
    return build_network(model.spec, samples, **kw), samples


def samples_from_network(net: Network) -> List[Dict[str, Any]]:
    """Recover the sampled integer networks from a deployed Network (for independent checks)."""
    meta = net.metadata[META_KEY]
    spec = meta["spec"]
    from .train.networks import source_index

    src = source_index(spec)
    H, n_out = spec["hidden"], spec["classes"] * spec["per_class"]
    dests: Dict[int, List[Tuple[int, int]]] = {}
    for q in range(src.shape[0]):
        for a in np.nonzero(src[q] >= 0)[0]:
            dests.setdefault(int(src[q, a]), []).append((q, int(a)))
    out = []
    for pl in meta["placement"]:
        P = len(pl["patch_cores"])
        l1 = {"crossbar": np.zeros((P, 256, H), bool), "leak": np.zeros((P, H), np.int64),
              "axon_types": np.zeros((P, 256), np.int64), "weight_tables": np.zeros((P, H, 4), np.int64)}
        for p, xy in enumerate(pl["patch_cores"]):
            cfg = net.core(tuple(xy))
            l1["axon_types"][p] = cfg.axon_types
            slot = 0
            for j in range(H):
                d = dests.get(p * H + j, [])
                if d:
                    l1["crossbar"][p, :, j] = cfg.crossbar[:, slot]
                    l1["leak"][p, j] = np.asarray(cfg.neurons.leak)[slot]
                    l1["weight_tables"][p, j] = np.asarray(cfg.neurons.weights)[slot]
                    slot += len(d)
        Q = len(pl["output_cores"])
        l2 = {"crossbar": np.zeros((Q, 256, n_out), bool), "leak": np.zeros((Q, n_out), np.int64),
              "axon_types": np.zeros((Q, 256), np.int64), "weight_tables": np.zeros((Q, n_out, 4), np.int64)}
        for q, xy in enumerate(pl["output_cores"]):
            cfg = net.core(tuple(xy))
            l2["axon_types"][q] = cfg.axon_types
            l2["crossbar"][q] = cfg.crossbar[:, :n_out]
            l2["leak"][q] = np.asarray(cfg.neurons.leak)[:n_out]
            l2["weight_tables"][q] = np.asarray(cfg.neurons.weights)[:n_out]
        out.append({"l1": l1, "l2": l2})
    return out
