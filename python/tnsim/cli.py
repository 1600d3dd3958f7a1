"""The ``tnsim`` command line.

Commands:
  tnsim demo        build a random multi-chip network, run it in the engine and in the NumPy
                    reference, check they agree bit for bit and print counters and speed
  tnsim info FILE   describe a saved network
  tnsim run FILE    run a saved network or a RANC input file (inputs from spike files) and write
                    its outputs (.npz, RANC's output layout or a text raster), with progress and an
                    energy estimate
  tnsim bench       measure the engine: full chip at real time, scale, peers
  tnsim train       train a probabilistic core network (torch); tnsim deploy: sample an ensemble
  tnsim eval FILE   evaluate a deployed network in the simulator (accuracy, energy, speed)
  tnsim reproduce   train, deploy ensembles 1..64, evaluate, compare with Esser et al. 2015
  tnsim version     print the versions
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional

import numpy as np

from . import __version__, FORMAT_VERSION, SPEC_VERSION
from ._core import FormatError, InputError
from .network import Network, load
from .neurons import Neurons
from .reference import ReferenceSimulator
from .results import COUNTER_NAMES, RunResult
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
    same = (res.spikes is not None and ref.spikes is not None and np.array_equal(res.spikes, ref.spikes)
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


# --- tnsim run ----------------------------------------------------------------------------


def _source_kind(path: str) -> str:
    """``"native"`` (a saved network) or ``"ranc"`` (a RANC input JSON), from the content."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"TNSIMNET"):
        return "native"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "ranc"
    ext = os.path.splitext(path)[1].lower()
    if ext in (".json", ".tnsim"):
        return "ranc" if ext == ".json" else "native"
    raise FormatError(f"{path}: neither a saved network (.tnsim) nor a RANC input (a JSON object)")


def _output_form(args: argparse.Namespace, source: str) -> str:
    if args.format:
        return str(args.format)
    if args.output is None:
        return "none"
    ext = os.path.splitext(args.output)[1].lower()
    if ext == ".npz":
        return "npz"
    if ext == ".txt":
        return "ranc"
    if ext == ".spikes":
        return "text"
    return "ranc" if source == "ranc" else "npz"


