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
