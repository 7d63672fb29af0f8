"""Publishing to the Hugging Face Hub: a registered model (folder, model card) and a curated
dataset (parquet splits, dataset card), and the upload.

The token is read from the environment at upload time and passed only to the HTTP client: it
is never written to the folder, the card, a log line or a return value.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from tuneline import models, patches
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


def read_token(token_env: str) -> str:
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise PermissionError(f"hub.repo_id is set but the environment variable {token_env} is "
                              "empty: export a Hugging Face write token under that name")
    return token


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


def build_folder(out: Path, base_model: str, adapters: list[Path], mode: str, card: str) -> Path:
    """Write what would be uploaded: merged 16-bit weights + tokenizer, or one adapter; README.md."""
    from tuneline import train

    out.mkdir(parents=True, exist_ok=True)
    if mode == "merged":
        train.save_merged(base_model, adapters, out)
    else:
        combine_adapters(base_model, adapters, out)
    (out / "README.md").write_text(card)
    return out


def combine_adapters(base_model: str, adapters: list[Path], out: Path) -> None:
    """One LoRA adapter equal to applying `adapters` in order.

    Each adapter adds scale_i * B_i A_i to a weight, and the sum of these is the low-rank product
    of the concatenated factors, so PEFT's "cat" combination is exact (rank = sum of ranks).
    The DPO adapter was trained on the SFT-merged model, but its update is the same additive term.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    base = AutoModelForCausalLM.from_pretrained(models.resolve(base_model))
    names = [f"a{i}" for i in range(len(adapters))]
    model = PeftModel.from_pretrained(base, str(adapters[0]), adapter_name=names[0])
    for name, path in zip(names[1:], adapters[1:]):
        model.load_adapter(str(path), adapter_name=name)
    model.add_weighted_adapter(names, [1.0] * len(names), "combined", combination_type="cat")
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, selected_adapters=["combined"])
        # PEFT saves a non-default adapter in a subfolder named after it
        for f in (Path(tmp) / "combined").iterdir():
            if f.name != "README.md":  # PEFT's placeholder card; ours is written after
                shutil.move(str(f), out / f.name)
    config = json.loads((out / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = hub_id(base_model) or base_model
    # PEFT gives the combination the first adapter's settings with alpha = r; the source
    # scalings are already inside the concatenated factors, so the combination's own scaling
    # must be exactly 1, which rsLoRA (alpha / sqrt(r)) would break
    config["use_rslora"], config["lora_alpha"] = False, config["r"]
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2))


def upload(folder: Path, repo_id: str, token: str, private: bool, endpoint: str | None,
           message: str, repo_type: str = "model") -> dict:
    """Create the repo if needed and commit the folder; returns the commit's URL and id."""
    from huggingface_hub import HfApi, constants

    api = HfApi(endpoint=endpoint, token=token)
    # HF_HUB_OFFLINE (tuneline's default) keeps model *loading* off the network; a configured
    # push is an explicit request to reach the Hub, so it is allowed for these calls only.
    patches.check("hub-offline-flag")
    offline, constants.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE, False
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message=message,
                                 repo_type=repo_type)
    finally:
        constants.HF_HUB_OFFLINE = offline
    return {"repo_id": repo_id, "commit_url": info.commit_url, "commit": info.oid,
            "endpoint": api.endpoint}


def gguf_folder(out: Path, gguf_files: Path, report: dict, repo_id: str, model_repo: str | None,
                base_model: str, record: dict, license: str | None) -> tuple[Path | None, dict]:
    """What goes to a -GGUF repo: the quants that passed their checks (tuneline/ship/gguf.py), their
    Ollama Modelfiles, a card. Returns the folder (None when no quant passed) and, for each
    quant left out, why."""
    from tuneline.ship import gguf

    ok = gguf.verified(report)
    skipped = {q["quant"]: q["failures"] for q in report.get("quants", []) if not q["verified"]}
    if not ok:
        return None, skipped
    out.mkdir(parents=True, exist_ok=True)
    for q in ok:
        for name in (q["file"], q["modelfile"]):
            shutil.copy(gguf_files / name, out / name)
    source = model_repo or f"{record.get('model')} version {record.get('version')}"
    (out / "README.md").write_text(
        gguf.gguf_card(repo_id, source, model_repo or hub_id(base_model), ok, record, license))
    return out, skipped


# --- datasets --------------------------------------------------------------------------------
# config -> split -> file in the repo; `load_dataset(repo, config)` reads them through the
# card's `configs` (TRL's conversational shapes: SFTTrainer and DPOTrainer take them as they are)
DATASET_FILES = {"sft": {"train": "train_pairs", "test": "test_pairs"},
                 "preferences": {"train": "train_preferences", "test": "test_preferences"}}


def dataset_rows(config: str, items: list) -> list[dict]:
    from tuneline.train import formats

    if config == "sft":
        return [{**row, "instruction": p.instruction, "answer": p.answer, "score": p.score,
                 "source": p.source, "pair_id": p.pair_id}
                for row, p in zip(formats.sft_rows(items), items)]
    return [{**row, "chosen_score": p.chosen_score, "rejected_score": p.rejected_score,
             "pair_id": p.pair_id} for row, p in zip(formats.dpo_rows(items), items)]


def dataset_folder(out: Path, splits: dict[str, list], card: str) -> Path:
    """The files of `data_files` as parquet, and README.md."""
    import pandas as pd

    for config, files in data_files(splits).items():
        (out / config).mkdir(parents=True, exist_ok=True)
        for f in files:
            items = splits[DATASET_FILES[config][f["split"]]]
            pd.DataFrame(dataset_rows(config, items)).to_parquet(out / f["path"], index=False)
    (out / "README.md").write_text(card)
    return out


def data_files(splits: dict[str, list]) -> dict[str, list]:
    """config -> [{split, path}], empty splits left out (a split needs rows to load)."""
    return {config: [{"split": split, "path": f"{config}/{split}.parquet"}
                     for split, artifact in names.items() if splits.get(artifact)]
            for config, names in DATASET_FILES.items()
            if any(splits.get(a) for a in names.values())}


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
