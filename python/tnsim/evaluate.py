"""Evaluate a deployed network in the simulator: accuracy, speed and energy per image.

Input encoding (:func:`encode`): ``"stochastic"`` - in each tick each pixel's axons spike with
probability equal to its intensity in [0, 1] (seeded Bernoulli, NumPy PCG64); ``"threshold"`` -
a pixel spikes in every tick iff its intensity is > 0.5. Image k occupies ticks
``[k T, (k + 1) T)`` (T = ticks per image). The neurons are memoryless, so images are
pipelined: layer-1 spikes of tick t reach the output cores at t + 1, and the output spikes of
tick t + 1 are counted for the image shown at tick t. The simulator runs in chunks of images to
bound memory; one extra tick at the end collects the last image's outputs.

Decision: the class with most output spikes summed over the (first E) copies; ties go to the
lowest class index among the tied classes (``numpy.argmax``), also when no neuron spiked.

Energy: SPEC.md section 7 via :func:`tnsim.energy.estimate` when that module exists, else the
local :func:`_energy_estimate` with the same formula and documented constants.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Dict, Optional, Sequence

import numpy as np

from .deploy import META_KEY
from .network import Network
from .simulator import Simulator

#: Fallback constants (joules) for the SPEC section 7 energy model, used only without tnsim.energy.
#: static: 42 mW at 0 Hz over 4096 cores (Akopyan 2015) -> 10.25 uW per core, x 1 ms per tick;
#: synaptic event: (65 - 42) mW / (1M neurons x 20 Hz x 128 synapses) = 8.6 pJ (Merolla 2014);
#: spike: 0 (folded into the synaptic figure); hop: 0.1 pJ and chip crossing: 100 pJ (assumptions).
FALLBACK_CONSTANTS = {"e_static": 42e-3 / 4096 * 1e-3, "e_syn": 8.6e-12, "e_spike": 0.0,
                      "e_hop": 0.1e-12, "e_chip": 100e-12}


def _energy_estimate(totals: Dict[str, int], cores: int, ticks: int) -> Dict[str, float]:
    c = FALLBACK_CONSTANTS
    parts = {
        "static": cores * ticks * c["e_static"],
        "synaptic": totals.get("synaptic_events", 0) * c["e_syn"],
        "spikes": totals.get("spikes_emitted", totals.get("spikes", 0)) * c["e_spike"],
        "hops": totals.get("hops", 0) * c["e_hop"],
        "chip": totals.get("chip_crossings", 0) * c["e_chip"],
    }
    parts["total"] = sum(parts.values())
    return parts


def energy_joules(totals: Dict[str, int], cores: int, ticks: int) -> tuple:
    """-> (total joules, source string). Uses tnsim.energy.estimate when available."""
    try:
        from . import energy  # type: ignore[attr-defined]

        est = energy.estimate(totals, cores, ticks)
        for key in ("total_j", "total", "energy_j", "joules"):
            if key in est:
                return float(est[key]), "tnsim.energy"
        raise KeyError("no total in tnsim.energy.estimate result")
    except (ImportError, AttributeError, KeyError, TypeError):
        return float(_energy_estimate(totals, cores, ticks)["total"]), "evaluate._energy_estimate (fallback)"


def encode(images: np.ndarray, ticks_per_image: int = 1, mode: str = "stochastic", seed: int = 0) -> np.ndarray:
    """float (n, pixels) in [0, 1] -> bool spikes (n, ticks_per_image, pixels)."""
    images = np.asarray(images, dtype=np.float32)
    n, npix = images.shape
    if mode == "stochastic":
        rng = np.random.default_rng(seed)
        return rng.random((n, ticks_per_image, npix), dtype=np.float32) < images[:, None, :]
    if mode == "threshold":
        return np.broadcast_to(images[:, None, :] > 0.5, (n, ticks_per_image, npix)).copy()
    raise ValueError(f"unknown encoding {mode!r} (stochastic or threshold)")


class InputMap:
    """pixel -> host input rows (x, y, axon), from a deployed network's metadata."""

    def __init__(self, meta: Dict[str, Any], copies: Optional[int] = None) -> None:
        im = meta["input_map"]
        pix = np.asarray(im["pixel"], np.int64)
        x, y, ax = (np.asarray(im[k], np.int64) for k in ("x", "y", "axon"))
        if copies is not None and copies < meta["copies"]:
            allowed = {tuple(xy) for pl in meta["placement"][:copies] for xy in pl["patch_cores"]}
            keep = np.array([(a, b) in allowed for a, b in zip(x, y)], bool)
            pix, x, y, ax = pix[keep], x[keep], y[keep], ax[keep]
        order = np.argsort(pix, kind="stable")
        self.pix, self.xyz = pix[order], np.stack([x[order], y[order], ax[order]], 1)
        npix = int(meta["pixels"])
        self.start = np.searchsorted(self.pix, np.arange(npix + 1))
        self.count = np.diff(self.start)

    def rows(self, spikes: np.ndarray, tick0: int) -> np.ndarray:
        """bool (n, T, pixels) -> int64 (rows, 4) (tick, x, y, axon); image k tick t at tick0 + k T + t."""
        n, T, npix = spikes.shape
        flat = spikes.reshape(n * T, npix)
        tk, px = np.nonzero(flat)
        reps = self.count[px]
        total = int(reps.sum())
        if total == 0:
            return np.zeros((0, 4), np.int64)
        ticks = np.repeat(tk + tick0, reps)
        # index of each repeated entry into the map: start[px] + 0..count-1
        offs = np.arange(total) - np.repeat(np.cumsum(reps) - reps, reps)
        idx = np.repeat(self.start[px], reps) + offs
        return np.column_stack([ticks, self.xyz[idx]]).astype(np.int64)


