"""General ability outside the training domain: instruction following with verifiable constraints.

Fine-tuning on a narrow corpus most often breaks what the base model could do elsewhere. This
check asks every evaluated model the same general, out-of-domain prompts, each carrying
constraints a program can verify ("no commas", "exactly 3 bullet points", "end with this
phrase"), and counts the constraints followed. The verifiers are IFEval's (Zhou et al. 2023)
as packaged by `if-verifiable`; the prompts are the project's own (`general_prompts.jsonl`,
50 prompts, 61 constraints), in IFEval's input format, so a local copy of IFEval's
`input_data.jsonl` (or any file in that shape) can replace them (`evaluation.general_prompts_file`).

Nothing is downloaded: instructions whose verifier needs NLTK data that is not installed
(sentence counting, capital-word counting) are left out with a reason, never silently.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

BUNDLED = Path(__file__).with_name("general_prompts.jsonl")

# IFEval verifiers that load NLTK data files (punkt), which do not ship with the package
NEEDS_NLTK_DATA = {"length_constraints:number_sentences": "tokenizers/punkt",
                   "change_case:capital_word_frequency": "tokenizers/punkt_tab"}


@functools.cache
def _registry() -> dict:
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT

    return INSTRUCTION_DICT


def _nltk_has(resource: str) -> bool:
    import nltk

    try:
        nltk.data.find(resource)
        return True
    except LookupError:
        return False


def load_prompts(path: str | Path | None = None, limit: int | None = None
                 ) -> tuple[list[dict], list[dict]]:
    """The prompts to ask (at most `limit`, in file order) and those left out, each with a
    reason. A malformed line or an instruction id IFEval does not know is an error naming
    the file and line: a typo must not shrink the check unnoticed."""
    path = Path(path) if path else BUNDLED
    registry = _registry()
    usable, left_out = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
            prompt, ids, kwargs = row["prompt"], row["instruction_id_list"], row["kwargs"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{where}: not an IFEval prompt line ({e!r}); expected JSON with "
                             "prompt, instruction_id_list and kwargs") from e
        if len(kwargs) != len(ids):
            raise ValueError(f"{where}: {len(ids)} instruction ids but {len(kwargs)} kwargs")
        unknown = [i for i in ids if i not in registry]
        if unknown:
            raise ValueError(f"{where}: unknown IFEval instruction id(s) {unknown}")
        missing = [i for i in ids if i in NEEDS_NLTK_DATA and not _nltk_has(NEEDS_NLTK_DATA[i])]
        item = {"key": str(row.get("key", n)), "prompt": prompt, "instruction_id_list": ids,
                "kwargs": kwargs}
        if missing:
            left_out.append({**item, "reason": f"needs NLTK data not installed: "
                                               f"{', '.join(NEEDS_NLTK_DATA[i] for i in missing)}"})
        else:
            usable.append(item)
    return (usable[:limit] if limit else usable), left_out


def verify(item: dict, response: str) -> dict:
    """Which of the prompt's constraints the response follows (IFEval's strict and loose
    readings; loose also accepts the response without its first/last line or markdown stars)."""
    from if_verifiable.common import evaluate_instructions

    results, scores = evaluate_instructions(response, item["instruction_id_list"],
                                            item["kwargs"], item["prompt"], _registry())
    loose = {r.instruction_id: r.loose_pass for r in results}
    return {"followed": sum(r.loose_pass for r in results),
            "followed_strict": sum(r.strict_pass for r in results),
            "instructions": len(item["instruction_id_list"]),
            "all_followed_strict": bool(scores.binary_strict),
            # an empty reply follows nothing: every constraint listed as missed
            "missed": [i for i in item["instruction_id_list"] if not loose.get(i, False)]}


def summarize(verdicts: list[dict]) -> dict:
    """IFEval's headline numbers over a model's replies."""
    total = sum(v["instructions"] for v in verdicts)
    return {"instruction_following": round(sum(v["followed"] for v in verdicts) / total, 4)
            if total else None,
            "instruction_following_strict": round(
                sum(v["followed_strict"] for v in verdicts) / total, 4) if total else None,
            "prompts_all_followed_strict": round(
                sum(v["all_followed_strict"] for v in verdicts) / len(verdicts), 4)
            if verdicts else None,
            "general_prompts": len(verdicts)}
