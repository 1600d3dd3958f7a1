"""The Rust-backed simulator: run a network tick by tick and read spikes and counters."""

from __future__ import annotations

import os
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from .network import Network, _as_coord, _fits_i64
from .neurons import _is_big_int_array
from .results import COUNTER_NAMES, RunResult

assert tuple(_core.counter_names()) == COUNTER_NAMES, "counter names out of step with the engine"


def as_input_array(inputs: Any) -> np.ndarray:
    """Host input spikes as an ``(n, 4)`` int64 array of rows ``(tick, x, y, axon)``.

    ``None`` or an empty sequence gives no inputs. Raises TypeError for non-integer data and
    InputError for a wrong shape.
    """
    return int_rows(inputs, "inputs", ("tick", "x", "y", "axon"))


def int_rows(values: Any, name: str, columns: Optional[Sequence[str]]) -> np.ndarray:
    """``values`` as a contiguous int64 array of rows with these named ``columns`` (``(n,)``
    when ``columns`` is None). ``None`` or an empty sequence gives no rows; integral floats are
    accepted. Raises TypeError for non-integer data, InputError for a wrong shape, NaN,
    fractions or values beyond int64."""
    what = "values" if columns is None else f"rows ({', '.join(columns)})"
    shape = (0,) if columns is None else (0, len(columns))
    if values is None:
        return np.zeros(shape, dtype=np.int64)
    arr = np.asarray(values)
    if _is_big_int_array(arr):
        raise _core.InputError(f"{name} hold values beyond the int64 range")
    if arr.size == 0:
        return np.zeros(shape, dtype=np.int64)
    if not (np.issubdtype(arr.dtype, np.integer)):
        if np.issubdtype(arr.dtype, np.floating):
            if not np.isfinite(arr).all():
                raise _core.InputError(f"{name} contain NaN or infinite values; expected integer {what}")
            if (arr != np.round(arr)).any():
                raise _core.InputError(f"{name} contain non-integer values; expected integer {what}")
        else:
            raise TypeError(f"{name} must be an integer array of {what}, got dtype {arr.dtype}")
    if arr.shape != ((len(arr),) if columns is None else (len(arr), len(columns))):
        expected = "(n,)" if columns is None else f"(n, {len(columns)})"
        raise _core.InputError(f"{name} has shape {arr.shape}, expected {expected} {what}")
    if np.issubdtype(arr.dtype, np.unsignedinteger) and arr.max() >= 2**63:
        raise _core.InputError(f"{name} hold values beyond the int64 range")
    return np.ascontiguousarray(arr, dtype=np.int64)


def check_ticks(ticks: Any) -> int:
    if isinstance(ticks, (bool, np.bool_)) or not isinstance(ticks, (int, np.integer)):
        raise TypeError(f"ticks must be an integer, got {ticks!r}")
    if ticks < 0:
        raise _core.InputError(f"ticks = {ticks} must be >= 0")
    if not _fits_i64(int(ticks)):
        raise _core.InputError(f"ticks = {ticks} is too large; split it into several run calls")
    return int(ticks)


def check_threads(threads: Any) -> int:
    if isinstance(threads, (bool, np.bool_)) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be an integer >= 0, got {threads!r}")
    if not 0 <= threads <= 65_536:
        raise _core.InputError(f"threads = {threads} is out of range 0..=65536 (0: one per CPU)")
    return int(threads)


