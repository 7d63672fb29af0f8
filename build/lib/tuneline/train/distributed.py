"""Training on several processes: the world size, each process's share of the batch, and the
one launch path (torchrun, i.e. `torch.distributed.run`, which accelerate launch also wraps).

One process on one node trains inside the caller's process, as before. Otherwise the step's
process writes a spec (rows, parameters, folders) and runs torchrun on `tuneline.train.worker`;
every rank builds the same Trainer, the Trainer's accelerate state wraps the model in DDP or
FSDP, and rank 0 alone writes the adapter, the checkpoints' folder cleanup, Comet and the
metrics file the step reads back. The step then logs the metadata: no other rank touches
ZenML, so nothing is written twice.

Why not ZenML's `run_with_accelerate`: its launch options are fixed where the step is
decorated (not a parameter group the YAML sets), it passes the step's inputs as command-line
strings (a DataFrame of rows does not survive that), and every rank runs the whole step body,
metadata calls included.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from tuneline.params import DistributedParams, TrainParams


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def procs_per_node(d: DistributedParams) -> int:
    if d.nproc_per_node == "auto":
        return max(1, visible_gpus())
    return d.nproc_per_node


def world_size(d: DistributedParams) -> int:
    return procs_per_node(d) * d.nnodes


def is_distributed(d: DistributedParams) -> bool:
    """Launched through torchrun: several processes, or FSDP (on one GPU too, for its CPU
    offload); one plain process trains in the caller's."""
    return world_size(d) > 1 or d.strategy == "fsdp"


def check(d: DistributedParams, gpus: int) -> None:
    """What cannot run here, said before anything starts."""
    if d.strategy == "fsdp" and gpus == 0:
        # accelerate runs "fsdp" on CPU processes as plain DDP without a word (seen on
        # accelerate 1.15): refuse rather than report a sharding that did not happen
        raise RuntimeError("distributed.strategy fsdp shards over CUDA GPUs and none is visible: "
                           "use strategy ddp on CPU, or run the step on a GPU step operator")
    per_node = procs_per_node(d)
    if gpus and per_node > gpus:
        raise RuntimeError(f"distributed.nproc_per_node={per_node} but this node has {gpus} "
                           "GPU(s): one process per GPU (NCCL refuses two ranks on one GPU)")


def rank_batch(batch_size: int, grad_accum: int, world: int) -> tuple[int, int]:
    """(per-process batch, per-process grad accumulation) so that `world` processes make the
    same optimizer step as one process with `batch_size` x `grad_accum`: the largest
    per-process batch up to `batch_size` that divides the process's share."""
    total = batch_size * grad_accum
    if total % world:
        raise ValueError(f"batch_size x grad_accum = {total} examples per optimizer step cannot be "
                         f"split over {world} processes: make it a multiple of {world}")
    share = total // world
    per = max(b for b in range(1, min(batch_size, share) + 1) if share % b == 0)
    return per, share // per


