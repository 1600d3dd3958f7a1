"""Deployment: sample trained probabilistic networks into deterministic TrueNorth cores.

Each *copy* of an ensemble is an independent sample of the trained network: synapse (a, j) is
on iff ``c[a, j] > u`` with a fresh uniform ``u`` per copy, and every neuron is the memoryless
classifier neuron of SPEC.md section 8 (threshold 1, reset to 0 in mode 0, kappa 1, beta 0,
leak = round(bias) clipped to -255..255). A sampled network is plain NumPy data (see
:func:`sample`: one dict per layer, ``"l1"``, ``"l2"``, ...), independent of PyTorch;
:func:`forward` is an independent NumPy forward pass of it, used to check the simulator bit
for bit.

Placement (:func:`build_network`): each copy occupies a block of cores (5-core network: a row
``[patch 0, patch 1, output, patch 2, patch 3]``, so no route is longer than 2 hops; larger
networks: a block 8 cores wide, the first layer's rows above and below the later layers' rows).
Blocks fill a chip row by row; further copies go to the next chip along x (one more chip per
64 x 64 cores). A neuron of layer ``l`` targets its reader's axon in layer ``l + 1`` with delay
1, so the outputs of an image shown at tick t come out at tick ``t + layers - 1``; a unit read
by several cores is several identical neuron copies. Output neurons send to host port
``copy * classes + class`` (several neurons share a port; the simulator counts spikes per port).

The saved network's metadata (``Network.metadata["tnsim_deploy"]``) holds everything needed to
evaluate it alone: the network spec, the placement (cores of each layer of each copy), the
input map (for every first-layer axon of every copy: pixel, copy, (x, y, axon)), the port ->
(copy, class) map, copies, cores, the output delay and the encoding defaults.
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
    return [{f"l{i + 1}": layer.sample(rng) for i, layer in enumerate(model.layers)} for _ in range(copies)]


def _per_copy(spikes: np.ndarray, copies: int) -> np.ndarray:
    """Input spikes (n, T, pixels) shared by all copies, or (n, T, copies, pixels) per copy."""
    if spikes.ndim == 3:
        return spikes[:, :, None, :]
    if spikes.ndim != 4 or spikes.shape[2] not in (1, copies):
        raise ValueError(f"input spikes of shape {spikes.shape}: expected (images, ticks, pixels) "
                         f"or (images, ticks, {copies} copies, pixels)")
    return spikes


def forward(spec: Dict[str, Any], samples: Sequence[Dict[str, Any]], spikes: np.ndarray) -> np.ndarray:
    """Independent NumPy forward pass of sampled integer networks.

    ``spikes``: bool input spikes, (n, ticks, pixels) seen by every copy or (n, ticks, copies,
    pixels) per copy. Returns int64 class spike counts (n, copies, classes) summed over the
    ticks of each image (each tick is independent: the neurons are memoryless).
    """
    from .specs import layer_sources

    spikes = _per_copy(np.asarray(spikes, bool), len(samples))
    n, T, _, npix = spikes.shape
    srcs = layer_sources(spec)
    classes, per_class = spec["classes"], spec["per_class"]
    out = np.zeros((n, len(samples), classes), dtype=np.int64)
    for e, smp in enumerate(samples):
        h = spikes[:, :, e if spikes.shape[2] > 1 else 0].reshape(n * T, npix)
        for li, src in enumerate(srcs):
            layer = smp[f"l{li + 1}"]
            padded = np.concatenate([h, np.zeros((n * T, 1), bool)], axis=1)
            x = padded[:, np.where(src >= 0, src, h.shape[1])].astype(np.int32)      # (nT, K, A)
            v = np.einsum("bka,kan->bkn", x, _weights_matrix(layer)) + layer["leak"][None]
            h = (v >= 1).reshape(n * T, -1)
        out[:, e] = h.reshape(n, T, -1, classes, per_class).sum(axis=(1, 2, 4))
    return out


def _layer_sizes(spec: Dict[str, Any]) -> List[int]:
    from .specs import layered

    return [len(layer["sources"]) for layer in layered(spec)["layers"]]


def _block_layout(spec: Dict[str, Any]) -> Tuple[int, int, List[List[Tuple[int, int]]]]:
    """(width, height, per layer the core offsets) of one copy's block."""
    sizes = _layer_sizes(spec)
    if sizes == [4, 1]:
        return 5, 1, [[(0, 0), (1, 0), (3, 0), (4, 0)], [(2, 0)]]
    width = 8
    rows = [math.ceil(k / width) for k in sizes]
    # the first layer's rows above and below, the later layers' rows in the middle
    top = rows[0] // 2
    order = list(range(top)) + list(range(rows[0], sum(rows))) + list(range(top, rows[0]))
    row_of = {r: i for i, r in enumerate(order)}   # row index in layer order -> row in the block
    layout, r0 = [], 0
    for k, nrows in zip(sizes, rows):
        layout.append([(i % width, row_of[r0 + i // width]) for i in range(k)])
        r0 += nrows
    return width, sum(rows), layout


def placement(spec: Dict[str, Any], copies: int) -> Tuple[Tuple[int, int], List[Dict[str, Any]]]:
    """Chips needed and, per copy, the global (x, y) of its cores: ``layer_cores`` (a list per
    layer), with ``patch_cores`` / ``output_cores`` naming the first and the last layer."""
    bw, bh, layout = _block_layout(spec)
    per_row, per_col = CHIP // bw, CHIP // bh
    per_chip = per_row * per_col
    chips_x = max(1, math.ceil(copies / per_chip))
    result = []
    for e in range(copies):
        chip, k = divmod(e, per_chip)
        bx, by = (k % per_row) * bw + chip * CHIP, (k // per_row) * bh
        cores = [[[bx + dx, by + dy] for dx, dy in offs] for offs in layout]
        result.append({"layer_cores": cores, "patch_cores": cores[0], "output_cores": cores[-1]})
    return (chips_x, 1), result


def layer_cores(place: Dict[str, Any]) -> List[List[List[int]]]:
    """The cores of each layer of one copy's placement (also for files of the two-layer form)."""
    return place.get("layer_cores") or [place["patch_cores"], place["output_cores"]]


def _destinations(src: np.ndarray) -> Dict[int, List[Tuple[int, int]]]:
    """unit -> [(reading core, axon), ...] in core then axon order."""
    dests: Dict[int, List[Tuple[int, int]]] = {}
    for q in range(src.shape[0]):
        for ax in np.nonzero(src[q] >= 0)[0]:
            dests.setdefault(int(src[q, ax]), []).append((q, int(ax)))
    return dests


def build_network(spec: Dict[str, Any], samples: Sequence[Dict[str, Any]],
                  encoding: Optional[Dict[str, Any]] = None, extra_meta: Optional[Dict[str, Any]] = None) -> Network:
    """Place sampled copies on the core grid and return a :class:`tnsim.Network` with metadata."""
    from .specs import layer_sources, layered

    copies = len(samples)
    chips, places = placement(spec, copies)
    classes, per_class = spec["classes"], spec["per_class"]
    n_out = classes * per_class
    srcs = layer_sources(spec)
    neurons_of = [layer["neurons"] for layer in layered(spec)["layers"]]
    dests = [_destinations(src) for src in srcs[1:]]
    last = len(srcs) - 1
    net = Network(chips=chips, output_ports=copies * classes)
    for e, smp in enumerate(samples):
        cores = layer_cores(places[e])
        for li in range(len(srcs)):
            layer, H = smp[f"l{li + 1}"], neurons_of[li]
            for k, (x, y) in enumerate(cores[li]):
                cb = np.zeros((256, 256), bool)
                w = np.zeros((256, 4), np.int64)
                leak = np.zeros(256, np.int64)
                if li == last:
                    cb[:, :n_out] = layer["crossbar"][k]
                    w[:n_out] = layer["weight_tables"][k]
                    leak[:n_out] = layer["leak"][k]
                    port = np.full(256, -1, np.int64)
                    port[:n_out] = e * classes + np.arange(n_out) // per_class
                    neurons = Neurons(weights=w, leak=leak, threshold=1, reset_value=0, reset_mode=0,
                                      negative_saturation=True, negative_threshold=0, output_port=port)
                else:
                    tdx = np.zeros(256, np.int64)
                    tdy = np.zeros(256, np.int64)
                    tax = np.full(256, -1, np.int64)
                    slot = 0
                    for j in range(H):
                        for q, a in dests[li].get(k * H + j, []):
                            cb[:, slot] = layer["crossbar"][k, :, j]
                            w[slot] = layer["weight_tables"][k, j]
                            leak[slot] = layer["leak"][k, j]
                            ox, oy = cores[li + 1][q]
                            tdx[slot], tdy[slot], tax[slot] = ox - x, oy - y, a
                            slot += 1
                    neurons = Neurons(weights=w, leak=leak, threshold=1, reset_value=0, reset_mode=0,
                                      negative_saturation=True, negative_threshold=0,
                                      target_dx=tdx, target_dy=tdy, target_axon=tax, target_delay=1)
                net.add_core((x, y), crossbar=cb, axon_types=layer["axon_types"][k], neurons=neurons, seed=1)
    # host input map: (copy, pixel) -> (x, y, axon) for each first-layer core of each copy
    cols: Dict[str, List[np.ndarray]] = {k: [] for k in ("pixel", "copy", "x", "y", "axon")}
    for e in range(copies):
        for p, (x, y) in enumerate(layer_cores(places[e])[0]):
            used = np.nonzero(srcs[0][p] >= 0)[0]
            for key, val in (("pixel", srcs[0][p, used]), ("copy", np.full(len(used), e)), ("x", np.full(len(used), x)),
                             ("y", np.full(len(used), y)), ("axon", used)):
                cols[key].append(val)
    order = np.argsort(np.concatenate(cols["pixel"]), kind="stable")
    meta = {
        "kind": "esser2015",
        "spec": spec,
        "copies": copies,
        "cores_per_copy": sum(len(c) for c in layer_cores(places[0])) if copies else 0,
        "cores": net.num_cores,
        "classes": classes,
        "placement": places,
        "input_map": {k: np.concatenate(v)[order].astype(int).tolist() for k, v in cols.items()},
        "port_copy": [p // classes for p in range(copies * classes)],
        "port_class": [p % classes for p in range(copies * classes)],
        "pixels": int(np.prod(spec["image_shape"])),
        "output_delay": last,
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
    from .specs import layer_sources, layered

    meta = net.metadata[META_KEY]
    spec = meta["spec"]
    srcs = layer_sources(spec)
    neurons_of = [layer["neurons"] for layer in layered(spec)["layers"]]
    dests = [_destinations(src) for src in srcs[1:]]
    last = len(srcs) - 1
    out = []
    for pl in meta["placement"]:
        smp = {}
        for li, cores in enumerate(layer_cores(pl)):
            K, H = len(cores), neurons_of[li]
            layer = {"crossbar": np.zeros((K, 256, H), bool), "leak": np.zeros((K, H), np.int64),
                     "axon_types": np.zeros((K, 256), np.int64), "weight_tables": np.zeros((K, H, 4), np.int64)}
            for k, xy in enumerate(cores):
                cfg = net.core(tuple(xy))
                layer["axon_types"][k] = cfg.axon_types
                leak, weights = np.asarray(cfg.neurons.leak), np.asarray(cfg.neurons.weights)
                if li == last:
                    layer["crossbar"][k] = cfg.crossbar[:, :H]
                    layer["leak"][k] = leak[:H]
                    layer["weight_tables"][k] = weights[:H]
                    continue
                slot = 0
                for j in range(H):
                    d = dests[li].get(k * H + j, [])
                    if d:
                        layer["crossbar"][k, :, j] = cfg.crossbar[:, slot]
                        layer["leak"][k, j] = leak[slot]
                        layer["weight_tables"][k, j] = weights[slot]
                        slot += len(d)
            smp[f"l{li + 1}"] = layer
        out.append(smp)
    return out
