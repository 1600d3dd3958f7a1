"""Deployment: sample trained probabilistic networks into deterministic TrueNorth cores.

Each *copy* of an ensemble is a sample of the trained network: synapse (a, j) is on iff
``c[a, j] > u`` with a uniform ``u`` per copy (drawn afresh, or stratified over the copies so
that the ensemble's mean crossbar is ``c`` to within 1/copies: :func:`sample`), and every
neuron is the memoryless classifier neuron of SPEC.md section 8 (threshold 1, reset to 0 in
mode 0, kappa 1, beta 0, leak = round(bias) clipped to -255..255). A sampled network is plain
NumPy data (see :func:`sample`: one dict per layer, ``"l1"``, ``"l2"``, ...), independent of
PyTorch; :func:`forward` is an independent NumPy forward pass of it, used to check the
simulator bit for bit.

Placement (:func:`build_network`): each copy occupies a block of cores (5-core network: a row
``[patch 0, patch 1, output, patch 2, patch 3]``, so no route is longer than 2 hops; larger
networks: a block 8 cores wide, the first layer's rows above and below the later layers' rows).
Blocks fill a chip row by row; further copies go to the next chip along x (one more chip per
64 x 64 cores). A neuron of layer ``l`` targets its reader's axon in layer ``l + 1`` with delay
1, so the outputs of an image shown at tick t come out at tick ``t + layers - 1``; a unit read
by several cores is several identical neuron copies. Output neurons send to host port
``copy * classes + class`` (several neurons share a port; the simulator counts spikes per port).

*Views*: copy ``e`` may read the image translated by a small shift ``(dy, dx)`` (its first
layer's axon for view pixel ``(r, c)`` gets host input from image pixel ``(r - dy, c - dx)``,
none when that is outside the image), so that the copies of an ensemble also average over
translations of the input (test-time augmentation, at no cost on hardware: only the host's
input map changes). ``views=k`` gives copy ``e`` the shift ``VIEW_SHIFTS[e % k]``.

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
#: Shifts (dy, dx) of the views, in the order copies take them: none, then one pixel along
#: each axis, then diagonally.
VIEW_SHIFTS = ((0, 0), (0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))


def view_shifts(copies: int, views: int = 1) -> List[Tuple[int, int]]:
    """The shift of each copy's view: copy e takes ``VIEW_SHIFTS[e % views]``."""
    if not 1 <= views <= len(VIEW_SHIFTS):
        raise ValueError(f"views = {views} is out of range 1..{len(VIEW_SHIFTS)}")
    return [VIEW_SHIFTS[e % views] for e in range(copies)]


def _view_pixels(pixels: np.ndarray, image_shape: Sequence[int], shift: Sequence[int]) -> np.ndarray:
    """View pixel indices -> the image pixel each reads under ``shift`` (dy, dx), -1 outside."""
    rows, cols = image_shape
    r, c = pixels // cols - shift[0], pixels % cols - shift[1]
    return np.where((r >= 0) & (r < rows) & (c >= 0) & (c < cols), r * cols + c, -1)


def _shifts(shifts: Optional[Sequence[Sequence[int]]], copies: int) -> List[Tuple[int, int]]:
    """Checked per-copy shifts (all (0, 0) when None)."""
    if shifts is None:
        return [(0, 0)] * copies
    out = [(int(dy), int(dx)) for dy, dx in shifts]
    if len(out) != copies:
        raise ValueError(f"{len(out)} view shifts for {copies} copies")
    return out


def _weights_matrix(layer: Dict[str, np.ndarray]) -> np.ndarray:
    """Signed integer weight (K, A, N) of each synapse that is on (0 where off)."""
    types = layer["axon_types"]                      # (K, A)
    tables = layer["weight_tables"]                  # (K, N, 4)
    s = np.take_along_axis(tables[:, None, :, :], types[:, :, None, None], axis=3)[..., 0]  # (K, A, N)
    return np.where(layer["crossbar"], s, 0).astype(np.int32)


#: How the copies of one trained model draw their synapses (see :func:`sample`).
SAMPLINGS = ("stratified", "independent")


