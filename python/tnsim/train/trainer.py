"""Training loop for probabilistic core networks: Adam or SGD+momentum, dropout, LR schedule,
seeds, checkpoints, progress with ETA.

Loss: softmax cross-entropy on ``beta * expected class spike counts`` (``beta`` is an inverse
temperature; the counts are sums of output-neuron spike probabilities, see networks.py).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .networks import CoreNetwork, build


@dataclass
class TrainConfig:
    network: str = "5core"
    epochs: int = 10
    batch_size: int = 100
    optimizer: str = "adam"          # "adam" or "sgd" (momentum 0.9)
    lr: float = 0.01
    lr_decay: str = "cosine"         # "cosine", "step" (x0.1 at 50 % and 75 %), "none"
    momentum: float = 0.9
    dropout: float = 0.0
    beta: float = 1.0                # inverse temperature on expected class counts
    var_floor: float = 0.05
    seed: int = 0
    threads: int = 1                 # torch threads (1 is fastest for these small matmuls on a busy 2-core box)
    train_subset: int = 0            # 0: all training images
    shift: int = 0                   # augmentation: random translation by up to +-shift pixels
    rotate: float = 0.0              # augmentation: random rotation by up to +-rotate degrees
    scale: float = 0.0               # augmentation: random scaling by a factor in 1 +- scale
    elastic: float = 0.0             # augmentation: elastic distortion of strength alpha (pixels; 0: none)
    elastic_sigma: float = 4.0       # smoothness of the elastic displacement field (pixels)
    device: str = "cpu"              # torch device to train on ("cpu", "cuda", ...)
    spec_seed: Optional[int] = None  # seed of a named network's random wiring (None: seed)
    extra: Dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ValueError naming the first setting out of its range (before any data is read)."""
        checks = [
            ("epochs", self.epochs >= 0, "must be >= 0"),
            ("batch_size", self.batch_size >= 1, "must be >= 1"),
            ("optimizer", self.optimizer in ("adam", "sgd"), "must be 'adam' or 'sgd'"),
            ("lr", self.lr > 0, "must be > 0"),
            ("lr_decay", self.lr_decay in ("cosine", "step", "none"), "must be 'cosine', 'step' or 'none'"),
            ("momentum", 0 <= self.momentum < 1, "must be in [0, 1)"),
            ("dropout", 0 <= self.dropout < 1, "must be in [0, 1)"),
            ("beta", self.beta > 0, "must be > 0"),
            ("var_floor", self.var_floor >= 0, "must be >= 0"),
            ("threads", self.threads >= 0, "must be >= 0 (0: torch's default)"),
            ("train_subset", self.train_subset >= 0, "must be >= 0 (0: all images)"),
            ("shift", self.shift >= 0, "must be >= 0"),
            ("rotate", self.rotate >= 0, "must be >= 0"),
            ("scale", 0 <= self.scale < 1, "must be in [0, 1)"),
            ("elastic", self.elastic >= 0, "must be >= 0 (0: none)"),
            ("elastic_sigma", self.elastic_sigma > 0, "must be > 0"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ValueError(f"training setting {name} = {getattr(self, name)!r} {rule}")


def _lr_at(cfg: TrainConfig, step: int, total: int) -> float:
    frac = step / max(total, 1)
    if cfg.lr_decay == "cosine":
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * frac))
    if cfg.lr_decay == "step":
        return cfg.lr * (0.1 if frac >= 0.5 else 1.0) * (0.1 if frac >= 0.75 else 1.0)
    return cfg.lr


