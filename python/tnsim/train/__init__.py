"""Training of probabilistic TrueNorth core networks (needs PyTorch: ``pip install torch``)."""

from .layers import ProbCoreLayer, gaussian_spike_prob
from .networks import CoreNetwork, build, five_core_spec, get_spec, large_spec
from .trainer import (TrainConfig, ensemble_expected_counts, expected_accuracy, load_checkpoint,
                      save_checkpoint, train)

__all__ = ["CoreNetwork", "ProbCoreLayer", "TrainConfig", "build", "ensemble_expected_counts", "expected_accuracy",
           "five_core_spec", "gaussian_spike_prob", "get_spec", "large_spec", "load_checkpoint",
           "save_checkpoint", "train"]
