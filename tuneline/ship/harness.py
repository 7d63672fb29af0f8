"""Standard benchmarks (gsm8k, ARC, MMLU, ...) through EleutherAI's lm-evaluation-harness, on the
model the evaluation already loaded (base + merged adapters, in-process transformers: the same
model the answers and the loss come from).

Optional: `pip install 'tuneline[harness]'`. Task data comes from the task's own Hugging Face
dataset (the Hub or the local HF cache), or from local files (`data_files`, for machines that
cannot reach the Hub): the task's registered YAML is included and only its dataset is swapped
(lm-eval's documented `include:`), so prompts, few-shot format, filters and metrics stay the
harness's own. Every item's score is kept: the promotion gate pairs them across models.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from tuneline.params import HarnessTask


def _spec(task: HarnessTask, manager, folder: Path) -> str:
    """The task as lm-eval knows it, or a YAML including it with local data files."""
    if task.data_files is None:
        return task.task
    index = manager.task_index
    if task.task not in index or not getattr(index[task.task], "yaml_path", None):
        raise ValueError(f"evaluation.benchmarks: {task.task!r} is not a task of "
                         "lm-evaluation-harness defined by a YAML file (`lm-eval ls tasks`)")
    for split, path in task.data_files.items():
        if not Path(path).expanduser().exists():
            raise FileNotFoundError(f"evaluation.benchmarks[{task.task}].data_files.{split}: "
                                    f"{path} does not exist")
    suffix = Path(next(iter(task.data_files.values()))).suffix.lower()
    builder = "parquet" if suffix == ".parquet" else "csv" if suffix == ".csv" else "json"
    config = {"include": str(index[task.task].yaml_path), "task": task.task,
              "dataset_path": builder, "dataset_name": None,
              "dataset_kwargs": {"data_files": {s: str(Path(p).expanduser().resolve())
                                                for s, p in task.data_files.items()}}}
    path = folder / f"{task.task}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _metric(task: HarnessTask, sample: dict) -> str:
    if task.metric:
        name = task.metric.split(",")[0]
        if name not in sample:
            raise ValueError(f"evaluation.benchmarks[{task.task}].metric {task.metric!r}: the "
                             f"task's samples have {sorted(sample.get('metrics', []))}")
        return name
    return sample["metrics"][0]


def _one_filter(task: HarnessTask, samples: list[dict]) -> list[dict]:
    """A task logs each item once per filter (gsm8k: strict-match, flexible-extract): the
    configured one, else the first."""
    if not samples:
        return []
    wanted = task.metric.split(",")[1] if task.metric and "," in task.metric else samples[0]["filter"]
    return [s for s in samples if s["filter"] == wanted]


def run(model, tokenizer, tasks: list[HarnessTask], batch_size: int) -> tuple[dict, list[dict]]:
    """Each task's score for the model, and one row per item (task:doc_id, the model's
    filtered reply, the target, the item's score)."""
    try:
        import lm_eval
        from lm_eval.models.huggingface import HFLM
        from lm_eval.tasks import TaskManager
    except ImportError as e:
        raise RuntimeError("evaluation.benchmarks needs lm-evaluation-harness: "
                           "pip install 'tuneline[harness]'") from e
    manager = TaskManager()
    scores: dict[str, float] = {}
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="tuneline-harness-") as tmp:
        for task in tasks:
            spec = _spec(task, manager, Path(tmp))
            lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size,
                      max_gen_toks=task.max_new_tokens)
            try:
                out = lm_eval.simple_evaluate(model=lm, tasks=[spec], limit=task.limit,
                                              num_fewshot=task.num_fewshot, log_samples=True,
                                              task_manager=manager, random_seed=0,
                                              numpy_random_seed=0, torch_random_seed=0,
                                              fewshot_random_seed=0)
            except (ConnectionError, OSError) as e:
                raise RuntimeError(
                    f"evaluation.benchmarks[{task.task}]: its dataset could not be loaded ({e}); "
                    "offline, give local copies in data_files (split -> file)") from e
            # a group (mmlu, ...) logs its subtasks' samples under their own names
            task_scores: list[float] = []
            for name, samples in out["samples"].items():
                kept = _one_filter(task, samples)
                if not kept:
                    continue
                metric = _metric(task, kept[0])
                for s in kept:
                    reply = s["filtered_resps"][0] if s["filtered_resps"] else ""
                    if isinstance(reply, (list, tuple)):
                        reply = reply[0]
                    rows.append({"suite": "benchmark", "item_id": f"{name}:{s['doc_id']}",
                                 "instruction": str(s["arguments"][0][0])[-600:],
                                 "answer": str(reply), "reference": str(s["target"]),
                                 "score": float(s[metric])})
                    task_scores.append(float(s[metric]))
            scores[f"benchmark:{task.task}"] = (round(sum(task_scores) / len(task_scores), 4)
                                                if task_scores else None)
    return scores, rows