def random_shift(x: torch.Tensor, shape: Any, shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image (B, rows*cols) by a random (dy, dx) in [-shift, shift]^2, zero fill."""
    B = x.shape[0]
    rows, cols = shape
    img = torch.nn.functional.pad(x.reshape(B, rows, cols), (shift, shift, shift, shift))
    d = torch.randint(0, 2 * shift + 1, (B, 2), generator=gen).to(x.device)
    r = torch.arange(rows, device=x.device)[None, :] + d[:, :1]
    c = torch.arange(cols, device=x.device)[None, :] + d[:, 1:]
    out = img[torch.arange(B, device=x.device)[:, None, None], r[:, :, None], c[:, None, :]]
    return out.reshape(B, rows * cols)


def random_affine(x: torch.Tensor, shape: Any, shift: float, rotate: float, scale: float,
                  gen: torch.Generator, elastic: float = 0.0, elastic_sigma: float = 4.0) -> torch.Tensor:
    """Each image (B, rows*cols) rotated by up to +-``rotate`` degrees and scaled by a factor
    in 1 +- ``scale`` about its centre, then translated by up to +-``shift`` pixels along each
    axis (uniform draws, bilinear interpolation, zero outside the image).

    With ``elastic`` > 0, each output pixel also reads from a place moved by a smooth random
    displacement field (Simard et al., ICDAR 2003): uniform noise in [-1, 1] per pixel and
    axis, smoothed by a Gaussian of ``elastic_sigma`` pixels and scaled by ``elastic`` pixels
    (Simard's values for 28 x 28 digits: 34 and 4). Drawn after the affine parameters, so
    ``elastic=0`` leaves the random stream as it was."""
    if elastic < 0:
        raise ValueError(f"elastic = {elastic} must be 0 (none) or positive")
    if elastic > 0 and elastic_sigma <= 0:
        raise ValueError(f"elastic_sigma = {elastic_sigma} must be positive")
    B = x.shape[0]
    rows, cols = shape
    u = torch.rand((B, 4), generator=gen).to(x.device) * 2 - 1          # uniform in [-1, 1)
    angle = u[:, 0] * math.radians(rotate)
    factor = 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    # affine_grid maps output to input coordinates in [-1, 1]; a pixel is 2 / size wide
    theta = torch.stack([torch.stack([cos, -sin * rows / cols, -u[:, 2] * shift * 2 / cols], 1),
                         torch.stack([sin * cols / rows, cos, -u[:, 3] * shift * 2 / rows], 1)], 1)
    grid = F.affine_grid(theta, [B, 1, rows, cols], align_corners=False)
    if elastic > 0:
        field = torch.rand((B, 2, rows, cols), generator=gen).to(x.device) * 2 - 1
        radius = max(1, math.ceil(3 * elastic_sigma))
        taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=x.dtype) / elastic_sigma) ** 2)
        taps = (taps / taps.sum()).to(x.device)
        field = F.conv2d(field, taps.reshape(1, 1, 1, -1).expand(2, 1, 1, -1), padding=(0, radius), groups=2)
        field = F.conv2d(field, taps.reshape(1, 1, -1, 1).expand(2, 1, -1, 1), padding=(radius, 0), groups=2)
        # pixels -> affine_grid's units (a pixel is 2 / size wide); channel 0 moves x (columns)
        grid = grid + elastic * torch.stack([field[:, 0] * 2 / cols, field[:, 1] * 2 / rows], -1)
    out = F.grid_sample(x.reshape(B, 1, rows, cols), grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    return out.reshape(B, rows * cols)


def _fmt_time(s: float) -> str:
    s = int(max(s, 0))
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


@torch.no_grad()
def expected_accuracy(model: CoreNetwork, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    """Accuracy of argmax of expected class counts (the trained, not the deployed, network)."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for i in range(0, len(x), batch):
        out = model(torch.as_tensor(x[i:i + batch]).to(device))
        correct += int((out.argmax(1).cpu().numpy() == y[i:i + batch]).sum())
    return correct / max(len(x), 1)


@torch.no_grad()
def ensemble_expected_counts(models: "CoreNetwork | Sequence[CoreNetwork]", x: np.ndarray, copies: int = 1,
                             views: int = 1, batch: int = 2000) -> np.ndarray:
    """Expected class spike counts, ``(n, classes)`` float64, of the ensemble that
    :func:`tnsim.deploy.deploy` would sample from ``models`` with these ``copies`` and ``views``
    (copy e from model ``e % len(models)``, reading view ``e % views``): the sum over copies of
    each copy's model's expected counts on its view of ``x`` (float (n, pixels) in [0, 1]).

    This is what a sampled ensemble's counts average to over the draws of its synapses and
    input spikes (within the Gaussian approximation of each neuron), so its argmax accuracy is
    what the deployed ensemble approaches as its sampling noise vanishes, measured without
    sampling anything."""
    from ..deploy import _view_pixels, view_shifts

    models = [models] if isinstance(models, CoreNetwork) else list(models)
    if not models:
        raise ValueError("no models")
    if copies < 1:
        raise ValueError(f"copies = {copies} must be at least 1")
    shifts = view_shifts(copies, views)
    uses: Dict[tuple, int] = {}              # (model, shift) -> copies that use it
    for e in range(copies):
        key = (e % len(models), shifts[e])
        uses[key] = uses.get(key, 0) + 1
    x = np.asarray(x, dtype=np.float32)
    total = None
    for (m, shift), n_copies in sorted(uses.items()):
        model = models[m].eval()
        src = _view_pixels(np.arange(x.shape[1]), model.spec["image_shape"], shift)
        view = np.where(src >= 0, x[:, np.maximum(src, 0)], 0.0).astype(np.float32)
        device = next(model.parameters()).device
        counts = np.concatenate([model(torch.as_tensor(view[i:i + batch]).to(device)).double().cpu().numpy()
                                 for i in range(0, len(view), batch)])
        total = n_copies * counts if total is None else total + n_copies * counts
    assert total is not None
    return total


def save_checkpoint(path: "os.PathLike[str] | str", model: CoreNetwork, cfg: TrainConfig,
                    history: Optional[list] = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"spec": model.spec, "config": asdict(cfg), "state": state,
                "history": history or []}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: "os.PathLike[str] | str") -> tuple:
    """-> (model, TrainConfig, history)."""
    return from_checkpoint(torch.load(path, map_location="cpu", weights_only=False))


def from_checkpoint(ck: Dict[str, Any]) -> tuple:
    """A checkpoint already read with ``torch.load`` -> (model, TrainConfig, history)."""
    cfg = TrainConfig(**ck["config"])
    cfg.device = "cpu"   # loaded models live on the CPU (deployment and evaluation are NumPy)
    model = build(ck["spec"], seed=cfg.seed, var_floor=cfg.var_floor, dropout=cfg.dropout)
    # older checkpoints also hold the source indices (in_idx/src_idx, srcN), rebuilt from the
    # spec, and each layer's signed weights (layerN.s), recomputed from its tables on load
    model.load_state_dict({k: v for k, v in ck["state"].items()
                           if k not in ("in_idx", "src_idx") and not re.fullmatch(r"src\d+|layer\d+\.s", k)})
    model.eval()
    return model, cfg, ck.get("history", [])


def train(cfg: TrainConfig, x_train: np.ndarray, y_train: np.ndarray,
          x_val: Optional[np.ndarray] = None, y_val: Optional[np.ndarray] = None,
          checkpoint: "Optional[os.PathLike[str] | str]" = None, progress: bool = True,
          log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)) -> tuple:
    """Train a network; x are float32 (n, pixels) in [0, 1], y int labels. -> (model, history)."""
    cfg.validate()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    if cfg.train_subset:
        x_train, y_train = x_train[: cfg.train_subset], y_train[: cfg.train_subset]
    model = build(cfg.network, seed=cfg.seed, spec_seed=cfg.spec_seed, var_floor=cfg.var_floor,
                  dropout=cfg.dropout).to(cfg.device)
    params = [p for p in model.parameters()]
    if cfg.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=cfg.lr)
    elif cfg.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum)
    else:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}")
    n = len(x_train)
    steps_per_epoch = (n + cfg.batch_size - 1) // cfg.batch_size
    total = steps_per_epoch * cfg.epochs
    xt = torch.as_tensor(x_train, dtype=torch.float32).to(cfg.device)
    yt = torch.as_tensor(y_train.astype(np.int64)).to(cfg.device)
    history = []
    t0 = time.perf_counter()
    step = 0
    last_print = 0.0
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.as_tensor(rng.permutation(n)).to(cfg.device)
        loss_acc = torch.zeros((), device=cfg.device)   # on the device: no sync per step
        correct_acc = torch.zeros((), dtype=torch.int64, device=cfg.device)
        for bi in range(steps_per_epoch):
            idx = order[bi * cfg.batch_size:(bi + 1) * cfg.batch_size]
            for g in opt.param_groups:
                g["lr"] = _lr_at(cfg, step, total)
            xb = xt[idx]
            if cfg.rotate or cfg.scale or cfg.elastic:
                xb = random_affine(xb, model.spec["image_shape"], cfg.shift, cfg.rotate, cfg.scale, gen,
                                   cfg.elastic, cfg.elastic_sigma)
            elif cfg.shift:
                xb = random_shift(xb, model.spec["image_shape"], cfg.shift, gen)
            counts = model(xb)
            loss = F.cross_entropy(cfg.beta * counts, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.constrain()
            step += 1
            loss_acc += loss.detach() * len(idx)
            correct_acc += (counts.argmax(1) == yt[idx]).sum()
            now = time.perf_counter()
            if progress and (now - last_print >= 1.0 or bi == steps_per_epoch - 1):
                last_print = now
                el = time.perf_counter() - t0
                eta = el / step * (total - step)
                sys.stderr.write(f"\r  epoch {epoch + 1}/{cfg.epochs} batch {bi + 1}/{steps_per_epoch} "
                                 f"loss {float(loss_acc) / ((bi + 1) * cfg.batch_size):.4f} "
                                 f"elapsed {_fmt_time(el)} ETA {_fmt_time(eta)}   ")
                sys.stderr.flush()
        if progress:
            sys.stderr.write("\n")
        rec = {"epoch": epoch + 1, "loss": float(loss_acc) / n, "train_acc": int(correct_acc) / n,
               "seconds": time.perf_counter() - t0}
        if x_val is not None and y_val is not None:
            rec["val_expected_acc"] = expected_accuracy(model, x_val, y_val)
        history.append(rec)
        log("  " + json.dumps(rec))
        if checkpoint:
            save_checkpoint(checkpoint, model, cfg, history)
    model.eval()
    if cfg.device != "cpu":
        model = model.cpu()
    return model, history
