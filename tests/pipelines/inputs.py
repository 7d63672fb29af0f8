"""What the pipeline tests run on, shared by their modules: the tiny run config, the sample
corpus, the mixed folder of every format, and the gate's decision recomputed from a run."""

import inspect
import io
import json
import shutil
from pathlib import Path

import yaml

from tuneline.params import PromotionParams
from tuneline.ship import promotion as gate

SAMPLE = Path(__file__).parents[2] / "data" / "sample"

TINY = {
    "model": {"name": "tuneline-test"},
    "parameters": {
        "llm": {"batch_size": 8},
        "generation": {"questions_per_chunk": 2, "question_max_tokens": 32, "answer_max_tokens": 64},
        "judging": {"min_score": 1.0},
    },
    "steps": {
        # the tiny corpus must leave a few pairs; the n-gram rules are unit-tested on their own
        "filter_pairs": {"parameters": {"filtering": {"repetition_min_words": 1000}}},
        "build_preferences": {"parameters": {"preference": {"min_margin": 0.0}}},
        # two short batches: what the tests read (metadata, lineage, a registered version, a
        # GGUF of the result) does not change with the batch; every pipeline test pays for these
        "sft": {"parameters": {"sft": {"max_steps": 2, "batch_size": 2, "max_length": 128}}},
        "dpo": {"parameters": {"dpo": {"max_steps": 1, "batch_size": 2, "max_length": 128}}},
        # 4 general prompts with short replies: the check's own cost is measured in the quickstart
        "evaluate": {"parameters": {"evaluation": {"max_examples": 2, "max_new_tokens": 16,
                                                   "general_prompts": 4,
                                                   "general_max_new_tokens": 24}}},
        # 2 test pairs decide nothing under the default gate (min_examples 20, the general guard
        # on 4 prompts): this gate lets tiny runs promote, so the production paths run too
        "register_model": {"parameters": {"promotion": {"min_examples": 1,
                                                        "must_not_regress": {}}}},
        # 4 short test answers of a model trained 2 steps: a noisier cross-entropy estimate than
        # the defaults are set for (q8_0 measured +1.2% here, +0.13% on the quickstart's model)
        "export_gguf": {"parameters": {"gguf": {"max_new_tokens": 48, "check_examples": 4,
                                                "max_ce_increase": {"q8_0": 0.02, "q4_k_m": 0.05}}}},
    },
}


def write_config(path: Path, pipeline: str, **parameters) -> str:
    cfg = json.loads(json.dumps(TINY))
    cfg["extra"] = {"pipeline": pipeline}
    cfg["parameters"].update(parameters)
    if pipeline == "training":  # the training pipeline takes only the judge's LLM
        cfg["parameters"] = {"judge_llm": cfg["parameters"]["llm"],
                             "judging": cfg["parameters"]["judging"], **parameters}
        # the GGUF export is tested on the end-to-end run; here it would only add a minute
        cfg["steps"]["export_gguf"] = {"parameters": {"gguf": {"quants": []}}}
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def gate_decision(run) -> dict:
    """The gate's decision recomputed from the run's stored answers and its gate parameters:
    what register_model must have recorded."""
    step = run.steps["register_model"]
    params = PromotionParams(**step.config.parameters.get("promotion", {}))
    metrics = run.steps["evaluate"].outputs["eval_metrics"][0].load()
    answers = run.steps["evaluate"].outputs["eval_answers"][0].load()
    against = "production" if "production" in metrics else "base"
    return gate.decide(gate.items_from_rows(answers.to_dict("records")), against, "-", params)


# existing instruction data: questions about stdlib functions, answered by their docstrings
IMPORTED = [(f"What does {f.__module__}.{f.__name__} do?",
             inspect.getdoc(f).split("\n\n")[0].replace("\n", " "))
            for f in (json.dumps, json.loads, shutil.copytree)]


def mixed_folder(raw: Path) -> Path:
    """A mixed folder: Markdown and text (the files the other pipeline tests use too, so their
    LLM calls come from the session's call cache), JSONL documents, a PDF with an outline, an
    HTML page in a site's chrome, Alpaca and preference JSONL, and files to quarantine."""
    import pypdf

    from tests.docfiles import make_pdf, markdown_html

    raw.mkdir(parents=True)
    for name in ("02-lora.md", "03-qlora.txt", "11-dpo.md"):
        shutil.copy(SAMPLE / name, raw / name)
    (raw / "notes.jsonl").write_text(json.dumps({"text": (SAMPLE / "07-minhash.md").read_text()})
                                     + "\n{not json\n")
    (raw / "legacy.txt").write_bytes("na\xefve caf\xe9".encode("latin-1"))
    # one chunk each: the opening of two more sample documents
    mixed = (SAMPLE / "15-mixed-precision.txt").read_text().split("\n\n")
    pdf = make_pdf([(mixed[0], "\n\n".join(mixed[1:3]), 0)], title="Mixed precision")
    (raw / "mixed-precision.pdf").write_bytes(pdf)
    unsloth = (SAMPLE / "16-unsloth.md").read_text().split("\n\n")
    (raw / "unsloth.html").write_bytes(markdown_html("\n\n".join(unsloth[:3]), "Unsloth | Docs"))
    (raw / "alpaca.jsonl").write_text("".join(
        json.dumps({"instruction": q, "input": "", "output": a}) + "\n" for q, a in IMPORTED[:2])
        + json.dumps({"instruction": "What is missing here?", "input": ""}) + "\n")
    q, a = IMPORTED[2]
    (raw / "preferences.jsonl").write_text(json.dumps(
        {"prompt": q, "chosen": a, "rejected": "It deletes the directory."}) + "\n")
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password="user-secret", owner_password="owner-secret")
    with open(raw / "locked.pdf", "wb") as f:
        writer.write(f)
    return raw
