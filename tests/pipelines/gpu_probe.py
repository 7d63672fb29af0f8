"""A one-step pipeline for testing the GPU step operator's subprocess path (importable by the
subprocess, which loads the step from its source)."""

import os

from zenml import pipeline, step


@step(step_operator="gpu", enable_cache=False)
def probe() -> dict:
    """Report where the step ran."""
    print(f"probe ran in pid {os.getpid()}")
    return {"pid": os.getpid(), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


@pipeline(enable_cache=False)
def probe_pipeline() -> None:
    probe()