def simulate(net: Network, spikes: np.ndarray, chunk: Optional[int] = None, threads: int = 0,
             progress: bool = False) -> Dict[str, Any]:
    """Run a deployed network on input spikes (n, T, pixels); -> class counts per copy and counters.

    Returns {"counts": int64 (n, copies, classes), "counters": totals, "ticks": run ticks,
    "seconds": wall time of the simulator runs}.
    """
    meta = net.metadata[META_KEY]
    copies, classes = meta["copies"], meta["classes"]
    n, T, _ = spikes.shape
    imap = InputMap(meta)
    if chunk is None:  # about 2M input rows per chunk
        per_image = max(1.0, float(spikes[: min(n, 200)].sum()) / max(min(n, 200), 1)) * len(imap.pix) / imap.count.size
        chunk = int(min(2000, max(16, 2e6 / per_image)))
    port_copy = np.asarray(meta["port_copy"])
    port_class = np.asarray(meta["port_class"])
    sim = Simulator(net, threads=threads)
    counts = np.zeros((n, copies, classes), np.int64)
    totals: Dict[str, int] = {}
    delay = int(meta.get("output_delay", 1))
    total_ticks = n * T + delay
    t_sim = 0.0
    t0 = time.perf_counter()
    tick = 0
    for k0 in range(0, n + 1, chunk):
        k1 = min(n, k0 + chunk)
        end = k1 * T if k1 < n else total_ticks
        if end <= tick:
            break
        inputs = imap.rows(spikes[k0:k1], k0 * T) if k1 > k0 else np.zeros((0, 4), np.int64)
        ts = time.perf_counter()
        res = sim.run(end - tick, inputs)
        t_sim += time.perf_counter() - ts
        oc = res.output_counts                     # (ticks, ports)
        tt = np.arange(res.start_tick, res.start_tick + res.ticks)
        img = (tt - delay) // T
        ok = (tt >= delay) & (img < n)
        if ok.any():
            per = np.zeros((int(ok.sum()), copies, classes), np.int64)
            np.add.at(per, (slice(None), port_copy, port_class), oc[ok][:, :len(port_copy)])  # type: ignore[arg-type]
            np.add.at(counts, img[ok], per)
        for k, v in res.counter_totals().items():
            totals[k] = totals.get(k, 0) + int(v)
        tick = end
        if progress:
            el = time.perf_counter() - t0
            sys.stderr.write(f"\r  simulated {k1}/{n} images, {el:.1f} s, ETA {el / max(k1, 1) * (n - k1):.1f} s   ")
            sys.stderr.flush()
        if k1 >= n:
            break
    if progress:
        sys.stderr.write("\n")
    return {"counts": counts, "counters": totals, "ticks": tick, "seconds": t_sim}


def decide(counts: np.ndarray, copies: Optional[int] = None) -> np.ndarray:
    """Class decisions from (n, copies, classes) counts using the first ``copies`` copies."""
    c = counts if copies is None else counts[:, :copies]
    return np.argmax(c.sum(axis=1), axis=1)


def evaluate(net: Network, images: np.ndarray, labels: np.ndarray, ticks_per_image: int = 1,
             encoding: str = "stochastic", seed: int = 0, chunk: Optional[int] = None, threads: int = 0,
             progress: bool = False) -> Dict[str, Any]:
    """Accuracy, energy per image and speed of a deployed network on float images (n, pixels)."""
    meta = net.metadata[META_KEY]
    spikes = encode(images, ticks_per_image, encoding, seed)
    t0 = time.perf_counter()
    out = simulate(net, spikes, chunk=chunk, threads=threads, progress=progress)
    wall = time.perf_counter() - t0
    pred = decide(out["counts"])
    n = len(labels)
    energy, source = energy_joules(out["counters"], net.num_cores, out["ticks"])
    return {
        "network": meta["spec"]["name"],
        "copies": meta["copies"],
        "cores": net.num_cores,
        "images": n,
        "accuracy": float((pred == np.asarray(labels)).mean()) if n else float("nan"),
        "energy_uj_per_image": energy / max(n, 1) * 1e6,
        "energy_model": source,
        # TrueNorth runs 1000 ticks per second in real time
        "images_per_s": 1000.0 / ticks_per_image,
        "sim_images_per_s": n / wall if wall > 0 else float("inf"),
        "ticks_per_image": ticks_per_image,
        "encoding": encoding,
        "counters": out["counters"],
        "predictions": pred,
        "counts": out["counts"],
    }
