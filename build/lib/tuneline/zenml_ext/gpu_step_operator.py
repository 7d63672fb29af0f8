"""A ZenML step operator that runs a step in a subprocess on this machine's GPU(s).

With the local orchestrator and a local store, no container or image builder is involved: the
step's entrypoint runs with this venv's Python, `CUDA_VISIBLE_DEVICES` set to the configured
GPUs, and its output streamed into the step's logs. SFT, DPO and evaluation get it by config
(`steps.<name>.step_operator: <component name>`), so the same pipeline runs CPU-only or with
GPU steps without a code change.

Register: `tuneline stack register configs/stacks/local-gpu.yaml` (or by hand: `zenml
step-operator flavor register tuneline.zenml_ext.gpu_step_operator.LocalGPUStepOperatorFlavor`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading

from pydantic import Field
from zenml.config.base_settings import BaseSettings
from zenml.enums import ExecutionStatus
from zenml.logger import get_logger
from zenml.step_operators import BaseStepOperator, BaseStepOperatorConfig, BaseStepOperatorFlavor

logger = get_logger(__name__)

FLAVOR = "tuneline_local_gpu"
# Running subprocesses by step run id; the operator instance is not guaranteed to be reused
# between submit() and get_status().
_PROCESSES: dict = {}


class LocalGPUStepOperatorSettings(BaseSettings):
    gpus: str | None = Field(None, description="GPU indices for this step, e.g. '0' or '0,1'; "
                                               "None = the component's `gpus`")


class LocalGPUStepOperatorConfig(BaseStepOperatorConfig, LocalGPUStepOperatorSettings):
    require_gpu: bool = Field(True, description="fail a step when no GPU is visible; False only "
                                                "for tests of the subprocess path on CPU")

    @property
    def is_local(self) -> bool:
        return True


def visible_gpus() -> list[str]:
    """GPU indices nvidia-smi reports (empty when there is no driver or no GPU)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    res = subprocess.run([smi, "--query-gpu=index", "--format=csv,noheader"], check=False,
                         capture_output=True, text=True)
    return [line.strip() for line in res.stdout.splitlines() if line.strip().isdigit()]


def check_gpus(step: str, wanted: str | None, available: list[str]) -> str | None:
    """The CUDA_VISIBLE_DEVICES value for a step, or an error naming the step."""
    if not available:
        raise RuntimeError(f"step {step!r} runs on the {FLAVOR} step operator but no GPU is "
                           "visible on this machine (nvidia-smi lists none); remove "
                           f"`step_operator` from tuneline_steps.{step} to run it on CPU")
    if wanted is None:
        return None
    missing = [g for g in wanted.split(",") if g.strip() not in available]
    if missing:
        raise RuntimeError(f"step {step!r} asks for GPU(s) {','.join(missing)} but this machine "
                           f"has {','.join(available)}")
    return wanted


def subprocess_command(entrypoint: list[str]) -> list[str]:
    # ZenML's entrypoint starts with a bare `python`: run it with this environment's interpreter
    return [sys.executable if entrypoint[0] == "python" else entrypoint[0], *entrypoint[1:]]


class LocalGPUStepOperator(BaseStepOperator):
    @property
    def config(self) -> LocalGPUStepOperatorConfig:
        return self._config  # type: ignore[return-value]

    @property
    def settings_class(self):
        return LocalGPUStepOperatorSettings

    def submit(self, info, entrypoint_command, environment) -> None:
        settings = self.get_settings(info)
        wanted = settings.gpus or self.config.gpus
        env = {**os.environ, **environment}
        if self.config.require_gpu:
            devices = check_gpus(info.pipeline_step_name, wanted, visible_gpus())
        else:
            devices = wanted
        if devices is not None:
            env["CUDA_VISIBLE_DEVICES"] = devices
        cmd = subprocess_command(entrypoint_command)
        logger.info("Step %s: subprocess on GPU(s) %s", info.pipeline_step_name,
                    devices or "all visible")
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        _PROCESSES[info.step_run_id] = proc

        def stream() -> None:
            for line in proc.stdout:
                sys.stdout.write(f"[{info.pipeline_step_name}] {line}")
        threading.Thread(target=stream, daemon=True).start()

    def get_status(self, step_run) -> ExecutionStatus:
        proc = _PROCESSES.get(step_run.id)
        if proc is None:
            raise KeyError(f"no subprocess for step run {step_run.id}")
        code = proc.poll()
        if code is None:
            return ExecutionStatus.RUNNING
        return ExecutionStatus.COMPLETED if code == 0 else ExecutionStatus.FAILED

    def cancel(self, step_run) -> None:
        proc = _PROCESSES.get(step_run.id)
        if proc is not None and proc.poll() is None:
            proc.terminate()

    def cleanup_step_submission(self, step_run) -> None:
        _PROCESSES.pop(step_run.id, None)


class LocalGPUStepOperatorFlavor(BaseStepOperatorFlavor):
    @property
    def name(self) -> str:
        return FLAVOR

    @property
    def config_class(self):
        return LocalGPUStepOperatorConfig

    @property
    def implementation_class(self):
        return LocalGPUStepOperator
