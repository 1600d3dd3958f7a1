"""Shared pytest configuration: hypothesis profiles and the data folder.

Profiles are chosen with the environment variable TNSIM_HYPOTHESIS_PROFILE:
``dev`` (default, few examples, for a quick local run), ``ci`` (many examples, derandomized so
that a commit's run is reproducible; .ci/run sets it) or ``stress`` (more examples, new ones each
run: a local hunt for failures).
"""

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("TNSIM_HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
# Many new examples each run (not derandomized): for a long local hunt before a change lands.
settings.register_profile(
    "stress",
    max_examples=int(os.environ.get("TNSIM_HYPOTHESIS_EXAMPLES", "2000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("TNSIM_HYPOTHESIS_PROFILE", "dev"))

#: The project's data folder (real MNIST files), as seen from the repository root.
DATA_DIR = Path(os.environ.get("TNSIM_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
