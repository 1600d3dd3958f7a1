"""Neuron parameters of one core (SPEC.md section 2), as numpy arrays of 256.

:class:`Neurons` only checks types and shapes and broadcasts scalars; the ranges of SPEC.md
section 2 are checked by the engine when the neurons are added to a core, so that the error can
name the core as well as the neuron and the field.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

NEURONS_PER_CORE = 256
AXONS_PER_CORE = 256
AXON_TYPES = 4

#: Field name -> (default, trailing shape, is_bool). Order is the public signature's order.
NEURON_FIELDS: Dict[str, Tuple[Any, Tuple[int, ...], bool]] = {
    "weights": (0, (AXON_TYPES,), False),
    "stochastic_weights": (False, (AXON_TYPES,), True),
    "leak": (0, (), False),
    "stochastic_leak": (False, (), True),
    "leak_reversal": (False, (), True),
    "threshold": (1, (), False),
    "negative_threshold": (0, (), False),
    "threshold_mask_bits": (0, (), False),
    "reset_value": (0, (), False),
    "reset_mode": (0, (), False),
    "negative_saturation": (True, (), True),
    "initial_potential": (0, (), False),
    "target_dx": (0, (), False),
    "target_dy": (0, (), False),
    "target_axon": (-1, (), False),
    "target_delay": (1, (), False),
    "output_port": (-1, (), False),
}


def _is_big_int_array(arr: np.ndarray) -> bool:
    """True for an object array that numpy made of Python ints too large for int64."""
    if arr.dtype != object or arr.size == 0:
        return False
    return all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in arr.ravel().tolist())


def _at(idx: Any, trailing: Tuple[int, ...], index_name: str) -> str:
    """Where a bad value sits, for messages: 'neuron 5', 'neuron 5 axon type 2', 'axon 3'."""
    idx = tuple(int(i) for i in idx)
    if len(idx) == 1 + len(trailing):
        where, rest = f"{index_name} {idx[0]}", idx[1:]
    elif len(idx) == len(trailing):
        where, rest = f"every {index_name}", idx
    else:
        return f"index {idx}"
    return where + "".join(f" axon type {i}" for i in rest)


def as_field_array(name: str, value: Any, trailing: Tuple[int, ...], is_bool: bool,
                   count: int = NEURONS_PER_CORE, index_name: str = "neuron") -> np.ndarray:
    """Convert one field to an int64 (or bool) array of shape ``(count,) + trailing``.

    Scalars and arrays of shape ``trailing`` broadcast to all neurons. Raises TypeError for a
    non-numeric dtype and ValueError (naming the field and the neuron) for a wrong shape, NaN,
    infinity, a non-integral float, a flag other than 0/1 or a value beyond int64.
    """
    arr = np.asarray(value)
    if _is_big_int_array(arr):
        raise ValueError(f"Neurons field {name!r}: value out of the int64 range")
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.integer)
        or np.issubdtype(arr.dtype, np.bool_)
        or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"Neurons field {name!r}: expected integers or booleans, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = np.argwhere(bad)[0]
            raise ValueError(f"Neurons field {name!r}: {_at(idx, trailing, index_name)}: value is {arr[tuple(idx)]} (NaN or infinite)")
        frac = arr != np.round(arr)
        if frac.any():
            idx = np.argwhere(frac)[0]
            raise ValueError(f"Neurons field {name!r}: {_at(idx, trailing, index_name)}: value is {arr[tuple(idx)]}, not an integer")
    target_shape = (count,) + trailing
    try:
        out = np.broadcast_to(arr, target_shape)
    except ValueError:
        raise ValueError(
            f"Neurons field {name!r}: shape {arr.shape} does not broadcast to {target_shape}"
        ) from None
    if is_bool:
        if not np.issubdtype(arr.dtype, np.bool_):
            bad = (out != 0) & (out != 1)
            if bad.any():
                idx = np.argwhere(bad)[0]
                raise ValueError(f"Neurons field {name!r}: {_at(idx, trailing, index_name)}: value is {out[tuple(idx)]}, expected 0/1 or a bool")
        return np.array(out, dtype=bool)
    if np.issubdtype(arr.dtype, np.floating) and np.abs(arr).max(initial=0) >= 2**62:
        raise ValueError(f"Neurons field {name!r}: value out of the int64 range")
    if np.issubdtype(arr.dtype, np.unsignedinteger) and arr.size and arr.max() >= 2**63:
        raise ValueError(f"Neurons field {name!r}: value out of the int64 range")
    return np.array(out, dtype=np.int64)


class Neurons:
    """The 256 neurons of one core: one array per parameter (SPEC.md section 2).

    Every argument is an array of 256 values (``weights`` and ``stochastic_weights``:
    ``(256, 4)``, one entry per axon type), or a scalar (or a length-4 row for those two)
    broadcast to all neurons. Integer fields become int64 arrays, flags bool arrays.

    Targets: ``target_axon = -1`` means no axon target; ``output_port >= 0`` sends the neuron's
    spikes to that host output port instead (a neuron may not have both). ``target_dx``,
    ``target_dy`` are relative core offsets in [-256, 255] and ``target_delay`` is 1..15 ticks.
    """

    __slots__ = tuple(NEURON_FIELDS)

    weights: np.ndarray
    stochastic_weights: np.ndarray
    leak: np.ndarray
    stochastic_leak: np.ndarray
    leak_reversal: np.ndarray
    threshold: np.ndarray
    negative_threshold: np.ndarray
    threshold_mask_bits: np.ndarray
    reset_value: np.ndarray
    reset_mode: np.ndarray
    negative_saturation: np.ndarray
    initial_potential: np.ndarray
    target_dx: np.ndarray
    target_dy: np.ndarray
    target_axon: np.ndarray
    target_delay: np.ndarray
    output_port: np.ndarray

    def __init__(
        self,
        weights: Any = 0,
        stochastic_weights: Any = False,
        leak: Any = 0,
        stochastic_leak: Any = False,
        leak_reversal: Any = False,
        threshold: Any = 1,
        negative_threshold: Any = 0,
        threshold_mask_bits: Any = 0,
        reset_value: Any = 0,
        reset_mode: Any = 0,
        negative_saturation: Any = True,
        initial_potential: Any = 0,
        target_dx: Any = 0,
        target_dy: Any = 0,
        target_axon: Any = -1,
        target_delay: Any = 1,
        output_port: Any = -1,
    ) -> None:
        values = locals()
        for name, (_default, trailing, is_bool) in NEURON_FIELDS.items():
            object.__setattr__(self, name, as_field_array(name, values[name], trailing, is_bool))

    def as_dict(self) -> Dict[str, np.ndarray]:
        """Field name -> array, in the order of the constructor's arguments."""
        return {name: getattr(self, name) for name in NEURON_FIELDS}

    def copy(self) -> "Neurons":
        return Neurons(**{k: v.copy() for k, v in self.as_dict().items()})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Neurons):
            return NotImplemented
        return all(np.array_equal(getattr(self, n), getattr(other, n)) for n in NEURON_FIELDS)

    def __repr__(self) -> str:
        return f"Neurons({NEURONS_PER_CORE} neurons)"