class Simulator:
    """Runs a :class:`tnsim.Network` tick by tick, exactly as SPEC.md says.

    The simulator starts at tick 0; each :meth:`run` continues where the last one stopped, so
    several runs equal one long run. The interpreter is released while the engine runs.

    Args:
        network: the network to simulate (copied: later changes to it are not seen).
        threads: worker threads for the cores; 0 (default) uses every CPU, 1 runs serially.
            Results never depend on it.
    """

    def __init__(self, network: Network, threads: int = 0) -> None:
        if not isinstance(network, Network):
            raise TypeError(f"Simulator needs a tnsim.Network, got {type(network).__name__}")
        self._inner = _core.Simulator(network._inner, check_threads(threads))
        self.network = network

    @property
    def tick(self) -> int:
        """The next tick to run (the number of ticks run so far)."""
        return int(self._inner.tick)

    @property
    def output_ports(self) -> int:
        return int(self._inner.output_ports)

    @property
    def threads(self) -> int:
        return int(self._inner.threads)

    @threads.setter
    def threads(self, value: int) -> None:
        self._inner.threads = check_threads(value)

    @property
    def eval_mode(self) -> str:
        """``"fast"`` (default) or ``"sequential"`` (the plain path; same results, slower)."""
        return str(self._inner.eval_mode)

    @eval_mode.setter
    def eval_mode(self, mode: str) -> None:
        self._inner.eval_mode = mode

    @property
    def isa(self) -> str:
        """Instruction set the engine's inner loops use: ``"baseline"``, ``"avx2"`` or
        ``"avx512"`` (detected at start; set a narrower one to compare; same results)."""
        return str(self._inner.isa)

    @isa.setter
    def isa(self, name: str) -> None:
        self._inner.isa = name

    def memory_bytes(self) -> int:
        """Bytes of simulation state: every core's state and the core index."""
        return int(self._inner.memory_bytes())

    def run(self, ticks: int, inputs: Any = None, record_spikes: bool = True) -> RunResult:
        """Run ``ticks`` ticks.

        Args:
            ticks: number of ticks to run.
            inputs: host input spikes, ``(n, 4)`` ints ``(tick, x, y, axon)`` with absolute
                ticks in ``[self.tick, self.tick + ticks)``; duplicates are allowed (OR).
            record_spikes: also return every neuron spike (``RunResult.spikes``).

        Raises:
            InputError: an input for a past tick, beyond this run, to a missing core or axon.
        """
        ticks = check_ticks(ticks)
        return _result(ticks, self._inner.run(ticks, as_input_array(inputs), bool(record_spikes)))

    def set_input_lines(self, starts: Any, targets: Any) -> None:
        """Define *input lines*, each a fixed fan-out of one host input to many axons: line
        ``k`` stands for the axons ``targets[starts[k]:starts[k + 1]]``.

        Then :meth:`run_lines` takes events ``(tick, line)`` instead of one row per axon: for
        an input read by many cores (a pixel of an image read by every copy of an ensemble)
        the host builds and the engine checks far fewer rows. The lines replace any set before;
        they are not part of a saved state.

        Args:
            starts: ``(n + 1,)`` ints, from 0 up to ``len(targets)``, never decreasing.
            targets: ``(m, 3)`` ints ``(x, y, axon)`` of configured cores.

        Raises:
            InputError: naming the first bad entry (the previous lines are kept).
        """
        self._inner.set_input_lines(int_rows(starts, "starts", None), int_rows(targets, "targets", ("x", "y", "axon")))

    @property
    def input_line_count(self) -> int:
        """Number of input lines defined by :meth:`set_input_lines` (0 before)."""
        return int(self._inner.input_line_count)

    def run_lines(self, ticks: int, events: Any = None, record_spikes: bool = True) -> RunResult:
        """Run ``ticks`` ticks with host input events ``(n, 2)`` ints ``(tick, line)``: each
        is a spike on every axon of that input line (:meth:`set_input_lines`) at that tick.
        Equal to :meth:`run` with those axons' rows.

        Raises:
            InputError: an event for a past tick, beyond this run, or of an undefined line.
        """
        ticks = check_ticks(ticks)
        ev = int_rows(events, "events", ("tick", "line"))
        return _result(ticks, self._inner.run_lines(ticks, ev, bool(record_spikes)))

    def run_batch(self, ticks: int, batch: Sequence[Any], record_spikes: bool = False) -> List[RunResult]:
        """Run ``ticks`` ticks once per entry of ``batch`` (each an ``inputs`` array as for
        :meth:`run`), every one from the current state, independently and in parallel (one
        simulation per thread at a time). The simulator itself does not advance. Result ``k``
        equals what ``run(ticks, batch[k])`` would return from the current state.

        Use it to push many independent stimuli (test images, trials) through one network.
        """
        ticks = check_ticks(ticks)
        arrays = [as_input_array(inputs) for inputs in batch]
        return [_result(ticks, out) for out in self._inner.run_batch(ticks, arrays, bool(record_spikes))]

    def save_state(self, path: "os.PathLike[str] | str") -> None:
        """Save the network and the dynamic state (potentials, schedulers, PRNG states, tick)
        to ``path`` (docs/file-format.md). Written to a temporary file and renamed, so an
        interrupted save never replaces a good file with a partial one."""
        self._inner.save_state(os.fspath(path))

    @classmethod
    def load_state(cls, path: "os.PathLike[str] | str", threads: int = 0) -> "Simulator":
        """A simulator resumed from a file written by :meth:`save_state`: running it gives
        exactly the spikes the saved one would have given. Raises FormatError for a corrupt,
        truncated or wrong-version file, OSError if it cannot be read."""
        inner, net = _core.Simulator.load_state(os.fspath(path), check_threads(threads))
        sim = cls.__new__(cls)
        sim._inner = inner
        sim.network = Network._wrap(net)
        return sim

    def potentials(self, xy: Tuple[int, int]) -> np.ndarray:
        """Membrane potentials of core ``xy`` now: ``(256,)`` int64."""
        x, y = _as_coord(xy)
        if not _fits_i64(x, y):
            raise _core.InputError(f"potentials: no core is configured at ({x}, {y})")
        return self._inner.potentials(x, y)

    def __repr__(self) -> str:
        return f"Simulator(tick={self.tick}, network={self.network!r})"


def _result(ticks: int, out: Tuple[Any, Any, Any, Any]) -> RunResult:
    start, counts, spikes, counters = out
    return RunResult(
        start_tick=int(start),
        ticks=ticks,
        output_spikes=counts > 0,
        output_counts=counts,
        spikes=spikes,
        counters={name: np.ascontiguousarray(counters[:, k]) for k, name in enumerate(COUNTER_NAMES)},
    )


def run(network: Network, ticks: int, inputs: Any = None, record_spikes: bool = True,
        threads: int = 0) -> RunResult:
    """Simulate ``network`` for ``ticks`` ticks from tick 0 (a one-shot :class:`Simulator`)."""
    return Simulator(network, threads=threads).run(ticks, inputs, record_spikes)


