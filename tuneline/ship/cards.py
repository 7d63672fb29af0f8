"""Hub cards: the README.md of a model, GGUF and dataset repo (YAML metadata, then prose and
tables), built from what the run recorded."""

from __future__ import annotations

import json
from pathlib import Path

from tuneline import models
from tuneline.text import fmt_number

# Hub ids of the bundled models, for the card's `base_model` (the Hub links the two).
BUNDLED_HUB_IDS = {
    f"bundled:{models.SMOLLM2}": "HuggingFaceTB/SmolLM2-135M-Instruct",
    f"bundled:{models.MINILM}": "sentence-transformers/all-MiniLM-L6-v2",
}


def hub_id(base_model: str) -> str | None:
    """The base model's Hub id, when it has one (a local path has none)."""
    if base_model in BUNDLED_HUB_IDS:
        return BUNDLED_HUB_IDS[base_model]
    if not Path(base_model).expanduser().exists() and base_model.count("/") == 1:
        return base_model
    return None


# config -> split -> file in the repo; `load_dataset(repo, config)` reads them through the
# card's `configs` (TRL's conversational shapes: SFTTrainer and DPOTrainer take them as they are)
DATASET_FILES = {"sft": {"train": "train_pairs", "test": "test_pairs"},
                 "preferences": {"train": "train_preferences", "test": "test_preferences"}}


def data_files(splits: dict[str, list]) -> dict[str, list]:
    """config -> [{split, path}], empty splits left out (a split needs rows to load)."""
    return {config: [{"split": split, "path": f"{config}/{split}.parquet"}
                     for split, artifact in names.items() if splits.get(artifact)]
            for config, names in DATASET_FILES.items()
            if any(splits.get(a) for a in names.values())}


def gguf_card(repo_id: str, source: str, base_model: str | None, quants: list[dict],
              record: dict, license: str | None) -> str:
    """README.md of a -GGUF repo: which quants, how each compares with the merged model, how
    to run them."""
    from huggingface_hub import ModelCardData

    data = ModelCardData(base_model=base_model, license=license, pipeline_tag="text-generation",
                         tags=["gguf", "llama.cpp", "ollama", "tuneline", "zenml"])
    name = repo_id.split("/")[-1]
    lines = ["---", data.to_yaml(), "---", "", f"# {repo_id}", "",
             f"GGUF quants of `{source}` (ZenML model `{record.get('model')}` version "
             f"{record.get('version')}), converted with llama.cpp's `convert_hf_to_gguf.py` and "
             "quantized with `llama_model_quantize`. Each file was run in llama.cpp before upload "
             "and checked against the merged 16-bit model on the held-out test split.", "",
             "| file | size | answer cross-entropy vs merged | greedy agreement | template | "
             "stops | sha256 |", "|---|---|---|---|---|---|---|"]
    for q in quants:
        c = q["checks"]
        lines.append(
            f"| {q['file']} | {q['bytes'] / 2**20:.1f} MiB | {c['cross_entropy']:.4f} vs "
            f"{c['merged_cross_entropy']:.4f} ({c['cross_entropy_increase']:+.2%}) | "
            f"{c['top1_agreement']:.1%} | {c['template_prompts_matching']}/"
            f"{c['template_prompts']} prompts | {c['stops_matching']}/{c['stops_checked']} | `{q['sha256']}` |")
    first = quants[0]["file"] if quants else f"{name}.gguf"
    lines += ["", "## Run it", "", "llama.cpp:", "", "```bash",
              f"llama-server -m {first} --jinja   # OpenAI-compatible, on :8080", "```", "",
              "Ollama (the Modelfile carries the chat template and stop tokens):", "", "```bash",
              f"ollama create {name.lower()} -f {quants[0]['modelfile'] if quants else 'Modelfile'}",
              f"ollama run {name.lower()}", "```", ""]
    return "\n".join(lines)


