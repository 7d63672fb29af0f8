"""Pairs and preferences as chat-format rows for TRL (conversational prompt/completion)."""

from __future__ import annotations

from tuneline.records import Pair, Preference


def user_chat(instruction: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": instruction}]


def assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def sft_rows(pairs: list[Pair]) -> list[dict]:
    """Prompt/completion rows: TRL computes the loss on the completion only."""
    return [{"prompt": user_chat(p.instruction), "completion": assistant(p.answer)} for p in pairs]


def dpo_rows(prefs: list[Preference]) -> list[dict]:
    return [{"prompt": user_chat(p.instruction), "chosen": assistant(p.chosen),
             "rejected": assistant(p.rejected)} for p in prefs]


# --- export: the curated dataset in the formats other tools read ----------------------------
# alpaca: Stanford Alpaca's instruction/input/output; sharegpt: `conversations` of from/value
# turns (axolotl, LLaMA-Factory); openai: chat fine-tuning `messages`, and for preferences
# OpenAI's DPO shape (input / preferred_output / non_preferred_output). Preferences in alpaca
# and parquet use TRL's prompt/chosen/rejected; sharegpt uses LLaMA-Factory's chosen/rejected turns.
EXPORT_FORMATS = ("alpaca", "sharegpt", "openai", "parquet")


def export_pair(fmt: str, p: Pair) -> dict:
    if fmt == "alpaca":
        return {"instruction": p.instruction, "input": "", "output": p.answer}
    if fmt == "sharegpt":
        return {"conversations": [{"from": "human", "value": p.instruction},
                                  {"from": "gpt", "value": p.answer}]}
    if fmt == "openai":
        return {"messages": user_chat(p.instruction) + assistant(p.answer)}
    if fmt == "parquet":
        return {"pair_id": p.pair_id, "instruction": p.instruction, "answer": p.answer,
                "source": p.source, "chunk_id": p.chunk_id, "score": p.score}
    raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(EXPORT_FORMATS)}")


def export_preference(fmt: str, p: Preference) -> dict:
    if fmt == "sharegpt":
        return {"conversations": [{"from": "human", "value": p.instruction}],
                "chosen": {"from": "gpt", "value": p.chosen},
                "rejected": {"from": "gpt", "value": p.rejected}}
    if fmt == "openai":
        return {"input": {"messages": user_chat(p.instruction)},
                "preferred_output": assistant(p.chosen),
                "non_preferred_output": assistant(p.rejected)}
    if fmt == "alpaca":
        return {"prompt": p.instruction, "chosen": p.chosen, "rejected": p.rejected}
    if fmt == "parquet":
        return {"pair_id": p.pair_id, "prompt": p.instruction, "chosen": p.chosen,
                "rejected": p.rejected, "chosen_score": p.chosen_score,
                "rejected_score": p.rejected_score}
    raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(EXPORT_FORMATS)}")


def write_export(fmt: str, splits: dict[str, list], out) -> dict[str, dict]:
    """Write each split ({"train": pairs, "test": pairs, "preferences": prefs}) as
    OUT/<split>.jsonl (or .parquet). Returns per file its rows and path."""
    import json
    from pathlib import Path

    import pandas as pd

    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, items in splits.items():
        convert = export_preference if split == "preferences" else export_pair
        rows = [convert(fmt, item) for item in items]
        if fmt == "parquet":
            path = out / f"{split}.parquet"
            pd.DataFrame(rows).to_parquet(path, index=False)
        else:
            path = out / f"{split}.jsonl"
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        written[split] = {"path": str(path), "rows": len(rows)}
    return written
