"""Network specs: layered TrueNorth core networks for classification (pure NumPy; the PyTorch
model is :mod:`tnsim.train.networks`, deployment :mod:`tnsim.deploy`).

From the paper-sized 5-core network to deeper ones.

A network is described by a JSON-serialisable *spec* (saved in checkpoints and in a deployed
network's metadata) and built into a PyTorch model by :class:`tnsim.train.networks.CoreNetwork`::

    {"name": ..., "image_shape": [28, 28], "classes": 10, "per_class": 25,
     "layers": [{"neurons": N0, "sources": [[...], ...]},     # layer 0: one list per core
                {"neurons": N1, "sources": [[...], ...]}, ...]}

- Core ``k`` of layer ``l`` has one axon per entry of ``sources[k]`` (at most 256): in layer 0
  the entry is a pixel index, in layer ``l > 0`` a *unit* of layer ``l - 1`` (unit
  ``k' * N(l-1) + j`` is neuron ``j`` of core ``k'``). Axons beyond the list are unused.
- The last layer has ``classes * per_class`` neurons per core, neuron ``n`` voting for class
  ``n // per_class``; the class with the most output spikes (over all output cores) wins.
- ``"shared": true`` on a layer makes its cores one convolution-like filter bank: the same
  axon types, weight tables and trained parameters on every core (each deployed core samples
  its own crossbar from them); its cores must use the same axons.
- A unit read by several cores of the next layer is deployed as that many identical neuron
  copies (a TrueNorth neuron has one target), so the reads of a core's units are at most 256.

Specs of the first version (``patches`` / ``hidden`` / ``out_sources``: two layers) are still
read: :func:`layered` converts them.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

import numpy as np

#: Axons per core.
AXONS = 256


def patch_sources(image_shape: Sequence[int], patches: Sequence[Sequence[int]]) -> List[List[int]]:
    """Pixel indices read by patch cores: patch ``(r0, c0, h, w)`` puts pixel
    ``(r0 + i // w, c0 + i % w)`` on axon ``i``."""
    rows, cols = image_shape
    out = []
    for p, (r0, c0, h, w) in enumerate(patches):
        if h * w > AXONS or r0 < 0 or c0 < 0 or r0 + h > rows or c0 + w > cols:
            raise ValueError(f"patch {p} {(r0, c0, h, w)} does not fit a core or the image")
        i = np.arange(h * w)
        out.append(((r0 + i // w) * cols + (c0 + i % w)).tolist())
    return out


def random_sources(units: int, reads: int, rng: np.random.Generator) -> List[List[int]]:
    """Cores reading each of ``units`` units ``reads`` times: per read, a random permutation
    of the units cut into the fewest cores of at most 256 axons (sizes differing by at most 1)."""
    srcs: List[List[int]] = []
    for _ in range(reads):
        perm = rng.permutation(units)
        srcs += [sorted(part.tolist()) for part in np.array_split(perm, -(-units // AXONS))]
    return srcs


def local_sources(grid: int, neurons: int, window: int, per_core: int,
                  rng: np.random.Generator) -> List[List[int]]:
    """Convolution-like sources: a ``grid x grid`` layer of cores (``neurons`` each) read by a
    ``(grid - window + 1)^2`` layer whose core at (a, b) reads ``per_core`` units from each core
    of the ``window x window`` block at (a, b). Units are shared out least-used first, so the
    reads of a core's units stay balanced."""
    out_grid = grid - window + 1
    used = np.zeros((grid * grid, neurons), np.int64)
    srcs = []
    for a in range(out_grid):
        for b in range(out_grid):
            s: List[int] = []
            for da in range(window):
                for db in range(window):
                    k = (a + da) * grid + (b + db)
                    order = np.lexsort((rng.random(neurons), used[k]))[:per_core]
                    used[k, order] += 1
                    s += (k * neurons + order).tolist()
            srcs.append(sorted(s))
    return srcs


def shared_local_sources(grid: int, neurons: int, window: int, per_core: int) -> List[List[int]]:
    """Like :func:`local_sources`, but every reading core takes the same units at the same
    offset in its window (so the reading layer can be shared): offset q of the window reads
    units ``q * per_core ... q * per_core + per_core - 1`` (mod ``neurons``), which spreads a
    core's reads evenly over its units."""
    out_grid = grid - window + 1
    picks = [sorted(((q * per_core + np.arange(per_core)) % neurons).tolist()) for q in range(window * window)]
    srcs = []
    for a in range(out_grid):
        for b in range(out_grid):
            s: List[int] = []
            for q in range(window * window):
                k = (a + q // window) * grid + (b + q % window)
                s += [k * neurons + u for u in picks[q]]
            srcs.append(s)
    return srcs


def _spec(name: str, layers: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {"name": name, "image_shape": [28, 28], "classes": 10, "per_class": 25, "layers": layers}


def five_core_spec() -> Dict[str, Any]:
    """The paper-sized network: 4 patch cores x 64 neurons -> 1 output core of 250 neurons."""
    patches = [[r, c, 16, 16] for r in (0, 12) for c in (0, 12)]
    return _spec("5core", [{"neurons": 64, "sources": patch_sources((28, 28), patches)},
                           {"neurons": 250, "sources": [list(range(256))]}])


def large_spec(seed: int = 0) -> Dict[str, Any]:
    """32 cores per copy: 16 patch cores (16x16 patches at rows/cols 0, 4, 8, 12) x 128 neurons,
    each unit read twice (256 neurons per core); 16 output cores of 250 neurons, cores 0-7
    reading one random permutation of the 2048 units, cores 8-15 another."""
    patches = [[r, c, 16, 16] for r in (0, 4, 8, 12) for c in (0, 4, 8, 12)]
    rng = np.random.default_rng(seed + 7919)
    return _spec("large", [{"neurons": 128, "sources": patch_sources((28, 28), patches)},
                           {"neurons": 250, "sources": random_sources(16 * 128, 2, rng)}])


def _stride2_patches() -> List[List[int]]:
    """The 49 16x16 patches at stride 2 (rows and columns 0, 2, ..., 12) of the deep networks."""
    offs = range(0, 13, 2)
    return [[r, c, 16, 16] for r in offs for c in offs]


def _locally_connected(name: str, seed: int, patch_neurons: int, middle_neurons: int) -> Dict[str, Any]:
    """Three layers: 49 patch cores (:func:`_stride2_patches`) of ``patch_neurons``; 25 cores
    of ``middle_neurons``, each reading 28 units from each core of a 3x3 block of patch cores;
    output cores of 250 neurons reading every middle unit ``256 // middle_neurons`` times."""
    rng = np.random.default_rng(seed + 7919)
    return _spec(name, [{"neurons": patch_neurons, "sources": patch_sources((28, 28), _stride2_patches())},
                        {"neurons": middle_neurons, "sources": local_sources(7, patch_neurons, 3, 28, rng)},
                        {"neurons": 250, "sources": random_sources(25 * middle_neurons, AXONS // middle_neurons,
                                                                    rng)}])


def deep_spec(seed: int = 0) -> Dict[str, Any]:
    """100 cores per copy, three layers, convolution-like: 49 patch cores (16x16 patches at
    stride 2) x 64 neurons; 25 cores x 128 neurons, each reading 28 units from each core of a
    3x3 block of patch cores; 26 output cores of 250 neurons reading the 3,200 middle units
    twice (two random permutations, each cut into 13 cores of 246 or 247 axons)."""
    return _locally_connected("deep", seed, 64, 128)


def deepwide_spec(seed: int = 0) -> Dict[str, Any]:
    """``deep`` with twice the units in 99 cores per copy: 49 patch cores of 128 neurons (each
    unit read about twice), 25 cores of 256 neurons reading 28 units from each core of a 3x3
    block of patch cores, and 25 output cores reading the 6,400 middle units once (one random
    permutation cut into 25 cores of 256 axons)."""
    return _locally_connected("deepwide", seed, 128, 256)


def conv_spec(seed: int = 0) -> Dict[str, Any]:
    """The ``deep`` network with a shared first layer: its 49 patch cores are one filter bank
    of 64 16x16 filters at stride 2 (a convolution), trained on the gradients of all patches."""
    spec = deep_spec(seed)
    spec["name"] = "conv"
    spec["layers"][0]["shared"] = True
    return spec


def conv2_spec(seed: int = 0) -> Dict[str, Any]:
    """Two shared layers (a two-layer convolution): 49 patch cores as in ``conv``, then 25
    cores of 128 neurons sharing one filter bank over 3x3 blocks of patch cores (28 units from
    each, the same units at the same offset; :func:`shared_local_sources`); 26 output cores as
    in ``deep``."""
    rng = np.random.default_rng(seed + 7919)
    return _spec("conv2", [{"neurons": 64, "sources": patch_sources((28, 28), _stride2_patches()), "shared": True},
                           {"neurons": 128, "sources": shared_local_sources(7, 64, 3, 28), "shared": True},
                           {"neurons": 250, "sources": random_sources(25 * 128, 2, rng)}])


def wide_spec(seed: int = 0) -> Dict[str, Any]:
    """101 cores per copy, two layers: 49 patch cores (16x16 patches at stride 2) x 64 neurons,
    each unit read four times; 52 output cores of 250 neurons (four random permutations of the
    3,136 units, each cut into 13 cores of 241 or 242 axons)."""
    rng = np.random.default_rng(seed + 7919)
    return _spec("wide", [{"neurons": 64, "sources": patch_sources((28, 28), _stride2_patches())},
                          {"neurons": 250, "sources": random_sources(49 * 64, 4, rng)}])


SPECS = {"5core": five_core_spec, "large": large_spec, "deep": deep_spec, "deepwide": deepwide_spec,
         "conv": conv_spec, "conv2": conv2_spec, "wide": wide_spec}


def get_spec(name: str, seed: int = 0) -> Dict[str, Any]:
    if name == "5core":
        return five_core_spec()
    if name in SPECS:
        return SPECS[name](seed)  # type: ignore[call-arg]
    raise ValueError(f"unknown network {name!r}; known: {', '.join(SPECS)}")


def layered(spec: Dict[str, Any]) -> Dict[str, Any]:
    """The spec in the layered form (specs of the first, two-layer form are converted)."""
    if "layers" in spec:
        return spec
    out = {k: v for k, v in spec.items() if k not in ("patches", "hidden", "out_sources")}
    out["layers"] = [{"neurons": spec["hidden"], "sources": patch_sources(spec["image_shape"], spec["patches"])},
                     {"neurons": spec["classes"] * spec["per_class"], "sources": spec["out_sources"]}]
    return out


def layer_sources(spec: Dict[str, Any]) -> List[np.ndarray]:
    """Per layer: (cores, 256) int64 source read by each axon (-1: unused axon)."""
    out = []
    for li, layer in enumerate(layered(spec)["layers"]):
        src = np.full((len(layer["sources"]), AXONS), -1, dtype=np.int64)
        for k, s in enumerate(layer["sources"]):
            if len(s) > AXONS:
                raise ValueError(f"layer {li} core {k} reads {len(s)} sources (a core has {AXONS} axons)")
            src[k, : len(s)] = s
        out.append(src)
    return out


def check_spec(spec: Dict[str, Any]) -> None:
    """Sources in range and, per core, neurons with fan-out copies <= 256."""
    spec = layered(spec)
    layers = spec["layers"]
    n_out = spec["classes"] * spec["per_class"]
    if layers[-1]["neurons"] != n_out:
        raise ValueError(f"the last layer has {layers[-1]['neurons']} neurons per core, not classes x per_class = {n_out}")
    n_prev = int(np.prod(spec["image_shape"]))
    srcs = layer_sources(spec)
    for li, (layer, src) in enumerate(zip(layers, srcs)):
        if layer.get("shared") and ((src >= 0) != (src[:1] >= 0)).any():
            raise ValueError(f"layer {li} is shared but its cores use different axons")
        if layer["neurons"] > AXONS:
            raise ValueError(f"layer {li} has {layer['neurons']} neurons per core (> {AXONS})")
        if src.max(initial=-1) >= n_prev:
            raise ValueError(f"layer {li} reads source {src.max()} of only {n_prev}")
        if li > 0:
            reads = np.bincount(src[src >= 0], minlength=n_prev)
            per_core = reads.reshape(-1, layers[li - 1]["neurons"]).sum(1)
            if per_core.max() > AXONS:
                raise ValueError(f"layer {li - 1} core {int(per_core.argmax())} needs {per_core.max()} neurons "
                                 f"with fan-out copies (> {AXONS})")
        n_prev = len(layer["sources"]) * layer["neurons"]


def cores_per_copy(spec: Dict[str, Any]) -> int:
    return sum(len(layer["sources"]) for layer in layered(spec)["layers"])
