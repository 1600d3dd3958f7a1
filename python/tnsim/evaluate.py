"""Evaluate a deployed network in the simulator: accuracy, speed and energy per image.

Input encoding (:class:`Spikes`, :func:`encode`): ``"stochastic"`` - in each tick each of a
copy's axons reading a pixel spikes with probability equal to the pixel's intensity in [0, 1],
drawn independently for each copy (seeded Bernoulli, NumPy PCG64; the host sends every copy its
own spikes, as it must send every copy's axons their spikes anyway); ``"stochastic-stratified"``
- the same law for each copy, but the n copies' draws of a pixel in a tick are stratified (Latin
hypercube: copy e spikes iff ``(pi_e + v_e) / n < intensity`` for a random permutation ``pi`` of
the copies and fresh uniforms ``v``), so that floor(n p) or ceil(n p) of the copies see the
spike instead of a binomial number; ``"stochastic-shared"`` -
one draw per pixel and tick, seen by all copies; ``"threshold"`` - a pixel spikes in every tick
iff its intensity is > 0.5. Independent draws let an ensemble average out the input noise as
well as the synapse sampling. Image k occupies ticks
``[k T, (k + 1) T)`` (T = ticks per image). The neurons are memoryless, so images are
pipelined: the spikes of a layer at tick t reach the next layer at t + 1, and the output spikes
of tick t + D (D = layers - 1, the metadata's ``output_delay``) are counted for the image shown
at tick t. The simulator runs in chunks of images to
bound memory; D extra ticks at the end collect the last image's outputs.

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


#: Input encodings: per-copy stochastic (the default), per-copy stochastic stratified over the
#: copies, stochastic shared by all copies, threshold.
ENCODINGS = ("stochastic", "stochastic-stratified", "stochastic-shared", "threshold")
#: The encodings that draw every copy's spikes (the others send all copies the same spikes).
PER_COPY = ("stochastic", "stochastic-stratified")
_BLOCK = 256   # images per block of the stochastic encodings' random streams


class Spikes:
    """Input spikes of images, made block by block on demand (an ensemble's per-copy spikes for
    the whole test set would not fit in memory).

    ``spikes[k0:k1]`` is bool ``(k1 - k0, T, pixels)`` (shared encodings) or ``(k1 - k0, T,
    copies, pixels)`` (per-copy encodings). The draws of image k depend only on the seed, k's
    block of 256 images and the copy (stratified: and the number of copies), never on how the
    images are sliced.
    """

    def __init__(self, images: np.ndarray, ticks_per_image: int = 1, mode: str = "stochastic", seed: int = 0,
                 copies: int = 1) -> None:
        if mode not in ENCODINGS:
            raise ValueError(f"unknown encoding {mode!r} (one of {', '.join(ENCODINGS)})")
        if ticks_per_image < 1:
            raise ValueError(f"ticks_per_image must be >= 1, got {ticks_per_image}")
        self.images = np.asarray(images, dtype=np.float32)
        if self.images.ndim != 2:
            raise ValueError(f"images must be (n, pixels), got shape {self.images.shape}")
        self.T, self.mode, self.seed = ticks_per_image, mode, seed
        self.copies = copies if mode in PER_COPY else 1
        n, npix = self.images.shape
        self.shape = (n, self.T, self.copies, npix) if mode in PER_COPY else (n, self.T, npix)

    def __len__(self) -> int:
        return self.shape[0]

    def _block(self, b: int) -> np.ndarray:
        img = self.images[b * _BLOCK:(b + 1) * _BLOCK]
        n, npix = img.shape
        if self.mode == "threshold":
            return np.broadcast_to(img[:, None, :] > 0.5, (n, self.T, npix))
        if self.mode == "stochastic-shared":
            rng = np.random.default_rng([self.seed, b])
            return rng.random((n, self.T, npix), dtype=np.float32) < img[:, None, :]
        if self.mode == "stochastic-stratified":
            return self._stratified_block(b, img)
        out = np.empty((n, self.T, self.copies, npix), bool)
        for e in range(self.copies):
            rng = np.random.default_rng([self.seed, b, e])
            out[:, :, e] = rng.random((n, self.T, npix), dtype=np.float32) < img[:, None, :]
        return out

    def _stratified_block(self, b: int, img: np.ndarray) -> np.ndarray:
        """Per-copy spikes whose copies are a Latin hypercube for every (image, tick, pixel)."""
        n, npix = img.shape
        c = self.copies
        rng = np.random.default_rng([self.seed, b, c, 1])
        # copies last while drawing: each permutation is then a contiguous run
        strata = rng.permuted(np.broadcast_to(np.arange(c, dtype=np.float32), (n, self.T, npix, c)), axis=3)
        # (pi + v) / c < p as v < c p - pi: exact for p = 1 (always spikes) in float32
        room = (np.float32(c) * img)[:, None, :, None] - strata
        spikes = rng.random(strata.shape, dtype=np.float32) < room
        return np.ascontiguousarray(spikes.transpose(0, 1, 3, 2))

    def __getitem__(self, sl: slice) -> np.ndarray:
        k0, k1, step = sl.indices(len(self))
        if step != 1:
            raise ValueError("Spikes supports contiguous slices only")
        if k1 <= k0:
            return np.zeros((0,) + self.shape[1:], bool)
        parts = [self._block(b) for b in range(k0 // _BLOCK, (k1 - 1) // _BLOCK + 1)]
        off = (k0 // _BLOCK) * _BLOCK
        return np.concatenate(parts)[k0 - off:k1 - off]


def encode(images: np.ndarray, ticks_per_image: int = 1, mode: str = "stochastic", seed: int = 0,
           copies: int = 1) -> np.ndarray:
    """float (n, pixels) in [0, 1] -> bool spikes: ``(n, T, copies, pixels)`` for the per-copy
    encodings, ``(n, T, pixels)`` for the shared ones (see :class:`Spikes`)."""
    return Spikes(images, ticks_per_image, mode, seed, copies)[:]


class InputMap:
    """(copy, pixel) -> host input rows (x, y, axon), from a deployed network's metadata."""

    def __init__(self, meta: Dict[str, Any], copies: Optional[int] = None) -> None:
        im = meta["input_map"]
        pix = np.asarray(im["pixel"], np.int64)
        x, y, ax = (np.asarray(im[k], np.int64) for k in ("x", "y", "axon"))
        if "copy" in im:
            cp = np.asarray(im["copy"], np.int64)
        else:  # files of the first form: recover each row's copy from the placement
            copy_of = {tuple(xy): e for e, pl in enumerate(meta["placement"]) for xy in pl["patch_cores"]}
            cp = np.array([copy_of[(a, b)] for a, b in zip(x.tolist(), y.tolist())], np.int64)
        if copies is not None:
            keep = cp < copies
            pix, cp, x, y, ax = pix[keep], cp[keep], x[keep], y[keep], ax[keep]
        self.npix, self.copies = int(meta["pixels"]), int(meta["copies"])
        self.pix = pix
        self.shared = self._index(pix, np.stack([x, y, ax], 1), self.npix)
        self.per_copy = self._index(cp * self.npix + pix, np.stack([x, y, ax], 1), self.copies * self.npix)

    @staticmethod
    def _index(key: np.ndarray, xyz: np.ndarray, nkeys: int) -> tuple:
        """-> (rows (n, 4) int64 with column 0 free for the tick, ordered by key; start; count)."""
        order = np.argsort(key, kind="stable")
        start = np.searchsorted(key[order], np.arange(nkeys + 1))
        table = np.zeros((len(order), 4), np.int64)
        table[:, 1:] = xyz[order]
        return table, start, np.diff(start)

    def _per_copy(self, shape: Sequence[int]) -> bool:
        """Whether spikes of this shape are per copy ((n, T, copies, pixels)) or shared."""
        if len(shape) == 3 or (len(shape) == 4 and shape[2] == 1):
            return False
        if len(shape) == 4 and shape[2] == self.copies:
            return True
        raise ValueError(f"input spikes of shape {tuple(shape)}: expected (images, ticks, pixels) "
                         f"or (images, ticks, {self.copies} copies, pixels)")

    def lines(self, shape: Sequence[int]) -> tuple:
        """Input lines (:meth:`tnsim.Simulator.set_input_lines`) for spikes of this shape:
        (starts, targets (x, y, axon)); line = pixel (shared spikes) or copy * pixels + pixel."""
        table, start, _ = self.per_copy if self._per_copy(shape) else self.shared
        return start, table[:, 1:]

    def events(self, spikes: np.ndarray, tick0: int) -> np.ndarray:
        """bool spikes -> int64 (events, 2) (tick, line) for :meth:`tnsim.Simulator.run_lines`
        on :meth:`lines`; image k tick t at tick0 + k T + t."""
        self._per_copy(spikes.shape)
        n, T = spikes.shape[:2]
        tk, line = np.nonzero(spikes.reshape(n * T, -1))
        return np.stack([tk + tick0, line], 1)

    def rows(self, spikes: np.ndarray, tick0: int) -> np.ndarray:
        """bool spikes (n, T, pixels) for all copies, or (n, T, copies, pixels) per copy ->
        int64 (rows, 4) (tick, x, y, axon); image k tick t at tick0 + k T + t: the
        :meth:`events`, each expanded to the axons of its line."""
        table, start, count = self.per_copy if self._per_copy(spikes.shape) else self.shared
        ticks, px = self.events(spikes, tick0).T
        reps = count[px]
        total = int(reps.sum())
        if total == 0:
            return np.zeros((0, 4), np.int64)
        # entry r of spike s is table row start[px[s]] + r: one repeat of (start - first output
        # index) plus a running index gives every row's table index
        first = np.cumsum(reps) - reps
        idx = np.repeat(start[px] - first, reps)
        idx += np.arange(total)
        out = table[idx]
        out[:, 0] = np.repeat(ticks, reps)
        return out