def current_rank() -> int:
    """This process's global rank under torchrun (0 when not launched by it)."""
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def launched() -> bool:
    """Inside a torchrun worker (of any world size: FSDP runs on one GPU too); the Trainer
    sets up the process group from torchrun's variables."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies. torchrun starts its workers in their
    own sessions, so a killed step (OOM killer, a cancelled pod, kill -9) would otherwise leave
    them training on and writing checkpoints into the folder its re-run resumes from."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rendezvous(d: DistributedParams, env: dict[str, str]) -> list[str]:
    """torchrun's node arguments. One node: a free local port. Several: the main node's
    address and this node's rank come from the job's environment: a Kubernetes multi-pod job
    (ZENML_KUBERNETES_MAIN_ADDRESS/PORT, JOB_COMPLETION_INDEX), a PyTorchJob/TrainJob or any
    launcher that sets MASTER_ADDR/MASTER_PORT and NODE_RANK."""
    if d.nnodes == 1:
        return ["--nnodes", "1", "--master-addr", "127.0.0.1", "--master-port", str(_free_port())]
    pods = env.get("ZENML_KUBERNETES_POD_COUNT")
    if pods and int(pods) != d.nnodes:
        raise RuntimeError(f"distributed.nnodes={d.nnodes} but the step runs on {pods} pods: set "
                           "the step operator's pod_count to the same number")
    addr = env.get("ZENML_KUBERNETES_MAIN_ADDRESS") or env.get("MASTER_ADDR")
    port = env.get("ZENML_KUBERNETES_MAIN_PORT") or env.get("MASTER_PORT") or "29500"
    node = env.get("NODE_RANK") or env.get("JOB_COMPLETION_INDEX") or env.get("PET_NODE_RANK")
    if not addr or node is None:
        raise RuntimeError(f"distributed.nnodes={d.nnodes} needs the main node's address and this "
                           "node's rank from the job: MASTER_ADDR (or ZENML_KUBERNETES_MAIN_ADDRESS) "
                           "and NODE_RANK (or JOB_COMPLETION_INDEX); none is set here")
    return ["--nnodes", str(d.nnodes), "--node-rank", str(node), "--master-addr", addr,
            "--master-port", str(port)]


def launch(kind: str, spec: dict, params: TrainParams, out_dir: Path) -> dict:
    """Run `kind` ("sft" | "dpo") on world_size(params.distributed) processes; return rank 0's
    metrics. A failing rank fails the launch with torchrun's exit code and the log's tail."""
    d = params.distributed
    check(d, visible_gpus())
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"tuneline-{kind}-launch-", dir=out_dir))
    spec_path, metrics_path = folder / "spec.json", folder / "metrics.json"
    spec_path.write_text(json.dumps({**spec, "kind": kind, "params": params.model_dump(),
                                     "params_class": type(params).__name__,
                                     "out_dir": str(out_dir), "metrics": str(metrics_path)},
                                    default=str))
    code, text, log = torchrun(procs_per_node(d), rendezvous(d, dict(os.environ)), str(spec_path),
                               folder, d.nnodes)
    if code != 0 or not metrics_path.exists():
        raise RuntimeError(f"{kind} on {world_size(d)} processes failed (torchrun exit {code}); "
                           f"the last lines of {log}:\n{text[-3000:]}")
    return json.loads(metrics_path.read_text())


def torchrun(nproc: int, node_args: list[str], spec: str, folder: Path, nnodes: int
             ) -> tuple[int, str, Path]:
    """torchrun over `tuneline.train.worker SPEC`; its exit code, output and log file. The
    output also goes to this process's stderr: the step's logs."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
           *node_args, "-m", "tuneline.train.worker", spec]
    log = folder / "torchrun.log"
    # the workers import tuneline from where this process did (a source checkout included)
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TORCH_NCCL_ASYNC_ERROR_HANDLING": "1",
           "TUNELINE_NNODES": str(nnodes),
           "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    with open(log, "w") as out:
        code = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                               preexec_fn=die_with_parent)
    text = log.read_text(errors="replace")
    sys.stderr.write(text[-20000:])
    return code, text, log


FROM_RANK_0 = "-"  # the worker's spec argument on the other nodes: rank 0 sends it


def follow(env: dict[str, str]) -> int:
    """A node other than the first of a multi-node run: join the rendezvous with this node's
    processes; the spec (rows, parameters) comes from rank 0 over the process group, so the
    other nodes need no shared filesystem. Node count and processes per node come from the
    job (ZENML_KUBERNETES_POD_COUNT or NNODES; TUNELINE_NPROC_PER_NODE, else one per GPU)."""
    nnodes = int(env.get("ZENML_KUBERNETES_POD_COUNT") or env.get("NNODES") or env.get("PET_NNODES") or 0)
    if nnodes < 2:
        raise RuntimeError("a following node needs the number of nodes: ZENML_KUBERNETES_POD_COUNT "
                           "or NNODES (2 or more)")
    nproc = int(env.get("TUNELINE_NPROC_PER_NODE") or max(1, visible_gpus()))
    d = DistributedParams(nproc_per_node=nproc, nnodes=nnodes)
    folder = Path(tempfile.mkdtemp(prefix="tuneline-follow-"))
    code, _, _ = torchrun(nproc, rendezvous(d, env), FROM_RANK_0, folder, nnodes)
    return code