def _hms(seconds: float) -> str:
    seconds = int(round(max(seconds, 0.0)))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class _Progress:
    """A text progress bar with an ETA on stderr: shown when asked (``--progress``), or on a
    terminal once a run has taken over half a second; never inside the engine's tick loop."""

    def __init__(self, total: int, forced: bool, quiet: bool, stream=None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = total
        self.forced = forced and not quiet
        self.auto = self.tty and not quiet and not forced
        self.start = time.perf_counter()
        self.last = float("-inf")
        self.shown = False

    def update(self, done: int) -> None:
        now = time.perf_counter()
        final = done >= self.total
        if not (self.forced or (self.auto and now - self.start > 0.5)):
            return
        if not final and now - self.last < (0.1 if self.tty else 1.0):
            return
        self.last = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        frac = done / self.total if self.total else 1.0
        bar = "#" * int(30 * frac)
        line = (f"[{bar:<30}] {100 * frac:5.1f}%  {done:,}/{self.total:,} ticks  {rate:,.0f} ticks/s  "
                f"ETA {_hms(eta)}")
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _run_chunked(sim: Simulator, ticks: int, inputs: np.ndarray, record: bool, progress: _Progress) -> RunResult:
    """Run ``ticks`` ticks in chunks of about 0.2 s (several runs equal one long run)."""
    inputs = inputs[np.argsort(inputs[:, 0], kind="stable")]
    tick_col = inputs[:, 0]
    parts: List[RunResult] = []
    done, chunk = 0, 16
    while True:
        n = min(chunk, ticks - done)
        lo, hi = np.searchsorted(tick_col, [done, done + n])
        t0 = time.perf_counter()
        parts.append(sim.run(n, inputs[lo:hi], record_spikes=record))
        dt = time.perf_counter() - t0
        done += n
        progress.update(done)
        if done >= ticks:
            break
        chunk = int(min(max(1, n * 0.2 / max(dt, 1e-6)), 4 * n, 1 << 20))
    if len(parts) == 1:
        return parts[0]
    return RunResult(
        start_tick=parts[0].start_tick,
        ticks=ticks,
        output_spikes=np.concatenate([p.output_spikes for p in parts]),
        output_counts=np.concatenate([p.output_counts for p in parts]),
        spikes=np.concatenate([p.spikes for p in parts]) if record else None,  # type: ignore[misc]
        counters={name: np.concatenate([p.counters[name] for p in parts]) for name in parts[0].counters},
    )


def _joules(value: float) -> str:
    for scale, unit in ((1.0, "J"), (1e-3, "mJ"), (1e-6, "uJ"), (1e-9, "nJ"), (1e-12, "pJ")):
        if abs(value) >= scale:
            return f"{value / scale:,.3f} {unit}"
    return f"{value / 1e-15:,.3f} fJ" if value else "0 J"


def cmd_run(args: argparse.Namespace) -> int:
    from . import energy, io as tio

    if args.ticks < 0:
        raise InputError(f"--ticks {args.ticks} must be >= 0")
    if args.format and not args.output:
        raise InputError(f"--format {args.format} needs an output file (-o OUT)")
    source = _source_kind(args.file)
    form = _output_form(args, source)
    record = bool(args.record_spikes or args.spikes_out)
    if args.record_spikes and form != "npz" and not args.spikes_out:
        raise InputError("--record-spikes stores the spikes in an .npz output; with another output use "
                         "--spikes-out FILE")
    say = (lambda *a: None) if args.quiet else print
    ranc_note = ""
    if source == "ranc":
        net, inputs = tio.read_ranc(args.file, args.config)
        late = int((inputs[:, 0] >= args.ticks).sum())
        inputs = inputs[inputs[:, 0] < args.ticks]  # RANC never integrates those within the run either
        meta = net.metadata.get("ranc", {})
        ranc_note = (f"RANC input, grid {meta.get('grid', ['?', '?'])[0]} x {meta.get('grid', ['?', '?'])[1]}, "
                     f"output bus {tuple(meta.get('output_bus', ()))} with {net.output_ports} outputs")
        if late:
            ranc_note += f"; {late} packets land at tick >= {args.ticks} and are not used"
    else:
        if args.config:
            raise InputError("--config belongs to RANC input files; FILE is a saved network")
        net = load(args.file)
        inputs = np.zeros((0, 4), dtype=np.int64)
    if args.inputs:
        extra = tio.load_spikes(args.inputs, "inputs")
        outside = np.flatnonzero(extra[:, 0] >= args.ticks)
        if outside.size:
            r = int(outside[0])
            raise InputError(f"{args.inputs}: inputs row {r}: tick {int(extra[r, 0])} is beyond the run "
                             f"of {args.ticks} ticks (0..={args.ticks - 1})")
        inputs = np.concatenate([inputs, extra])

    say(f"tnsim run: {args.file}: {net.num_cores} cores, {net.output_ports} output ports"
        + (f" ({ranc_note})" if ranc_note else "") + f", {len(inputs):,} input spikes")
    sim = Simulator(net, threads=args.threads)
    progress = _Progress(args.ticks, forced=args.progress, quiet=args.quiet)
    t0 = time.perf_counter()
    try:
        res = _run_chunked(sim, args.ticks, inputs, record, progress)
    finally:
        progress.close()
    elapsed = time.perf_counter() - t0

    if form == "npz":
        tio.save_result(args.output, res)
    elif form == "ranc":
        tio.write_ranc_output(args.output, res.output_spikes[:max(args.ticks - 1, 0)])
    elif form == "text":
        tio.save_spikes(args.output, res.output_counts, "raster", format="text")
    if args.spikes_out:
        tio.save_spikes(args.spikes_out, res.spikes, "spikes")

    totals = res.counter_totals()
    rate = f" ({args.ticks / elapsed:,.0f} ticks/s)" if elapsed > 0 and args.ticks else ""
    say(f"ran {args.ticks:,} ticks in {elapsed:.3f} s{rate}")
    say("counters (totals):")
    for name, value in totals.items():
        say(f"  {name:28s} {value:>16,}")
    est = energy.estimate(totals, net.num_cores, args.ticks)
    say("energy estimate (SPEC.md section 7; constants and assumptions in docs/energy.md):")
    for key, label in (("static_j", "static (cores x ticks)"), ("synaptic_j", "synaptic events"),
                       ("spike_j", "spikes"), ("hop_j", "hops"), ("chip_j", "chip crossings"),
                       ("total_j", "total")):
        say(f"  {label:28s} {_joules(est[key]):>16}")
    say(f"  {'mean power at 1 ms ticks':28s} {est['mean_power_w'] * 1e3:>13,.3f} mW")
    if form == "ranc":
        say(f"wrote {args.output} (RANC output layout: {args.ticks} lines, line 0 zeros, then tnsim ticks "
            f"0..{args.ticks - 2})")
    elif form != "none":
        say(f"wrote {args.output} ({'run .npz' if form == 'npz' else 'text raster'})")
    if args.spikes_out:
        say(f"wrote {args.spikes_out} ({0 if res.spikes is None else len(res.spikes):,} recorded spikes)")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    return bench_main(out_json=args.json, quick=args.quick, large=args.large)


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
    r = sub.add_parser("run", help="run a saved network or a RANC input file",
                       description="Run FILE (a saved .tnsim network or a RANC input JSON, detected from the "
                                   "content) for --ticks ticks and write the output raster.")
    r.add_argument("file", help="a saved network (.tnsim) or a RANC input JSON")
    r.add_argument("--config", help="the RANC config JSON (RANC input only; default: TrueNorth-sized cores, "
                                    "neuron_reset_type 0)")
    r.add_argument("--ticks", type=int, required=True, help="ticks to run")
    r.add_argument("--inputs", help="spike file of host inputs, rows (tick, x, y, axon): .npz or text "
                                    "(docs/spike-files.md); added to a RANC file's packets")
    r.add_argument("-o", "--output", help="output file: .npz (outputs, counters, spikes), .txt (RANC's output "
                                          "layout, the default for a RANC input), .spikes (text raster)")
    r.add_argument("--format", choices=("npz", "ranc", "text"), help="output form, instead of the extension's")
    r.add_argument("--record-spikes", action="store_true", help="record every neuron spike into the .npz output")
    r.add_argument("--spikes-out", metavar="FILE", help="record every neuron spike into this spike file")
    r.add_argument("--threads", type=int, default=0, help="worker threads (0: every CPU; results never differ)")
    r.add_argument("--progress", action="store_true", help="show progress with an ETA (default: on a terminal, "
                                                           "for runs over half a second)")
    r.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    r.set_defaults(func=cmd_run)
    b = sub.add_parser("bench", help="measure the engine (full chip at real time, scale, peers)")
    b.add_argument("--quick", action="store_true", help="fewer ticks and chips (about 20 seconds)")
    b.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    b.add_argument("--large", action="store_true", help="scale sizes up to 32 chips (8 x 4; about 3 more "
                                                       "minutes and 8 GB of memory)")
    b.set_defaults(func=cmd_bench)
    from .reproduce import add_pipeline_commands  # train, deploy, eval, reproduce (Esser et al. 2015)

    add_pipeline_commands(sub)
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
