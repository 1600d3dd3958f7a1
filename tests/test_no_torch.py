"""Deployment, evaluation and the command line work without PyTorch (only training needs it)."""

import subprocess
import sys

BLOCK_TORCH = """
import builtins
real_import = builtins.__import__
def no_torch(name, *args, **kwargs):
    if name == "torch" or name.startswith("torch."):
        raise ImportError("torch is blocked in this test")
    return real_import(name, *args, **kwargs)
builtins.__import__ = no_torch
"""


def test_deploy_evaluate_and_cli_import_without_torch():
    code = BLOCK_TORCH + """
import numpy as np
import tnsim.cli, tnsim.deploy, tnsim.evaluate, tnsim.reproduce, tnsim.specs
spec = tnsim.specs.get_spec("deep")
tnsim.specs.check_spec(spec)
print(tnsim.specs.cores_per_copy(spec), tnsim.evaluate.encode(np.full((2, 784), 0.5), 1, "stochastic", 0, 3).shape)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["100", "(2,", "1,", "3,", "784)"]