def sample(model: Any, copies: int, seed: int = 0, sampling: str = "stratified") -> List[Dict[str, Any]]:
    """Draw ``copies`` deterministic networks from a trained :class:`CoreNetwork`, or from a list
    of trained models (copy e from model e mod len(models); the models may differ in spec).

    Each copy alone is an exact sample: synapse (a, j) is on iff ``c[a, j] > u`` with ``u``
    uniform in [0, 1). ``sampling="independent"`` draws every copy's ``u`` afresh.
    ``"stratified"`` (Latin hypercube over the n copies of each model) gives the copies of a
    synapse the uniforms ``(pi_e + v_e) / n`` of a random permutation ``pi`` of 0..n-1 (one per
    synapse) and fresh ``v`` in [0, 1): then the number of copies that have the synapse is
    ``floor(n c)`` or ``ceil(n c)`` instead of binomially spread, so the ensemble's mean
    crossbar is ``c`` to within ``1/n`` (the ensemble varies less from one seed to the next).
    """
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling = {sampling!r}: expected one of {', '.join(SAMPLINGS)}")
    models = _models(model)
    rng = np.random.default_rng(seed)
    if sampling == "independent":
        return [{f"l{i + 1}": layer.sample(rng) for i, layer in enumerate(models[e % len(models)].layers)}
                for e in range(copies)]
    out: List[Dict[str, Any]] = [{} for _ in range(copies)]
    for m, mdl in enumerate(models):
        mine = list(range(m, copies, len(models)))
        if not mine:            # fewer copies than models
            continue
        for i, layer in enumerate(mdl.layers):
            crossbars = _stratified_crossbars(layer.probabilities(), len(mine), rng)
            for k, e in enumerate(mine):
                out[e][f"l{i + 1}"] = layer.hardware(crossbars[k])
    return out


