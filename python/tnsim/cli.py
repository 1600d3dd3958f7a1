"""The ``tnsim`` command line.

Commands:
  tnsim demo        build a random multi-chip network, run it in the engine and in the NumPy
                    reference, check they agree bit for bit and print counters and speed
  tnsim info FILE   describe a saved network
  tnsim run FILE    run a saved network (inputs from an .npz file) and write its outputs
  tnsim bench       measure the engine: full chip at real time, scale, peers
  tnsim version     print the versions
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional

import numpy as np

from . import __version__, FORMAT_VERSION, SPEC_VERSION
from .network import Network, load
from .neurons import Neurons
from .reference import ReferenceSimulator
from .results import COUNTER_NAMES
from .simulator import Simulator


def _demo_network(seed: int, cores: int) -> tuple:
    """A recurrent network of `cores` cores spread over two chips, driven by host inputs."""
    rng = np.random.default_rng(seed)
    net = Network(chips=(2, 1))
    positions = [(62 + i % 4, i // 4) for i in range(cores)]
    for x, y in positions:
        tgt = rng.integers(0, cores, size=256)
        neurons = Neurons(
            weights=rng.choice([-2, -1, 1, 2, 3], size=(256, 4)),
            leak=rng.integers(-1, 2, size=256),
            threshold=rng.integers(3, 12, size=256),
            reset_mode=rng.integers(0, 3, size=256),
            negative_threshold=20,
            stochastic_leak=rng.random(256) < 0.2,
            target_dx=[positions[t][0] - x for t in tgt],
            target_dy=[positions[t][1] - y for t in tgt],
            target_axon=rng.integers(0, 256, size=256),
            target_delay=rng.integers(1, 16, size=256),
        )
        net.add_core((x, y), crossbar=rng.random((256, 256)) < 0.05,
                     axon_types=rng.integers(0, 4, size=256), neurons=neurons, seed=int(rng.integers(1, 2**32)))
    return net, positions, rng


def cmd_demo(args: argparse.Namespace) -> int:
    net, positions, rng = _demo_network(args.seed, args.cores)
    hits = np.argwhere(rng.random((args.ticks, len(positions), 256)) < 0.02)
    inputs = np.column_stack([hits[:, 0], [positions[c][0] for c in hits[:, 1]],
                              [positions[c][1] for c in hits[:, 1]], hits[:, 2]])
    print(f"tnsim {__version__}: {net.num_cores} cores on {net.chips[0]}x{net.chips[1]} chips, "
          f"{args.ticks} ticks, {len(inputs)} host input spikes")
    t0 = time.perf_counter()
    res = Simulator(net).run(args.ticks, inputs)
    t_engine = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = ReferenceSimulator(net).run(args.ticks, inputs)
    t_ref = time.perf_counter() - t0
    same = (np.array_equal(res.spikes, ref.spikes)
            and all(np.array_equal(res.counters[n], ref.counters[n]) for n in COUNTER_NAMES))
    print(f"engine    {t_engine * 1e3:9.1f} ms  ({args.ticks / t_engine:,.0f} ticks/s)")
    print(f"reference {t_ref * 1e3:9.1f} ms  ({t_ref / t_engine:,.0f}x slower)")
    print("counters (totals):")
    for name, value in res.counter_totals().items():
        print(f"  {name:28s} {value:>12,}")
    print("engine and reference agree bit for bit" if same else "MISMATCH between engine and reference")
    return 0 if same else 1


def cmd_info(args: argparse.Namespace) -> int:
    net = load(args.file)
    print(f"{args.file}: {net!r}")
    print(f"  grid {net.grid[0]}x{net.grid[1]} cores, {net.num_cores} configured")
    if net.metadata:
        print(f"  metadata keys: {', '.join(sorted(net.metadata))}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    net = load(args.file)
    inputs = None
    if args.inputs:
        with np.load(args.inputs) as f:
            if "inputs" not in f:
                print(f"error: {args.inputs} has no array named 'inputs' (rows tick, x, y, axon)", file=sys.stderr)
                return 2
            inputs = f["inputs"]
    res = Simulator(net, threads=args.threads).run(args.ticks, inputs, record_spikes=args.record_spikes)
    arrays = {"output_spikes": res.output_spikes, "output_counts": res.output_counts}
    arrays.update({f"counter_{k}": v for k, v in res.counters.items()})
    if res.spikes is not None:
        arrays["spikes"] = res.spikes
    np.savez_compressed(args.output, **arrays)
    for name, value in res.counter_totals().items():
        print(f"{name:28s} {value:>12,}")
    print(f"wrote {args.output}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    return bench_main(out_json=args.json, quick=args.quick)


def cmd_version(_args: argparse.Namespace) -> int:
    print(f"tnsim {__version__} (semantics SPEC version {SPEC_VERSION}, network file format {FORMAT_VERSION})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tnsim", description="Bit-exact TrueNorth simulator.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="run a random network in the engine and the reference and compare")
    d.add_argument("--ticks", type=int, default=200)
    d.add_argument("--cores", type=int, default=8)
    d.add_argument("--seed", type=int, default=1)
    d.set_defaults(func=cmd_demo)
    i = sub.add_parser("info", help="describe a saved network")
    i.add_argument("file")
    i.set_defaults(func=cmd_info)
    r = sub.add_parser("run", help="run a saved network")
    r.add_argument("file")
    r.add_argument("--ticks", type=int, required=True)
    r.add_argument("--inputs", help=".npz file with an 'inputs' array of rows (tick, x, y, axon)")
    r.add_argument("-o", "--output", required=True, help="output .npz file")
    r.add_argument("--threads", type=int, default=0)
    r.add_argument("--record-spikes", action="store_true")
    r.set_defaults(func=cmd_run)
    b = sub.add_parser("bench", help="measure the engine (full chip at real time, scale, peers)")
    b.add_argument("--quick", action="store_true", help="fewer ticks and chips (about a minute)")
    b.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    b.set_defaults(func=cmd_bench)
    v = sub.add_parser("version", help="print versions")
    v.set_defaults(func=cmd_version)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