def model_card(repo_id: str, record: dict, mode: str, intended_use: str,
               license: str | None = None) -> str:
    """README.md for the Hub: YAML metadata, then what the model is, its data, training and eval.


    `record` is the model version's registry metadata (see tuneline_steps/register.py): base_model,
    datasets, hyperparameters, eval_metrics, base_eval_metrics, promotion, model, version, run.
    """
    from huggingface_hub import ModelCardData


    base = record["base_model"]
    base_id = hub_id(base)
    data = ModelCardData(
        base_model=base_id, license=license, pipeline_tag="text-generation",
        library_name="peft" if mode == "adapter" else "transformers",
        tags=["tuneline", "zenml", "sft", "dpo", "lora", "trl"],
    )
    tuned, basem = record.get("eval_metrics", {}), record.get("base_eval_metrics", {})
    lines = [
        "---", data.to_yaml(), "---", "",
        f"# {repo_id}", "",
        f"Fine-tuned from `{base_id or base}` by tuneline pipelines on ZenML: "
        "LoRA supervised fine-tuning on instruction/answer pairs generated from a document corpus "
        "and curated (rule filters, exact/MinHash/embedding dedup, LLM-judge scoring), then DPO on "
        "judge-ranked preference pairs. "
        + ("This repository holds one LoRA adapter (the SFT and DPO adapters concatenated, which "
           "is exact) to load on the base model." if mode == "adapter"
           else "This repository holds the merged model in 16-bit."),
        "", "## Intended use", "", intended_use, "",
        "## Training data", "",
        ("Versions of the ZenML artifacts this model was trained and evaluated on; the content "
        "hash is sha256 over the data, so the same hash means the same records."), "",
        "| artifact | ZenML version | records | content sha256 |", "|---|---|---|---|",
    ]
    for name, d in sorted(record.get("datasets", {}).items()):
        lines.append(f"| {name} | {d.get('version')} | {d.get('rows')} | `{d.get('content_hash')}` |")
    lines += ["", "## Training procedure", ""]
    for stage, hp in record.get("hyperparameters", {}).items():
        flat = _flatten(hp)
        lines += [f"**{stage.upper()}**", "", "| hyperparameter | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in flat.items()] + [""]
    lines += ["## Evaluation", "",
              (f"On the held-out test split, base model vs this model "
              f"({tuned.get('examples', '?')} examples; lower eval_loss is better, judge_score 1-5)."), "",
              "| metric | base | tuned |", "|---|---|---|"]
    for metric in sorted(set(tuned) | set(basem)):
        if metric != "examples":
            lines.append(f"| {metric} | {fmt_number(basem.get(metric))} | {fmt_number(tuned.get(metric))} |")
    promo = record.get("promotion", {})
    if promo.get("metrics"):
        # the gate's paired comparison (tuneline/ship/promotion.py): what the stage rests on
        lines += ["", (f"Promotion gate, against {promo.get('against')}: **{promo.get('verdict')}**"
                       f" ({promo.get('confidence', 0):.0%} paired-bootstrap intervals of the gain; "
                       "positive = better)."), "",
                  "| metric | role | items | gain | interval |", "|---|---|---|---|---|"]
        for metric, g in promo["metrics"].items():
            if g.get("n"):
                lines.append(f"| {metric} | {g['role']} | {g['n']} | {g['gain']:+.4f} | "
                             f"[{g['gain_interval'][0]:+.4f}, {g['gain_interval'][1]:+.4f}] |")
    lines += ["", "## Provenance", "",
              (f"- ZenML model `{record.get('model')}` version {record.get('version')}, "
              f"stage `{promo.get('stage')}`: {promo.get('reason')}"),
              f"- training run `{record.get('run')}`",
              ("- `tuneline lineage` on that version lists every curation step, its ledger, and "
              "the raw files (path, size, sha256)."), "",
              "## How to use", "", "```python", *_usage(repo_id, base_id or base, mode), "```", ""]
    return "\n".join(lines)



def _usage(repo_id: str, base: str, mode: str) -> list[str]:
    if mode == "adapter":
        return ["from peft import AutoPeftModelForCausalLM",
                "from transformers import AutoTokenizer",
                f'model = AutoPeftModelForCausalLM.from_pretrained("{repo_id}")',
                f'tokenizer = AutoTokenizer.from_pretrained("{base}")']
    return ["from transformers import AutoModelForCausalLM, AutoTokenizer",
            f'model = AutoModelForCausalLM.from_pretrained("{repo_id}")',
            f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")']



def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out



def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"



def dataset_card(repo_id: str, splits: dict[str, list], sources: list[dict], curation: dict,
                 settings: dict, run: dict, pretty_name: str | None, description: str,
                 license: str | None, max_sources: int = 200) -> str:
    """README.md of a dataset repo: YAML metadata (licence, sizes, the configs `load_dataset`
    reads), then what the data is, where it came from (every source with its sha256), the
    curation funnel with its drops per stage and reason, and the settings that made it."""
    from huggingface_hub import DatasetCardData


    configs = data_files(splits)
    total = sum(len(v) for v in splits.values())
    meta = DatasetCardData(
        license=license or "unknown", pretty_name=pretty_name or repo_id,
        task_categories=["text-generation", "question-answering"],
        tags=["tuneline", "zenml", "synthetic", "instruction-tuning", "dpo"],
        size_categories=[_size_category(total)],
        configs=[{"config_name": c, "data_files": f, **({"default": True} if c == "sft" else {})}
                 for c, f in configs.items()])
    lines = ["---", meta.to_yaml(), "---", "", f"# {pretty_name or repo_id}", "", description, "",
             "## Load", "", "```python", "from datasets import load_dataset", ""]
    lines += [f'{c} = load_dataset("{repo_id}", "{c}")' for c in configs]
    lines += ["```", "",
              "`sft` rows are TRL's conversational prompt/completion (with the plain `instruction`, "
              "`answer`, judge `score` and `source`); `preferences` rows are prompt/chosen/rejected "
              "with the judge's scores of both sides.", "",
              "## Splits", "", "| config | split | rows |", "|---|---|---|"]
    for config, names in DATASET_FILES.items():
        for split, artifact in names.items():
            lines.append(f"| {config} | {split} | {len(splits.get(artifact) or [])} |")
    lines += ["", "## Sources", "",
              f"{len(sources)} sources (files of the raw folder, `hf:` Hugging Face datasets); "
              "sha256 is over the file's bytes, or over a dataset's rows.", "",
              "| source | bytes | sha256 |", "|---|---|---|"]
    lines += [f"| {s['path']} | {s['size']} | `{s['sha256']}` |" for s in sources[:max_sources]]
    if len(sources) > max_sources:
        lines.append(f"| ... and {len(sources) - max_sources} more | | |")
    lines += ["", "## Curation", "", "Records left after each stage:", "",
              "| stage | records |", "|---|---|"]
    lines += [f"| {label} | {n} |" for label, n in curation.get("funnel", [])]
    lines += ["", "Dropped records, by stage and reason (each is kept, with the reason, in the "
              "run's `*_rejected` artifacts):", "", "| stage | reason | records |", "|---|---|---|"]
    for stage, reasons in curation.get("dropped", {}).items():
        lines += [f"| {stage} | {reason} | {n} |" for reason, n in reasons.items()]
    lines += ["", "## Settings", ""]
    for name, params in settings.items():
        flat = _flatten(params)
        lines += [f"**{name}**", "", "| setting | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in flat.items()] + [""]
    lines += ["## Provenance", "",
              f"- ZenML pipeline run `{run.get('name')}` (`{run.get('id')}`) of `{run.get('pipeline')}`",
              f"- licence: {license or 'not set (dataset_hub.license)'}", ""]
    return "\n".join(lines)



def _cell(value) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 200 else text[:197] + "..."
