"""Training on several processes: the batch split, the launch arguments, and real 2-process
DDP runs of SFT on CPU (torchrun, gloo) checked against one process with the same global batch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_train import BASE, ROWS, kill_9_once_checkpointed
from tuneline import models, train
from tuneline.params import DistributedParams, SFTParams
from tuneline.train import distributed

ROOT = Path(__file__).parents[1]


def test_rank_batch_keeps_the_examples_per_optimizer_step_for_any_world_size():
    assert distributed.rank_batch(4, 1, 1) == (4, 1)
    assert distributed.rank_batch(4, 1, 2) == (2, 1)
    assert distributed.rank_batch(4, 4, 2) == (4, 2)  # the per-process batch stays as large
    assert distributed.rank_batch(4, 3, 4) == (3, 1)
    for b, ga, w in ((4, 1, 2), (4, 4, 2), (4, 3, 4), (6, 2, 3), (8, 2, 8)):
        per, accum = distributed.rank_batch(b, ga, w)
        assert per * accum * w == b * ga and per <= b


def test_a_batch_that_cannot_be_split_evenly_is_a_clear_error():
    with pytest.raises(ValueError, match="4 examples per optimizer step cannot be split over 3"):
        distributed.rank_batch(4, 1, 3)


def test_one_node_rendezvous_is_local_and_several_need_the_job_environment():
    one = distributed.rendezvous(DistributedParams(nproc_per_node=2), {})
    assert one[:4] == ["--nnodes", "1", "--master-addr", "127.0.0.1"]
    two = DistributedParams(nproc_per_node=8, nnodes=2)
    k8s = {"ZENML_KUBERNETES_MAIN_ADDRESS": "job-0.job.ns.svc", "ZENML_KUBERNETES_MAIN_PORT": "29400",
           "JOB_COMPLETION_INDEX": "1"}
    assert distributed.rendezvous(two, k8s) == ["--nnodes", "2", "--node-rank", "1", "--master-addr",
                                                "job-0.job.ns.svc", "--master-port", "29400"]
    torchjob = {"MASTER_ADDR": "10.0.0.5", "MASTER_PORT": "23456", "NODE_RANK": "0"}
    assert distributed.rendezvous(two, torchjob)[3:] == ["0", "--master-addr", "10.0.0.5",
                                                         "--master-port", "23456"]
    with pytest.raises(RuntimeError, match="nnodes=2 needs the main node's address"):
        distributed.rendezvous(two, {})


def test_the_ddp_backend_is_named_for_several_processes_and_left_to_accelerate_for_one_gpu_process():
    from tuneline.train.common import distributed_args

    def backend(nproc, gpu, **kw):
        params = SFTParams(distributed=DistributedParams(nproc_per_node=nproc, **kw))
        return distributed_args(params, gpu).get("ddp_backend")

    assert backend(2, gpu=True) == "nccl"
    assert backend(2, gpu=False) == backend(1, gpu=False) == "gloo"
    # one torchrun process on a GPU (FSDP, or a run in its own process): Unsloth's one-GPU
    # patch of accelerate refuses an explicit "nccl"
    assert backend(1, gpu=True) is None
    assert backend(1, gpu=True, strategy="fsdp") is None


def test_fsdp_without_a_gpu_and_more_processes_than_gpus_are_refused():
    with pytest.raises(RuntimeError, match="fsdp shards over CUDA GPUs and none is visible"):
        distributed.check(DistributedParams(nproc_per_node=2, strategy="fsdp"), gpus=0)
    with pytest.raises(RuntimeError, match="nproc_per_node=4 but this node has 2 GPU"):
        distributed.check(DistributedParams(nproc_per_node=4), gpus=2)
    distributed.check(DistributedParams(nproc_per_node=2), gpus=0)  # DDP on CPU: gloo


def test_fsdp_is_the_trl_backends_and_unsloth_says_so():
    fsdp = {"nproc_per_node": 2, "strategy": "fsdp"}
    assert train.backend_for(SFTParams(distributed=fsdp)) == "trl"
    with pytest.raises(RuntimeError, match="'unsloth' runs distributed.strategy ddp only"):
        train.backend_for(SFTParams(backend="unsloth", distributed=fsdp))


def test_a_ddp_run_resumes_on_another_world_size_but_an_fsdp_one_does_not():
    p = SFTParams(max_steps=3)
    two = p.model_copy(update={"distributed": DistributedParams(nproc_per_node=2)})
    fsdp = p.model_copy(update={"distributed": DistributedParams(nproc_per_node=2, strategy="fsdp")})
    assert train.run_dir("sft", BASE, ROWS, p) == train.run_dir("sft", BASE, ROWS, two)
    assert train.run_dir("sft", BASE, ROWS, p) != train.run_dir("sft", BASE, ROWS, fsdp)


# The same global batch on 1 and 2 processes: 4 examples per optimizer step (2 per process).
RUN = {"max_steps": 6, "batch_size": 4, "max_length": 80, "learning_rate": 1e-4, "seed": 7,
       "checkpoint_every": 2}
# Same data, same examples per step, same order (accelerate shards each global batch over the
# ranks) and gradients averaged over all tokens of all ranks: the curves agree to float32
# rounding on CPU (measured: equal to 4 decimals); the tolerance leaves room for the reduction
# order of other builds.
TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def one_process_curve(tmp_path_factory):
    return train.train_sft(BASE, ROWS, SFTParams(**RUN), tmp_path_factory.mktemp("one"))["loss_curve"]


def comet_archives() -> set[str]:
    folder = models.cache_dir() / "comet"
    return {p.name for p in folder.glob("*.zip")} if folder.exists() else set()


@pytest.mark.slow  # torchrun: training subprocesses
def test_a_killed_two_process_run_resumes_from_its_checkpoint_on_the_same_curve(
        tmp_path, monkeypatch, one_process_curve):
    """Also the 2-process run against one process with the same global batch, and rank 0
    alone writing (one Comet experiment for the run, not one per process)."""
    monkeypatch.delenv("COMET_API_KEY", raising=False)
    params = {**RUN, "distributed": {"nproc_per_node": 2}}
    work = train.run_dir("sft", BASE, ROWS, SFTParams(**params))
    saved = kill_9_once_checkpointed(params, tmp_path / "a", ("-2", "-4"))
    before = comet_archives()
    metrics = train.train_sft(BASE, ROWS, SFTParams(**params), tmp_path / "b")
    assert metrics["resumed_from"] == saved and metrics["steps"] == 6
    assert metrics["processes"] == 2 and metrics["distributed_type"] == "MULTI_CPU"
    assert metrics["loss_curve"] == pytest.approx(one_process_curve, abs=TOLERANCE)
    assert metrics["tokens_per_s_per_process"] == pytest.approx(metrics["tokens_per_s"] / 2, rel=0.01)
    assert (tmp_path / "b" / "adapter" / "adapter_model.safetensors").exists()
    assert not work.exists()
    new = comet_archives() - before
    assert len(new) == 1 and metrics["tracking"]["archive"].endswith(tuple(new))


@pytest.mark.slow  # torchrun: training subprocesses
def test_a_failing_rank_fails_the_launch_with_the_log(tmp_path):
    # every rank fails where it loads the model; the error carries what the rank said
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(RuntimeError, match=r"(?s)sft on 2 processes failed \(torchrun exit [1-9].*"
                                           r"no-such-model"):
        train.train_sft(missing, ROWS, SFTParams(max_steps=1, batch_size=2,
                                                 distributed={"nproc_per_node": 2}), tmp_path)
    spec = json.loads(next(tmp_path.glob("tuneline-sft-launch-*/spec.json")).read_text())
    assert spec["kind"] == "sft" and spec["rows"] == ROWS and spec["base_model"] == missing


@pytest.mark.slow  # torchrun: training subprocesses
def test_two_nodes_rendezvous_and_the_second_gets_the_rows_from_rank_0(tmp_path, monkeypatch,
                                                                       one_process_curve):
    # two "nodes" of one process each on this machine, as two pods of a job would: node 1 is
    # what `python -m tuneline.train.node` runs on every pod but the first; it has no spec
    port = str(distributed._free_port())
    # one thread each, as torchrun gives several processes of one node: two 2-thread
    # processes on a 2-core machine spin against each other in gloo (10x slower, measured)
    job = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1"}
    follower = subprocess.Popen(
        [sys.executable, "-m", "tuneline.train.node"], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env={**os.environ, **job, "NODE_RANK": "1", "NNODES": "2",
                                        "TUNELINE_NPROC_PER_NODE": "1"})
    for k, v in {**job, "NODE_RANK": "0"}.items():
        monkeypatch.setenv(k, v)
    run = {**RUN, "checkpoint_every": 0}
    metrics = train.train_sft(BASE, ROWS, SFTParams(**run, distributed={"nnodes": 2}), tmp_path)
    assert follower.wait(timeout=120) == 0
    assert metrics["processes"] == 2 and metrics["loss_curve"] == pytest.approx(
        one_process_curve, abs=TOLERANCE)


def test_every_pod_runs_the_node_command_and_only_pod_0_runs_the_step():
    from tuneline.train.node import node_command

    step = ["python", "-m", "zenml.entrypoints.step_entrypoint", "--step_name", "sft"]
    assert node_command(step) == ["python", "-m", "tuneline.train.node", "--", *step]
    # pod 0 becomes the step's own command (here one that exits 7)
    pod0 = subprocess.run([sys.executable, "-m", "tuneline.train.node", "--", "python", "-c",
                           "raise SystemExit(7)"], cwd=ROOT, env={**os.environ,
                                                                  "JOB_COMPLETION_INDEX": "0"})
    assert pod0.returncode == 7
    pod1 = subprocess.run([sys.executable, "-m", "tuneline.train.node", "--", "python", "-c", "1"],
                          cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "JOB_COMPLETION_INDEX": "1"})
    assert pod1.returncode != 0 and "a following node needs the number of nodes" in pod1.stderr


def test_nnodes_that_differ_from_the_pods_of_the_job_are_refused():
    env = {"ZENML_KUBERNETES_POD_COUNT": "3", "ZENML_KUBERNETES_MAIN_ADDRESS": "a",
           "JOB_COMPLETION_INDEX": "0"}
    with pytest.raises(RuntimeError, match="nnodes=2 but the step runs on 3 pods"):
        distributed.rendezvous(DistributedParams(nnodes=2), env)
