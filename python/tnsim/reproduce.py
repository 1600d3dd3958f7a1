"""Reproduce Esser et al. (NIPS 2015) end to end: train, deploy ensembles, evaluate in the simulator.

``tnsim reproduce --out DIR`` trains the networks named by ``--networks`` (the paper-sized 5-core
network and larger ones), deploys ensembles of 1, 4, 16 and 64 copies, evaluates them in the
simulator on the MNIST test set and writes ``DIR/results.json`` (one row per network and
ensemble size) and ``DIR/results.md``; plots go to ``DIR/`` when matplotlib is installed.
``--quick`` is a reduced run (fewer epochs, part of the test set) that finishes in a few minutes
on two CPU cores. ``--models N`` trains N models per network (seeds seed..seed+N-1) and a
network entry ``a+b`` is one ensemble taking its copies in turn from a's and b's models.
Finished checkpoints of the same configuration in DIR are reused, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .deploy import SAMPLINGS
from .evaluate import ENCODINGS
from .specs import SPECS

#: The paper's figures (Esser et al. 2015, abstract): ensemble size -> (accuracy %, uJ per image).
PAPER = {1: (92.7, 0.268), 64: (99.42, 108.0)}

#: deep's affine recipe (results.md, "Affine augmentation"), which deepwide shares.
_DEEP_AFFINE: Dict[str, Any] = {"epochs": 30, "lr": 0.01, "beta": 0.06, "shift": 2, "rotate": 12.0, "scale": 0.1}

#: Training settings per network (full run, quick run).
SETTINGS: Dict[str, Dict[str, Dict[str, Any]]] = {
    "5core": {"full": {"epochs": 40, "lr": 0.02, "beta": 0.3, "shift": 1},
              "quick": {"epochs": 8, "lr": 0.02, "beta": 0.3, "shift": 1}},
    "large": {"full": {"epochs": 30, "lr": 0.01, "beta": 0.1, "shift": 2},
              "quick": {"epochs": 2, "lr": 0.01, "beta": 0.1, "shift": 2}},
    # deep's full recipe adds elastic distortion (docs/results.md, sixth session); quick stays affine
    "deep": {"full": dict(_DEEP_AFFINE, elastic=36.0, elastic_sigma=6.0), "quick": dict(_DEEP_AFFINE, epochs=1)},
    "deepwide": {"full": dict(_DEEP_AFFINE), "quick": dict(_DEEP_AFFINE, epochs=1)},
    "conv": {"full": {"epochs": 40, "lr": 0.01, "beta": 0.06, "shift": 2},
             "quick": {"epochs": 1, "lr": 0.01, "beta": 0.06, "shift": 2}},
    "conv2": {"full": {"epochs": 40, "lr": 0.01, "beta": 0.06, "shift": 2},
              "quick": {"epochs": 1, "lr": 0.01, "beta": 0.06, "shift": 2}},
    "wide": {"full": {"epochs": 25, "lr": 0.01, "beta": 0.06, "shift": 2},
             "quick": {"epochs": 1, "lr": 0.01, "beta": 0.06, "shift": 2}},
}


def _reusable(path: Path, cfg: Any) -> Optional[Dict[str, Any]]:
    """The checkpoint at ``path`` when it is a finished one of exactly this training
    configuration (training is deterministic), else None."""
    if not path.is_file():
        return None
    import torch

    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # noqa: BLE001 - an unreadable file is simply retrained
        return None
    # fields added since the checkpoint was written take their defaults
    saved = dict(asdict(cfg), **ck.get("config", {}))
    return ck if saved == asdict(cfg) and len(ck.get("history", [])) == cfg.epochs else None


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def format_table(rows: Sequence[Dict[str, Any]]) -> str:
    head = ("| network | copies | cores | test images | accuracy % | energy uJ/image | images/s | ticks/image "
            "| paper accuracy % | paper uJ/image |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        pa, pe = PAPER.get(r["copies"], (None, None))
        lines.append(f"| {r['network']} | {r['copies']} | {r['cores']} | {r['images']} | {100 * r['accuracy']:.2f} "
                     f"| {r['energy_uj_per_image']:.3f} | {r['images_per_s']:.0f} | {r['ticks_per_image']} "
                     f"| {'' if pa is None else pa} | {'' if pe is None else pe} |")
    return "\n".join(lines)


def run(out: "str | Path", data_dir: Optional[str] = None, quick: bool = False, download: bool = True,
        networks: Sequence[str] = ("5core", "large"), copies: Sequence[int] = (1, 4, 16, 64),
        epochs: Optional[int] = None, test_subset: Optional[int] = None, train_subset: int = 0,
        ticks_per_image: int = 1, encoding: str = "stochastic", seed: int = 0, dataset: str = "mnist",
        threads: int = 1, models: int = 1, views: int = 1, sampling: str = "stratified") -> List[Dict[str, Any]]:
    """Train, deploy and evaluate each entry of ``networks``: a network name, or names joined by
    ``+`` for an ensemble that takes its copies in turn from those networks' models. ``models``
    trained models per network (seeds ``seed``, ``seed + 1``, ...) share each ensemble the same
    way. ``views``: copy e of an ensemble reads the image shifted by ``deploy.VIEW_SHIFTS[e %
    views]`` (1: every copy reads it as it is). ``sampling``: how the copies of a model draw
    their synapses (``deploy.SAMPLINGS``). A finished checkpoint in ``out`` of exactly the
    same training configuration is reused."""
    from . import data, deploy, evaluate
    from .train import TrainConfig, expected_accuracy, train
    from .train.trainer import from_checkpoint

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    ds = data.load(dataset, data_dir, download_missing=download)
    x_train, y_train = data.to_float(ds.train_images), ds.train_labels.astype(np.int64)
    x_test, y_test = data.to_float(ds.test_images), ds.test_labels.astype(np.int64)
    if test_subset is None and quick:
        test_subset = 2000
    if test_subset:
        x_test, y_test = x_test[:test_subset], y_test[:test_subset]
    trained: Dict[str, List[Dict[str, Any]]] = {}   # network -> [{"model", "seconds", "expected", "epochs"}]

    def get_models(name: str) -> List[Dict[str, Any]]:
        if name in trained:
            return trained[name]
        if name not in SETTINGS:
            raise ValueError(f"unknown network {name!r}; known: {', '.join(SETTINGS)}")
        trained[name] = []
        for m in range(models):
            conf = dict(SETTINGS[name]["quick" if quick else "full"])
            if epochs is not None:
                conf["epochs"] = epochs
            cfg = TrainConfig(network=name, seed=seed + m, threads=threads, train_subset=train_subset, **conf)
            ckpt = out / (f"{name}.pt" if m == 0 else f"{name}_seed{seed + m}.pt")
            t0 = time.perf_counter()
            finished = _reusable(ckpt, cfg)
            if finished is not None:
                _log(f"== {name}: reusing the finished checkpoint {ckpt} (same configuration)")
                model, _, history = from_checkpoint(finished)
                train_s = float(history[-1].get("seconds", 0.0))
            else:
                _log(f"== train {name}: {asdict(cfg)}")
                model, history = train(cfg, x_train, y_train, checkpoint=ckpt)
                train_s = time.perf_counter() - t0
            exp_acc = expected_accuracy(model, x_test, y_test)
            _log(f"   {name} seed {seed + m}: trained in {train_s:.0f} s; expected-count test accuracy "
                 f"{100 * exp_acc:.2f} %")
            trained[name].append({"model": model, "seconds": train_s, "expected": exp_acc, "epochs": cfg.epochs})
        return trained[name]

    rows: List[Dict[str, Any]] = []
    for entry in networks:
        parts = [p for p in entry.split("+") if p]
        per_part = [get_models(p) for p in parts]
        # copies in turn: network by network, then model by model
        pool = [t for m in range(models) for ts in per_part for t in ts[m:m + 1]]
        label = "+".join(parts) + (f" ({models} models each)" if models > 1 else "")
        label += f" ({views} views)" if views > 1 else ""
        for e in copies:
            net, _ = deploy.deploy([t["model"] for t in pool], e, seed=seed + 1, views=views, sampling=sampling,
                                   encoding={"mode": encoding, "ticks_per_image": ticks_per_image})
            path = out / f"{entry.replace('+', '_')}_x{e}.tnsim"
            net.save(path)
            res = evaluate.evaluate(net, x_test, y_test, ticks_per_image=ticks_per_image,
                                    encoding=encoding, seed=seed + 2, progress=True)
            row = {k: res[k] for k in ("copies", "cores", "images", "accuracy",
                                       "energy_uj_per_image", "images_per_s", "sim_images_per_s",
                                       "ticks_per_image", "encoding", "energy_model")}
            row.update({"network": label, "models": len(pool), "views": views, "sampling": sampling,
                        "train_seconds": round(sum(t["seconds"] for t in pool), 1),
                        "epochs": [t["epochs"] for t in pool] if len(pool) > 1 else pool[0]["epochs"],
                        "expected_accuracy": [t["expected"] for t in pool] if len(pool) > 1 else pool[0]["expected"],
                        "file": path.name})
            rows.append(row)
            _log(f"   {label} x{e}: {res['cores']} cores, accuracy {100 * res['accuracy']:.2f} %, "
                 f"{res['energy_uj_per_image']:.3f} uJ/image, simulator {res['sim_images_per_s']:.0f} images/s")
            (out / "results.json").write_text(json.dumps(rows, indent=1))
    table = format_table(rows)
    (out / "results.md").write_text(table + "\n")
    print(table)
    print(f"(paper, Esser et al. 2015: 1 copy 92.7 % at 0.268 uJ/image; 64 copies 99.42 % at 108 uJ/image)")
    print(f"total {time.perf_counter() - t_start:.0f} s; wrote {out / 'results.json'}")
    try:
        from . import plots

        plots.plot_results(rows, out)
    except ImportError as e:
        _log(f"plots skipped: {e}")
    return rows


# ----------------------------------------------------------------------------------------------
# Command-line subcommands (registered by tnsim.cli): train, deploy, eval, reproduce.

def _add_data_args(p: Any) -> None:
    p.add_argument("--dataset", default="mnist", help="IDX data set name (mnist, fashion-mnist)")
    p.add_argument("--data-dir", default=None,
                   help="folder holding <dataset>/ (default: $TNSIM_DATA, else ~/.cache/tnsim)")
    p.add_argument("--no-download", action="store_true", help="never download missing files")


def _load_data(args: Any) -> Any:
    from . import data

    return data.load(args.dataset, args.data_dir, download_missing=not args.no_download)


def _test_set(args: Any) -> Tuple[np.ndarray, np.ndarray]:
    """The test images as float (n, pixels) in [0, 1] and their labels, cut to ``--test-subset``."""
    from . import data

    ds = _load_data(args)
    x, y = data.to_float(ds.test_images), ds.test_labels.astype(np.int64)
    if args.test_subset:
        x, y = x[: args.test_subset], y[: args.test_subset]
    return x, y


def cmd_train(args: Any) -> int:
    from . import data
    from .train import TrainConfig, expected_accuracy, train

    cfg = TrainConfig(network=args.network, epochs=args.epochs, batch_size=args.batch_size,
                      optimizer=args.optimizer, lr=args.lr, lr_decay=args.lr_decay, dropout=args.dropout,
                      beta=args.beta, seed=args.seed, threads=args.threads, train_subset=args.train_subset,
                      shift=args.shift, rotate=args.rotate, scale=args.scale, elastic=args.elastic,
                      elastic_sigma=args.elastic_sigma, device=args.device)
    cfg.validate()  # before reading (or downloading) MNIST
    ds = _load_data(args)
    x, y = data.to_float(ds.train_images), ds.train_labels.astype(np.int64)
    xt, yt = data.to_float(ds.test_images), ds.test_labels.astype(np.int64)
    t0 = time.perf_counter()
    model, _ = train(cfg, x, y, checkpoint=args.output)
    print(f"trained {args.network} in {time.perf_counter() - t0:.0f} s; expected-count test accuracy "
          f"{100 * expected_accuracy(model, xt, yt):.2f} %; wrote {args.output}")
    return 0


def cmd_deploy(args: Any) -> int:
    from . import deploy
    from .train.trainer import load_checkpoint

    models = [load_checkpoint(c)[0] for c in args.checkpoint]
    try:
        net, _ = deploy.deploy(models, args.copies, seed=args.seed, views=args.views, sampling=args.sampling,
                               encoding={"mode": args.encoding, "ticks_per_image": args.ticks_per_image})
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    net.save(args.output)
    src = f"{len(models)} models of " if len(models) > 1 else ""
    print(f"deployed {args.copies} copies of {src}{models[0].spec['name']}: {net.num_cores} cores on "
          f"{net.chips[0]}x{net.chips[1]} chips, {net.output_ports} output ports; wrote {args.output}")
    return 0


def cmd_expect(args: Any) -> int:
    from .train.trainer import ensemble_expected_counts, load_checkpoint

    models = [load_checkpoint(c)[0] for c in args.checkpoint]
    x, y = _test_set(args)
    try:
        counts = ensemble_expected_counts(models, x, copies=args.copies, views=args.views)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    row = {"models": len(models), "copies": args.copies, "views": args.views, "images": len(y),
           "expected_accuracy": float((counts.argmax(1) == y).mean())}
    print(json.dumps(row, indent=1))
    return 0


def cmd_eval(args: Any) -> int:
    from . import evaluate
    from .deploy import META_KEY
    from .network import load

    net = load(args.file)
    if META_KEY not in net.metadata:
        print(f"error: {args.file} is not a deployed classifier (no '{META_KEY}' metadata)", file=sys.stderr)
        return 2
    enc = net.metadata[META_KEY].get("encoding", {})
    x, y = _test_set(args)
    tpi = args.ticks_per_image or enc.get("ticks_per_image", 1)
    mode = args.encoding or enc.get("mode", "stochastic")
    res = evaluate.evaluate(net, x, y, ticks_per_image=tpi, encoding=mode, seed=args.seed,
                            threads=args.threads, progress=True)
    row = {k: res[k] for k in ("network", "copies", "cores", "images", "accuracy", "energy_uj_per_image",
                               "images_per_s", "sim_images_per_s", "ticks_per_image", "encoding", "energy_model")}
    print(json.dumps(row, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=1))
    return 0


def cmd_reproduce(args: Any) -> int:
    run(args.out, data_dir=args.data_dir, quick=args.quick, download=not args.no_download,
        networks=args.networks.split(","), copies=[int(c) for c in args.copies.split(",")],
        epochs=args.epochs, test_subset=args.test_subset, train_subset=args.train_subset,
        ticks_per_image=args.ticks_per_image, encoding=args.encoding, seed=args.seed,
        dataset=args.dataset, threads=args.threads, models=args.models, views=args.views,
        sampling=args.sampling)
    return 0


_SAMPLING_HELP = ("how the copies of a model draw their synapses: stratified (Latin hypercube over the copies: "
                  "the ensemble's mean crossbar follows the probabilities to 1/copies) or independent")


def add_pipeline_commands(sub: Any) -> None:
    """Register ``train``, ``deploy``, ``eval`` and ``reproduce`` on an argparse subparsers object."""
    t = sub.add_parser("train", help="train a probabilistic core network (needs torch)")
    _add_data_args(t)
    t.add_argument("--network", default="5core", choices=list(SPECS))
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument("--batch-size", type=int, default=100)
    t.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    t.add_argument("--lr", type=float, default=0.01)
    t.add_argument("--lr-decay", default="cosine", choices=["cosine", "step", "none"])
    t.add_argument("--dropout", type=float, default=0.0)
    t.add_argument("--beta", type=float, default=0.2, help="inverse temperature on expected class counts")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1, help="torch threads")
    t.add_argument("--train-subset", type=int, default=0)
    t.add_argument("--shift", type=int, default=0, help="augment: random translation by up to +-N pixels")
    t.add_argument("--rotate", type=float, default=0.0, help="augment: random rotation by up to +-D degrees")
    t.add_argument("--scale", type=float, default=0.0, help="augment: random scaling by a factor in 1 +- S")
    t.add_argument("--elastic", type=float, default=0.0, metavar="ALPHA",
                   help="augment: elastic distortion of strength ALPHA pixels (Simard et al.: 34; 0: none)")
    t.add_argument("--elastic-sigma", type=float, default=4.0, metavar="SIGMA",
                   help="smoothness of the elastic displacement field, pixels (default 4)")
    t.add_argument("--device", default="cpu", help="torch device to train on (cpu, cuda)")
    t.add_argument("-o", "--output", default="model.pt", help="checkpoint file")
    t.set_defaults(func=cmd_train)
    d = sub.add_parser("deploy", help="sample an ensemble from a checkpoint into a network file")
    d.add_argument("checkpoint", nargs="+", help="one checkpoint, or several of one network (copies taken in turn)")
    d.add_argument("--copies", type=int, default=1)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--ticks-per-image", type=int, default=1)
    d.add_argument("--encoding", default="stochastic", choices=list(ENCODINGS))
    d.add_argument("--views", type=int, default=1,
                   help="copy e reads the image shifted by VIEW_SHIFTS[e %% N] (1..9; 1: unshifted)")
    d.add_argument("--sampling", default="stratified", choices=list(SAMPLINGS),
                   help=_SAMPLING_HELP)
    d.add_argument("-o", "--output", default="model.tnsim")
    d.set_defaults(func=cmd_deploy)
    x = sub.add_parser("expect", help="expected-count test accuracy of an ensemble layout, without sampling "
                       "(what `deploy` + `eval` approach as the sampling noise vanishes)")
    x.add_argument("checkpoint", nargs="+", help="one checkpoint, or several (copies taken in turn, as in deploy)")
    _add_data_args(x)
    x.add_argument("--copies", type=int, default=1)
    x.add_argument("--views", type=int, default=1, help="as in deploy (1..9)")
    x.add_argument("--test-subset", type=int, default=0, help="first N test images (0: all)")
    x.set_defaults(func=cmd_expect)
    e = sub.add_parser("eval", help="evaluate a deployed network in the simulator")
    e.add_argument("file")
    _add_data_args(e)
    e.add_argument("--test-subset", type=int, default=0, help="first N test images (0: all)")
    e.add_argument("--ticks-per-image", type=int, default=0, help="0: as stored at deployment")
    e.add_argument("--encoding", default=None, choices=list(ENCODINGS))
    e.add_argument("--seed", type=int, default=2)
    e.add_argument("--threads", type=int, default=0)
    e.add_argument("--json", metavar="FILE")
    e.set_defaults(func=cmd_eval)
    r = sub.add_parser("reproduce", help="train, deploy ensembles 1..64, evaluate, compare with the paper")
    r.add_argument("--out", required=True)
    _add_data_args(r)
    r.add_argument("--quick", action="store_true", help="reduced run (a few minutes)")
    r.add_argument("--networks", default="5core,large",
                   help="comma-separated networks; a+b: one ensemble taking copies in turn from a and b")
    r.add_argument("--models", type=int, default=1, help="trained models per network (seeds seed, seed+1, ...)")
    r.add_argument("--copies", default="1,4,16,64")
    r.add_argument("--views", type=int, default=1,
                   help="copy e reads the image shifted by one of N small translations (1..9; 1: none)")
    r.add_argument("--sampling", default="stratified", choices=list(SAMPLINGS),
                   help=_SAMPLING_HELP)
    r.add_argument("--epochs", type=int, default=None, help="override the per-network epochs")
    r.add_argument("--test-subset", type=int, default=None, help="first N test images (quick: 2000)")
    r.add_argument("--train-subset", type=int, default=0)
    r.add_argument("--ticks-per-image", type=int, default=1)
    r.add_argument("--encoding", default="stochastic", choices=list(ENCODINGS))
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--threads", type=int, default=1, help="torch threads")
    r.set_defaults(func=cmd_reproduce)