def simulate(net: Network, spikes: "np.ndarray | Spikes", chunk: Optional[int] = None, threads: int = 0,
             progress: bool = False) -> Dict[str, Any]:
    """Run a deployed network on input spikes ((n, T, pixels) for all copies or (n, T, copies,
    pixels) per copy, an array or :class:`Spikes`); -> class counts per copy and counters.

    Returns {"counts": int64 (n, copies, classes), "counters": totals, "ticks": run ticks,
    "seconds": wall time of the simulator runs}.
    """
    meta = net.metadata[META_KEY]
    copies, classes = meta["copies"], meta["classes"]
    n, T = spikes.shape[:2]
    imap = InputMap(meta)
    if chunk is None:  # about 4M axon inputs per chunk
        per_image = float(spikes[: min(n, 200)].sum()) / max(min(n, 200), 1)
        # times the mean fan-out of a pixel (shared spikes) or (copy, pixel) spike
        per_image *= len(imap.pix) / (imap.npix * (imap.copies if imap._per_copy(spikes.shape) else 1))
        chunk = int(min(2000, max(16, 4e6 / max(per_image, 1.0))))
    port_copy = np.asarray(meta["port_copy"])
    port_class = np.asarray(meta["port_class"])
    sim = Simulator(net, threads=threads)
    # one host event per (copy,) pixel spike; the engine fans it out to the axons that read it
    sim.set_input_lines(*imap.lines(spikes.shape))
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
        events = imap.events(spikes[k0:k1], k0 * T) if k1 > k0 else np.zeros((0, 2), np.int64)
        ts = time.perf_counter()
        res = sim.run_lines(end - tick, events, record_spikes=False)
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
    spikes = Spikes(images, ticks_per_image, encoding, seed, copies=meta["copies"])
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
