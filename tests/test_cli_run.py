"""`tnsim run` end to end: RANC files, saved networks, spike files, outputs, progress, summary."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tnsim
from compare import assert_same_results
from fuzz_ranc import ranc_config, ranc_core, ranc_doc, ranc_neuron, ranc_packet
from tnsim import cli
from tnsim import io as tio


def leaky_ranc(tmp_path: Path):
    """Output 0: leak +1, threshold 3 -> ticks 2, 5, 8, ... Output 1: driven by a packet at tick 1
    (packets[1], destination_tick 0) and one at tick 4 (packets[1], destination_tick 3)."""
    core = ranc_core((0, 0), [
        ranc_neuron(leak=1, positive_threshold=3, destination_core_offset=[1, 0], destination_axon=0),
        ranc_neuron(destination_core_offset=[1, 0], destination_axon=1),
    ], synapses=[(7, 1)])
    doc = ranc_doc([core], bus=(1, 0), num_outputs=3,
                   packets=[[], [ranc_packet((0, 0), 7), ranc_packet((0, 0), 7, 3)], [], [], [], [], [],
                            [ranc_packet((0, 0), 7, 14)]])
    (tmp_path / "in.json").write_text(json.dumps(doc))
    (tmp_path / "cfg.json").write_text(json.dumps(ranc_config(2, 1)))
    return str(tmp_path / "in.json"), str(tmp_path / "cfg.json")


def run_cli(*argv: str) -> int:
    return cli.main(["run", *argv])


def test_ranc_run_writes_ranc_layout(tmp_path, capsys):
    inp, cfg = leaky_ranc(tmp_path)
    out = tmp_path / "out.txt"
    assert run_cli(inp, "--config", cfg, "--ticks", "8", "-o", str(out)) == 0
    # 8 lines: line 0 zeros, line k = tnsim tick k - 1 for k = 1..7 (ticks 0..6); output 0 at
    # ticks 2 and 5, output 1 at ticks 1 and 4; the packet of packets[7] (tick 21) is unused.
    assert out.read_bytes() == (b"\xef\xbb\xbf" + b"0 0 0 \n" + b"0 0 0 \n" + b"0 1 0 \n" + b"1 0 0 \n"
                                + b"0 0 0 \n" + b"0 1 0 \n" + b"1 0 0 \n" + b"0 0 0 \n")
    text = capsys.readouterr().out
    assert "RANC input, grid 2 x 1, output bus (1, 0) with 3 outputs; 1 packets land at tick >= 8" in text
    assert "wrote " + str(out) + " (RANC output layout: 8 lines, line 0 zeros, then tnsim ticks 0..6)" in text
    # Any extension but .npz/.spikes gives RANC's layout for a RANC input.
    assert run_cli(inp, "--config", cfg, "--ticks", "8", "-o", str(tmp_path / "out.ranc"), "-q") == 0
    assert (tmp_path / "out.ranc").read_bytes() == out.read_bytes()
    np.testing.assert_array_equal(tio.read_ranc_output(out), _packets_raster(inp, cfg, 7))


def _packets_raster(inp, cfg, ticks):
    net, inputs = tio.read_ranc(inp, cfg)
    return tnsim.run(net, ticks, inputs[inputs[:, 0] < ticks]).output_spikes


def test_ranc_run_npz_and_record(tmp_path, capsys):
    inp, cfg = leaky_ranc(tmp_path)
    out = tmp_path / "out.npz"
    assert run_cli(inp, "--config", cfg, "--ticks", "40", "-o", str(out), "--record-spikes",
                   "--spikes-out", str(tmp_path / "spikes.txt")) == 0
    net, inputs = tio.read_ranc(inp, cfg)
    expected = tnsim.run(net, 40, inputs[inputs[:, 0] < 40])
    got = tio.load_result(out)
    assert_same_results(got, expected)  # 40 ticks: several chunks, same as one run
    np.testing.assert_array_equal(tio.load_spikes(tmp_path / "spikes.txt", "spikes"), expected.spikes)
    text = capsys.readouterr().out
    assert f"wrote {tmp_path / 'spikes.txt'} ({len(expected.spikes)} recorded spikes)" in text


def small_network(tmp_path: Path) -> str:
    net = tnsim.Network(chips=(2, 1))
    cb = np.zeros((256, 256), dtype=bool)
    cb[0, 0] = cb[1, 1] = cb[1, 2] = True
    neurons = tnsim.Neurons(weights=[2, 0, 0, 0], threshold=3, leak=[1, 0, 0] + [0] * 253,
                            output_port=[0, -1, 1] + [-1] * 253, target_axon=[-1, 5] + [-1] * 254,
                            target_dx=[0, 64] + [0] * 254, target_delay=[1, 3] + [1] * 254)
    net.add_core((0, 0), cb, neurons=neurons)
    cb2 = np.zeros((256, 256), dtype=bool)
    cb2[5, 0] = True
    net.add_core((64, 0), cb2, neurons=tnsim.Neurons(weights=[3, 0, 0, 0], threshold=3, output_port=[2] + [-1] * 255))
    net.save(tmp_path / "net.tnsim")
    return str(tmp_path / "net.tnsim")


INPUTS = np.array([[t, 0, 0, 1] for t in range(0, 60, 3)] + [[t, 0, 0, 0] for t in range(1, 60, 5)])


@pytest.mark.parametrize("inputs_name", ["in.npz", "in.txt", "in.spikes"])
def test_saved_network_with_spike_file_inputs(tmp_path, inputs_name):
    path = small_network(tmp_path)
    tio.save_spikes(tmp_path / inputs_name, INPUTS)
    assert run_cli(path, "--ticks", "60", "--inputs", str(tmp_path / inputs_name), "-o", str(tmp_path / "o.npz"),
                   "--threads", "2", "-q") == 0
    expected = tnsim.run(tnsim.load(path), 60, INPUTS, record_spikes=False)
    got = tio.load_result(tmp_path / "o.npz")
    assert got.spikes is None
    got.spikes = expected.spikes
    assert_same_results(got, expected)
    assert expected.counter_totals()["chip_crossings"] > 0 and expected.output_spikes[:, 2].any()


def test_saved_network_outputs(tmp_path):
    path = small_network(tmp_path)
    tio.save_spikes(tmp_path / "in.npz", INPUTS)
    expected = tnsim.run(tnsim.load(path), 60, INPUTS)
    base = [path, "--ticks", "60", "--inputs", str(tmp_path / "in.npz"), "-q"]
    assert run_cli(*base, "-o", str(tmp_path / "o.spikes")) == 0  # text raster
    sf = tio.read_spikes(tmp_path / "o.spikes")
    assert sf.kind == "raster"
    np.testing.assert_array_equal(sf.data, expected.output_counts)
    assert run_cli(*base, "-o", str(tmp_path / "o.txt")) == 0  # RANC layout for .txt
    np.testing.assert_array_equal(tio.read_ranc_output(tmp_path / "o.txt"), expected.output_spikes[:59])
    assert run_cli(*base, "-o", str(tmp_path / "o.out")) == 0  # a saved network: .npz by default
    assert tio.read_spikes(tmp_path / "o.out").kind == "run"
    assert run_cli(*base, "-o", str(tmp_path / "o.bin"), "--format", "ranc") == 0
    assert (tmp_path / "o.bin").read_bytes() == (tmp_path / "o.txt").read_bytes()
    assert run_cli(*base, "-o", str(tmp_path / "o.dat"), "--format", "text") == 0
    assert (tmp_path / "o.dat").read_bytes() == (tmp_path / "o.spikes").read_bytes()
    assert run_cli(*base, "--spikes-out", str(tmp_path / "s.npz")) == 0  # no -o: spikes only
    np.testing.assert_array_equal(tio.load_spikes(tmp_path / "s.npz"), expected.spikes)


def test_old_style_inputs_npz(tmp_path):
    path = small_network(tmp_path)
    np.savez(tmp_path / "old.npz", inputs=INPUTS)
    assert run_cli(path, "--ticks", "60", "--inputs", str(tmp_path / "old.npz"), "-o", str(tmp_path / "o.npz"), "-q") == 0
    np.testing.assert_array_equal(tio.load_result(tmp_path / "o.npz").output_counts,
                                  tnsim.run(tnsim.load(path), 60, INPUTS).output_counts)


def test_summary_progress_and_quiet(tmp_path, capsys):
    path = small_network(tmp_path)
    tio.save_spikes(tmp_path / "in.npz", INPUTS)
    assert run_cli(path, "--ticks", "60", "--inputs", str(tmp_path / "in.npz"), "--progress") == 0
    captured = capsys.readouterr()
    assert "100.0%  60/60 ticks" in captured.err and "ETA 0:00" in captured.err
    out = captured.out
    totals = tnsim.run(tnsim.load(path), 60, INPUTS).counter_totals()
    for name in ("synaptic_events", "spikes", "hops", "chip_crossings"):
        assert f"{name:28s} {totals[name]:>16,}" in out
    assert "energy estimate" in out and "total" in out and "mean power at 1 ms ticks" in out
    assert f"{'static (cores x ticks)':28s} {'1.230 uJ':>16}" in out  # 2 cores x 60 ticks x 10.25 nJ
    assert run_cli(path, "--ticks", "60", "--inputs", str(tmp_path / "in.npz"), "-q", "--progress") == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_on_a_terminal():
    class Tty:
        def __init__(self):
            self.text = ""

        def isatty(self):
            return True

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    stream = Tty()
    p = cli._Progress(100, forced=True, quiet=False, stream=stream)
    p.update(50)
    p.update(100)
    p.close()
    assert stream.text.startswith("\r[###############               ]  50.0%  50/100 ticks")
    assert stream.text.endswith("ETA 0:00\n") and "\r[##############################] 100.0%" in stream.text
    auto = cli._Progress(100, forced=False, quiet=False, stream=Tty())
    auto.update(100)  # a run shorter than half a second shows nothing
    assert auto.stream.text == ""


def test_zero_ticks(tmp_path):
    path = small_network(tmp_path)
    assert run_cli(path, "--ticks", "0", "-o", str(tmp_path / "o.npz"), "-q") == 0
    assert tio.load_result(tmp_path / "o.npz").output_counts.shape == (0, 3)


@pytest.mark.parametrize("make,args,message", [
    (lambda p: p.write_bytes(b"\x00garbage"), [], "neither a saved network"),
    (lambda p: p.write_bytes(b"TNSIMNET\x01\x00\x00\x00"), [], "error: "),
    (lambda p: p.write_text("{\"cores\": []}"), [], "missing key 'output_bus'"),
    (lambda p: p.write_text(json.dumps(ranc_doc([ranc_core((0, 0), [ranc_neuron(destination_tick=15)])], (1, 0), 1))),
     [], r"core \(0, 0\) neuron 0: field 'destination_tick' = 15 is refused"),
    (lambda p: p.write_text(json.dumps(ranc_doc([], (0, 0), 1))), ["--record-spikes", "-o", "x.txt"], "--spikes-out"),
    (lambda p: p.write_text(json.dumps(ranc_doc([], (0, 0), 1))), ["--inputs", "missing.npz"], "No such file"),
    (lambda p: p.write_text(json.dumps(ranc_doc([], (0, 0), 1))), ["--ticks", "-1"], "must be >= 0"),
    (lambda p: p.write_text(json.dumps(ranc_doc([], (0, 0), 1))), ["--format", "text"], "needs an output file"),
    (lambda p: p.mkdir(), [], "Is a directory"),
])
def test_errors(tmp_path, capsys, monkeypatch, make, args, message):
    p = tmp_path / "file"
    make(p)
    monkeypatch.chdir(tmp_path)
    argv = [str(p), "--ticks", "5", *args] if "--ticks" not in args else [str(p), *args]
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert re.search(message, err), err


def test_input_errors(tmp_path, capsys):
    path = small_network(tmp_path)
    tio.save_spikes(tmp_path / "late.txt", [[0, 0, 0, 0], [9, 0, 0, 1]])
    assert run_cli(path, "--ticks", "5", "--inputs", str(tmp_path / "late.txt")) == 2
    assert "inputs row 1: tick 9 is beyond the run of 5 ticks" in capsys.readouterr().err
    tio.save_spikes(tmp_path / "nocore.txt", [[0, 5, 5, 0]])
    assert run_cli(path, "--ticks", "5", "--inputs", str(tmp_path / "nocore.txt")) == 2
    assert "error: " in capsys.readouterr().err
    inp, cfg = leaky_ranc(tmp_path)
    assert run_cli(path, "--ticks", "5", "--config", cfg) == 2
    assert "--config belongs to RANC input files" in capsys.readouterr().err


def test_python_m_tnsim_run(tmp_path):
    inp, cfg = leaky_ranc(tmp_path)
    out = tmp_path / "out.txt"
    proc = subprocess.run([sys.executable, "-m", "tnsim", "run", inp, "--config", cfg, "--ticks", "8", "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # not a terminal, no --progress: no progress bar
    assert "energy estimate" in proc.stdout
    assert tio.read_ranc_output(out).shape == (7, 3)
