"""One torchrun process of a distributed SFT or DPO run (see tuneline.train.distributed).

`python -m tuneline.train.worker SPEC.json`: every rank trains; rank 0 writes the metrics
file the launching step reads back."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tuneline import train
from tuneline.params import DPOParams, SFTParams
from tuneline.train import distributed


def main(spec_path: str) -> None:
    distributed.die_with_parent()  # torchrun's agent gone: stop, do not train on alone
    spec = json.loads(Path(spec_path).read_text())
    cls = {"SFTParams": SFTParams, "DPOParams": DPOParams}[spec["params_class"]]
    params = cls(**spec["params"])
    backend = train._backend(params)
    out_dir, work = Path(spec["out_dir"]), Path(spec["work"])
    if spec["kind"] == "sft":
        metrics = backend.sft(spec["base_model"], spec["rows"], params, out_dir, work)
    else:
        metrics = backend.dpo(spec["base_model"], Path(spec["sft_adapter"]), spec["rows"], params,
                              out_dir, work)
    if distributed.current_rank() == 0:
        Path(spec["metrics"]).write_text(json.dumps(metrics))
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