def _stratified_crossbars(c: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` bool crossbars ``c > u`` with Latin-hypercube uniforms ``u`` over the n (see
    :func:`sample`); drawn in chunks of synapses to bound the memory."""
    flat = c.reshape(-1)
    out = np.empty((n, flat.size), dtype=bool)
    step = max(1, (1 << 22) // n)
    strata = np.arange(n, dtype=np.float64)[:, None]
    for s in range(0, flat.size, step):
        m = min(step, flat.size - s)
        u = (rng.permuted(np.repeat(strata, m, axis=1), axis=0) + rng.random((n, m))) / n
        out[:, s:s + m] = flat[None, s:s + m] > u
    return out.reshape((n,) + c.shape)


def _models(model: Any) -> List[Any]:
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    if not models:
        raise ValueError("no model to sample from")
    return models


def copy_specs(spec: Any, copies: int) -> List[Dict[str, Any]]:
    """One spec for every copy, or a list with one spec per copy -> the list (checked)."""
    specs = list(spec) if isinstance(spec, (list, tuple)) else [spec] * copies
    if len(specs) != copies:
        raise ValueError(f"{len(specs)} specs for {copies} copies")
    classes = {(sp["classes"], sp["per_class"], tuple(sp["image_shape"])) for sp in specs}
    if len(classes) > 1:
        raise ValueError(f"copies of one ensemble must agree on classes, neurons per class and image shape: {classes}")
    return specs


def _per_copy(spikes: np.ndarray, copies: int) -> np.ndarray:
    """Input spikes (n, T, pixels) shared by all copies, or (n, T, copies, pixels) per copy."""
    if spikes.ndim == 3:
        return spikes[:, :, None, :]
    if spikes.ndim != 4 or spikes.shape[2] not in (1, copies):
        raise ValueError(f"input spikes of shape {spikes.shape}: expected (images, ticks, pixels) "
                         f"or (images, ticks, {copies} copies, pixels)")
    return spikes


def _take(h: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Columns ``idx`` (any shape) of the spikes ``h`` (rows, units); False where idx is -1."""
    padded = np.concatenate([h, np.zeros((h.shape[0], 1), bool)], axis=1)
    return padded[:, np.where(idx >= 0, idx, h.shape[1])]


def forward(spec: Any, samples: Sequence[Dict[str, Any]], spikes: np.ndarray,
            shifts: Optional[Sequence[Sequence[int]]] = None) -> np.ndarray:
    """Independent NumPy forward pass of sampled integer networks (``spec``: of every copy, or a
    list with one per copy).

    ``spikes``: bool input spikes, (n, ticks, pixels) seen by every copy or (n, ticks, copies,
    pixels) per copy; ``shifts``: each copy's view shift (dy, dx), as in the metadata's
    ``"shifts"``. Returns int64 class spike counts (n, copies, classes) summed over the ticks of
    each image (each tick is independent: the neurons are memoryless).
    """
    spikes = _per_copy(np.asarray(spikes, bool), len(samples))
    n, T, _, npix = spikes.shape
    shift_of = _shifts(shifts, len(samples))
    specs = copy_specs(spec, len(samples))
    _, spec_index, wirings = _wirings(specs)
    first = spec[0] if isinstance(spec, (list, tuple)) else spec
    classes, per_class = first["classes"], first["per_class"]
    out = np.zeros((n, len(samples), classes), dtype=np.int64)
    for e, smp in enumerate(samples):
        srcs = wirings[spec_index[e]].srcs
        h = spikes[:, :, e if spikes.shape[2] > 1 else 0].reshape(n * T, npix)
        if shift_of[e] != (0, 0):   # the copy's view: view pixel p shows image pixel read[p]
            h = _take(h, _view_pixels(np.arange(npix), specs[e]["image_shape"], shift_of[e]))
        for li, src in enumerate(srcs):
            layer = smp[f"l{li + 1}"]
            x = _take(h, src).astype(np.int32)                                       # (nT, K, A)
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


def placement(spec: Any, copies: int) -> Tuple[Tuple[int, int], List[Dict[str, Any]]]:
    """Chips needed and, per copy, the global (x, y) of its cores: ``layer_cores`` (a list per
    layer), with ``patch_cores`` / ``output_cores`` naming the first and the last layer.
    ``spec``: of every copy, or a list with one per copy (blocks then take the largest size)."""
    specs = copy_specs(spec, copies)
    layouts = {}
    for sp in specs:
        key = tuple(_layer_sizes(sp))
        if key not in layouts:
            layouts[key] = _block_layout(sp)
    bw = max((w for w, _, _ in layouts.values()), default=1)
    bh = max((h for _, h, _ in layouts.values()), default=1)
    per_row, per_col = CHIP // bw, CHIP // bh
    per_chip = per_row * per_col
    chips_x = max(1, math.ceil(copies / per_chip))
    result = []
    for e in range(copies):
        chip, k = divmod(e, per_chip)
        bx, by = (k % per_row) * bw + chip * CHIP, (k // per_row) * bh
        layout = layouts[tuple(_layer_sizes(specs[e]))][2]
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


class _Wiring:
    """What placement and the forward pass need of a spec: sources and neurons per layer, and
    each unit's readers."""

    def __init__(self, spec: Dict[str, Any]) -> None:
        from .specs import layer_sources, layered

        self.srcs = layer_sources(spec)
        self.neurons = [layer["neurons"] for layer in layered(spec)["layers"]]
        self.dests = [_destinations(src) for src in self.srcs[1:]]
        self.last = len(self.srcs) - 1


def _wirings(specs: Sequence[Dict[str, Any]]) -> Tuple[List[Dict[str, Any]], List[int], List[_Wiring]]:
    """-> (distinct specs, index of each copy's spec, wiring per distinct spec)."""
    distinct: List[Dict[str, Any]] = []
    index = []
    for sp in specs:
        if sp not in distinct:
            distinct.append(sp)
        index.append(distinct.index(sp))
    return distinct, index, [_Wiring(sp) for sp in distinct]


def build_network(spec: Any, samples: Sequence[Dict[str, Any]],
                  encoding: Optional[Dict[str, Any]] = None, extra_meta: Optional[Dict[str, Any]] = None,
                  shifts: Optional[Sequence[Sequence[int]]] = None) -> Network:
    """Place sampled copies on the core grid and return a :class:`tnsim.Network` with metadata.
    ``spec``: of every copy, or a list with one spec per copy (an ensemble of different networks);
    ``shifts``: each copy's view shift (dy, dx) (see the module docstring; default none)."""
    copies = len(samples)
    specs = copy_specs(spec, copies)
    shift_of = _shifts(shifts, copies)
    first = spec[0] if isinstance(spec, (list, tuple)) else spec
    chips, places = placement(specs, copies)
    distinct, spec_index, wirings = _wirings(specs)
    delays = {wr.last for wr in wirings}
    if len(delays) > 1:
        raise ValueError(f"copies of one ensemble must have the same number of layers (output delays {sorted(delays)})")
    classes, per_class = first["classes"], first["per_class"]
    n_out = classes * per_class
    net = Network(chips=chips, output_ports=copies * classes)
    for e, smp in enumerate(samples):
        wr = wirings[spec_index[e]]
        cores = layer_cores(places[e])
        for li in range(len(wr.srcs)):
            layer, H = smp[f"l{li + 1}"], wr.neurons[li]
            for k, (x, y) in enumerate(cores[li]):
                cb = np.zeros((256, 256), bool)
                w = np.zeros((256, 4), np.int64)
                leak = np.zeros(256, np.int64)
                if li == wr.last:
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
                        for q, a in wr.dests[li].get(k * H + j, []):
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
        src0 = wirings[spec_index[e]].srcs[0]
        for p, (x, y) in enumerate(layer_cores(places[e])[0]):
            used = np.nonzero(src0[p] >= 0)[0]
            pix = _view_pixels(src0[p, used], specs[e]["image_shape"], shift_of[e])
            used, pix = used[pix >= 0], pix[pix >= 0]   # a view pixel outside the image: no input
            for key, val in (("pixel", pix), ("copy", np.full(len(used), e)), ("x", np.full(len(used), x)),
                             ("y", np.full(len(used), y)), ("axon", used)):
                cols[key].append(val)
    order = np.argsort(np.concatenate(cols["pixel"]), kind="stable") if copies else np.zeros(0, np.int64)
    per_copy = [sum(len(c) for c in layer_cores(pl)) for pl in places]
    meta: Dict[str, Any] = {
        "kind": "esser2015",
        "spec": first,
        "copies": copies,
        "cores_per_copy": per_copy[0] if len(set(per_copy)) == 1 else per_copy,
        "cores": net.num_cores,
        "classes": classes,
        "placement": places,
        "input_map": {k: (np.concatenate(v)[order].astype(int).tolist() if v else []) for k, v in cols.items()},
        "port_copy": [p // classes for p in range(copies * classes)],
        "port_class": [p % classes for p in range(copies * classes)],
        "pixels": int(np.prod(first["image_shape"])),
        "output_delay": wirings[0].last if wirings else 1,
        "encoding": encoding or {"mode": "stochastic", "ticks_per_image": 1},
        "tie_rule": "lowest class index among the classes with the most spikes",
    }
    if any(sh != (0, 0) for sh in shift_of):
        meta["shifts"] = [list(sh) for sh in shift_of]
    if len(distinct) > 1:   # an ensemble of different networks: every spec and each copy's
        meta["specs"], meta["copy_spec"] = distinct, spec_index
        meta["spec"] = dict(first, name="+".join(dict.fromkeys(sp["name"] for sp in distinct)))
    if extra_meta:
        meta.update(extra_meta)
    net.metadata = {META_KEY: meta}
    return net


def network_specs(meta: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The spec of each copy of a deployed network, from its metadata."""
    if "specs" in meta:
        return [meta["specs"][i] for i in meta["copy_spec"]]
    return [meta["spec"]] * meta["copies"]


def deploy(model: Any, copies: int, seed: int = 0, views: int = 1, sampling: str = "stratified",
           **kw: Any) -> Tuple[Network, List[Dict[str, Any]]]:
    """Sample ``copies`` networks from ``model`` (or a list of models, used in turn; ``sampling``
    as in :func:`sample`) and place them, copy e reading view ``e % views``
    (:data:`VIEW_SHIFTS`): -> (Network, samples)."""
    shifts = view_shifts(copies, views)
    samples = sample(model, copies, seed, sampling)
    models = _models(model)
    extra = dict(kw.pop("extra_meta", None) or {})
    extra.setdefault("models", len(models))
    extra.setdefault("views", views)
    extra.setdefault("sampling", sampling)
    specs = [models[e % len(models)].spec for e in range(copies)]
    net = build_network(specs if len(models) > 1 else models[0].spec, samples, extra_meta=extra,
                        shifts=shifts if views > 1 else None, **kw)
    return net, samples


def samples_from_network(net: Network) -> List[Dict[str, Any]]:
    """Recover the sampled integer networks from a deployed Network (for independent checks)."""
    meta = net.metadata[META_KEY]
    distinct, spec_index, wirings = _wirings(network_specs(meta))
    out = []
    for e, pl in enumerate(meta["placement"]):
        wr = wirings[spec_index[e]]
        smp = {}
        for li, cores in enumerate(layer_cores(pl)):
            K, H = len(cores), wr.neurons[li]
            layer = {"crossbar": np.zeros((K, 256, H), bool), "leak": np.zeros((K, H), np.int64),
                     "axon_types": np.zeros((K, 256), np.int64), "weight_tables": np.zeros((K, H, 4), np.int64)}
            for k, xy in enumerate(cores):
                cfg = net.core((int(xy[0]), int(xy[1])))
                layer["axon_types"][k] = cfg.axon_types
                leak, weights = np.asarray(cfg.neurons.leak), np.asarray(cfg.neurons.weights)
                if li == wr.last:
                    layer["crossbar"][k] = cfg.crossbar[:, :H]
                    layer["leak"][k] = leak[:H]
                    layer["weight_tables"][k] = weights[:H]
                    continue
                slot = 0
                for j in range(H):
                    d = wr.dests[li].get(k * H + j, [])
                    if d:
                        layer["crossbar"][k, :, j] = cfg.crossbar[:, slot]
                        layer["leak"][k, j] = leak[slot]
                        layer["weight_tables"][k, j] = weights[slot]
                        slot += len(d)
            smp[f"l{li + 1}"] = layer
        out.append(smp)
    return out
