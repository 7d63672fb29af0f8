"""The torchrun path on CUDA: FSDP on one GPU (runs on any GPU host), and 2-GPU DDP of SFT and
DPO against one GPU with the same global batch (needs two GPUs; the CPU twin with gloo is
tests/test_distributed.py)."""

import pytest

from tests.gpu.test_unsloth_gpu import prefs, rows

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
two_gpus = pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")

# bf16 on GPU: two runs of the same steps agree to bf16 rounding, not to the last digit
TOLERANCE = 0.05
RUN = dict(max_steps=6, batch_size=4, max_length=256, learning_rate=1e-4, seed=3,
           checkpoint_every=0)


def test_fsdp_sft_on_one_gpu_runs_under_torchrun_like_the_in_process_run(tiny_llama, tmp_path):
    from tuneline import train
    from tuneline.params import SFTParams

    plain = train.train_sft(tiny_llama, rows(24), SFTParams(**RUN, backend="trl"), tmp_path / "a")
    fsdp = train.train_sft(tiny_llama, rows(24), SFTParams(**RUN, distributed={"strategy": "fsdp"}),
                           tmp_path / "b")
    assert fsdp["distributed_type"] == "FSDP" and fsdp["processes"] == 1
    assert (tmp_path / "b" / "adapter" / "adapter_model.safetensors").exists()
    assert fsdp["loss_curve"] == pytest.approx(plain["loss_curve"], abs=TOLERANCE)


@two_gpus
@pytest.mark.parametrize("backend", ["unsloth", "trl"])
def test_two_gpu_ddp_sft_and_dpo_match_one_gpu_with_the_same_global_batch(tiny_llama, tmp_path,
                                                                          backend):
    from tuneline import train
    from tuneline.params import DPOParams, SFTParams

    curves = {}
    for n in (1, 2):
        d = {"nproc_per_node": n}
        sft = train.train_sft(tiny_llama, rows(24), SFTParams(**RUN, backend=backend, distributed=d),
                              tmp_path / f"sft{n}")
        dpo = train.train_dpo(tiny_llama, tmp_path / f"sft{n}" / "adapter", prefs(16),
                              DPOParams(**RUN, backend=backend, distributed=d), tmp_path / f"dpo{n}")
        assert sft["processes"] == dpo["processes"] == n
        curves[n] = (sft["loss_curve"], dpo["loss_curve"])
        if n == 2:
            assert sft["distributed_type"] == "MULTI_GPU"
            assert len(sft["peak_memory_gib_per_process"]) == 2
    assert curves[2][0] == pytest.approx(curves[1][0], abs=TOLERANCE)
    assert curves[2][1] == pytest.approx(curves[1][1], abs=TOLERANCE)


def test_unsloth_sft_and_dpo_through_the_torchrun_worker_on_one_gpu_match_the_in_process_run(
        tiny_llama, tmp_path):
    """The launch 2-GPU DDP runs (spec file, torchrun, `tuneline.train.worker`, Unsloth placed
    on the rank's LOCAL_RANK GPU, rank 0 saving and writing the metrics), on one process: what a
    one-GPU host can check of that path. `nproc_per_node: 1` alone trains in-process, so the
    launch is called directly."""
    from tuneline import train
    from tuneline.params import DPOParams, SFTParams
    from tuneline.train import distributed

    sft_params = SFTParams(**RUN, backend="unsloth")
    dpo_params = DPOParams(**RUN, backend="unsloth")
    plain_sft = train.train_sft(tiny_llama, rows(24), sft_params, tmp_path / "sft")
    plain_dpo = train.train_dpo(tiny_llama, tmp_path / "sft" / "adapter", prefs(16), dpo_params,
                                tmp_path / "dpo")
    sft = distributed.launch("sft", {"base_model": tiny_llama, "rows": rows(24),
                                     "work": str(tmp_path / "sft-w-work")},
                             sft_params, tmp_path / "sft-w")
    dpo = distributed.launch("dpo", {"base_model": tiny_llama, "rows": prefs(16),
                                     "sft_adapter": str(tmp_path / "sft-w" / "adapter"),
                                     "work": str(tmp_path / "dpo-w-work")},
                             dpo_params, tmp_path / "dpo-w")
    for got, plain, out in ((sft, plain_sft, "sft-w"), (dpo, plain_dpo, "dpo-w")):
        assert got["processes"] == 1 and got["attention"].startswith("unsloth")
        assert (tmp_path / out / "adapter" / "adapter_model.safetensors").exists()
        assert len(got["loss_curve"]) == len(plain["loss_curve"]) == RUN["max_steps"]
        assert got["loss_curve"] == pytest.approx(plain["loss_curve"], abs=TOLERANCE)
