"""One torchrun process of a distributed SFT or DPO run (see tuneline.train.distributed).

`python -m tuneline.train.worker SPEC.json` (or `-` on the other nodes of a multi-node run):
every rank trains; rank 0 writes the metrics file the launching step reads back."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tuneline import train
from tuneline.params import DPOParams, SFTParams
from tuneline.train import distributed


def load_spec(arg: str) -> dict:
    """The spec file on the first node; on several nodes rank 0 broadcasts it to all ranks
    (the process group it sets up here is the one the Trainer then uses)."""
    if os.environ.get("TUNELINE_NNODES", "1") == "1":
        return json.loads(Path(arg).read_text())
    import torch
    import torch.distributed as dist

    gpu = torch.cuda.is_available()
    if gpu:
        torch.cuda.set_device(distributed.local_rank())
    dist.init_process_group("nccl" if gpu else "gloo")
    box = [json.loads(Path(arg).read_text()) if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def main(arg: str) -> None:
    distributed.die_with_parent()  # torchrun's agent gone: stop, do not train on alone
    spec = load_spec(arg)
    cls = {"SFTParams": SFTParams, "DPOParams": DPOParams}[spec["params_class"]]
    params = cls(**spec["params"])
    out_dir, work = Path(spec["out_dir"]), Path(spec["work"])
    if spec["kind"] == "sft":
        metrics = train.run_sft(spec["base_model"], spec["rows"], params, out_dir, work)
    else:
        metrics = train.run_dpo(spec["base_model"], Path(spec["sft_adapter"]), spec["rows"],
                                params, out_dir, work)
    if distributed.current_rank() == 0:
        Path(spec["metrics"]).write_text(json.dumps(metrics))
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
