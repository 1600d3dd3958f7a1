"""Plots of reproduce results (accuracy and energy against ensemble size); needs matplotlib.

Importing this module without matplotlib raises ImportError; ``tnsim reproduce`` then skips the
plots with a message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Sequence

import matplotlib  # noqa: F401  (ImportError here: plots are skipped)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_results(rows: Sequence[Dict[str, Any]], out: "str | Path") -> Path:
    out = Path(out)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    for net in sorted({r["network"] for r in rows}):
        rs = sorted((r for r in rows if r["network"] == net), key=lambda r: r["copies"])
        ax[0].plot([r["copies"] for r in rs], [100 * r["accuracy"] for r in rs], "o-", label=net)
        ax[1].plot([r["energy_uj_per_image"] for r in rs], [100 * r["accuracy"] for r in rs], "o-", label=net)
    ax[0].plot([1, 64], [92.7, 99.42], "k*", label="paper")
    ax[1].plot([0.268, 108], [92.7, 99.42], "k*", label="paper")
    ax[0].set(xscale="log", xlabel="copies", ylabel="accuracy %")
    ax[1].set(xscale="log", xlabel="energy per image (uJ)", ylabel="accuracy %")
    ax[0].legend()
    fig.tight_layout()
    path = out / "accuracy_energy.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
