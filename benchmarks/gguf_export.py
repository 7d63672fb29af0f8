"""GGUF export of a registered model: time per quant type, file size, and each quant against the
merged 16-bit model on its own test split (answer cross-entropy, greedy agreement, template,
stops). The numbers behind the tolerances in tuneline/params.py (GGUFParams).

Takes a model version from the ZenML store (the quickstart's by default: run `make quickstart`
first), merges its adapters, converts once and quantizes to every type llama.cpp offers here.
Times are the median of --repeats; sizes and cross-entropy print with their ratio to the bf16
conversion and to the merged model, measured in the same run.

    python benchmarks/gguf_export.py [--model tuneline-quickstart[:VERSION]] [--examples 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from tuneline import train
from tuneline.params import GGUFParams
from tuneline.ship import gguf, quant_checks
from tuneline.zenml_ext import registry


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tuneline-quickstart")
    ap.add_argument("--quants", nargs="+", default=list(gguf.FTYPES))
    ap.add_argument("--examples", type=int, default=GGUFParams().check_examples)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    mv = registry.find_model_version(args.model)
    art = {n: registry.linked_artifact(mv, n) for n in ("sft_adapter", "dpo_adapter", "test_pairs")}
    test = art["test_pairs"].load()
    pairs = [{"instruction": i, "answer": a} for i, a in zip(test.instruction, test.answer)]
    pairs = pairs[:args.examples]
    base = mv.run_metadata.get("base_model", "bundled:smollm2-135m-instruct")
    params = GGUFParams()
    print(f"model {mv.model.name}:{mv.number} (base {base}), {len(pairs)} test pairs, "
          f"{os.cpu_count()} cores, median of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        merged = train.save_merged(base, [Path(art["sft_adapter"].load()),
                                          Path(art["dpo_adapter"].load())], tmp / "merged")
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            source = gguf.convert(merged, tmp / "source-bf16.gguf")
            times.append(time.perf_counter() - t)
        convert_s, source_bytes = statistics.median(times), source.stat().st_size
        print(f"convert_hf_to_gguf (bf16): {convert_s:.1f} s, {source_bytes / 2**20:.1f} MiB")
        ref = quant_checks.reference(merged, pairs, params.max_new_tokens)
        print(f"merged model: answer cross-entropy {sum(x for s in ref['answers'] for x in s['nll']) / max(1, sum(len(s['nll']) for s in ref['answers'])):.4f} over "
              f"{sum(len(s['nll']) for s in ref['answers'])} tokens; its greedy replies end on "
              f"EOS within {params.max_new_tokens} tokens on {len(ref['replies'])} of "
              f"{len(ref['conversations'])} prompts\n")
        print(f"{'quant':<8} {'MiB':>7} {'size':>6} {'quantize s':>10} {'CE':>7} {'dCE':>7} "
              f"{'top1':>6} {'stop':>5} {'tmpl':>5}  verdict at the defaults")
        for quant in args.quants:
            path = tmp / f"m-{quant}.gguf"
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                gguf.quantize(source, path, quant)
                times.append(time.perf_counter() - t)
            got = quant_checks.probe(path, ref, params.max_new_tokens, None)
            v = quant_checks.check(quant, ref, got, params.max_ce_increase[quant],
                           params.min_top1_agreement[quant], params.min_stop_ratio)
            size = path.stat().st_size
            if "error" in got:
                print(f"{quant:<8} {size / 2**20:7.1f} {'':>6} {statistics.median(times):10.2f}  {got['error']}")
                continue
            print(f"{quant:<8} {size / 2**20:7.1f} {size / source_bytes:6.2f} "
                  f"{statistics.median(times):10.2f} {v['cross_entropy']:7.4f} "
                  f"{v['cross_entropy_increase']:+7.2%} {v['top1_agreement']:6.1%} "
                  f"{v['stops_matching']}/{v['stops_checked']:<3} "
                  f"{v['template_prompts_matching']}/{v['template_prompts']:<3} "
                  f"{'verified' if v['verified'] else 'FAILED: ' + '; '.join(v['failures'])}")
            path.unlink()


if __name__ == "__main__":
    main()
