"""Pairs and preferences as the rows TRL trains on, and the curated dataset as other tools read it.

Single-turn pairs are conversational prompt/completion rows: TRL tokenizes them and computes
the loss on the completion. Conversations train on every assistant turn, which TRL's
prompt/completion rows cannot say (the loss would fall on the last turn only) and its
`assistant_only_loss` reads from `{% generation %}` markers that common chat templates (the
bundled one among them) lack: their rows are tokenized here, the mask located by rendering
each prefix of the conversation with the tokenizer's own template (`conversation_tokens`).
"""

from __future__ import annotations

from tuneline.records import Pair, Preference, messages, prompt_messages


def user_chat(instruction: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": instruction}]


def assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def sft_rows(pairs: list[Pair], system: str = "") -> list[dict]:
    """Prompt/completion rows while every pair is one exchange; whole conversations
    (`messages`, tokenized by `trainer_dataset`) once any pair has earlier turns. `system`:
    the system prompt of pairs that have none."""
    if not any(p.history for p in pairs):
        return [{"prompt": prompt_messages(p, system), "completion": assistant(p.answer)}
                for p in pairs]
    return [{"messages": messages(p, system)} for p in pairs]


def dpo_rows(prefs: list[Preference], system: str = "") -> list[dict]:
    """The prompt is the conversation up to its last user turn; chosen/rejected its last turn."""
    return [{"prompt": prompt_messages(p, system), "chosen": assistant(p.chosen),
             "rejected": assistant(p.rejected)} for p in prefs]


def assistant_spans(tok, conversation: list[dict], chat_template: str | None = None
                    ) -> tuple[str, list[tuple[int, int]]]:
    """The conversation as the template renders it, and the character span of each assistant
    turn: from where the template's generation prompt ends (the prefix up to that turn,
    rendered with `add_generation_prompt`) to the end of the turn as rendered (its end-of-turn
    marker included, so the model learns to stop). Raises ValueError when a prefix of the
    conversation does not render as a prefix of the whole (a template that rewrites earlier
    turns, e.g. drops their reasoning): its assistant tokens cannot be located."""
    def render(msgs: list[dict], generation: bool) -> str:
        return tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=generation,
                                       chat_template=chat_template)

    full = render(conversation, False)
    spans = []
    for k, m in enumerate(conversation):
        if m["role"] != "assistant":
            continue
        start, end = render(conversation[:k], True), render(conversation[:k + 1], False)
        if not (full.startswith(start) and full.startswith(end) and len(end) > len(start)):
            raise ValueError(f"the chat template does not render the conversation up to assistant "
                             f"turn {len(spans) + 1} as the start of the whole conversation; the "
                             "turn's tokens cannot be located for the loss mask")
        spans.append((len(start), len(end)))
    return full, spans


def conversation_tokens(tok, conversation: list[dict], chat_template: str | None = None
                        ) -> tuple[list[int], list[int]]:
    """Token ids of a conversation (those `apply_chat_template(..., tokenize=True)` gives) and
    a mask that is 1 on exactly the tokens of its assistant turns (`assistant_spans`); a token
    belongs to the span its first character is in."""
    full, spans = assistant_spans(tok, conversation, chat_template)
    enc = tok(full, add_special_tokens=False, return_offsets_mapping=True)
    mask = [int(any(a <= first < b for a, b in spans)) for first, _ in enc["offset_mapping"]]
    return list(enc["input_ids"]), mask


def trainer_dataset(rows: list[dict], tok):
    """The `datasets.Dataset` a trainer gets: rows as they are, or conversations tokenized
    with `labels` (-100 off the assistant turns), which TRL uses as given, truncates to
    max_length and packs whole."""
    from datasets import Dataset

    if not rows or "messages" not in rows[0]:
        return Dataset.from_list(rows)
    tokenized = []
    for row in rows:
        ids, mask = conversation_tokens(tok, row["messages"])
        tokenized.append({"input_ids": ids,
                          "labels": [t if m else -100 for t, m in zip(ids, mask)]})
    return Dataset.from_list(tokenized)


# --- export: the curated dataset in the formats other tools read ----------------------------
# alpaca: Stanford Alpaca's instruction/input/output, with LLaMA-Factory's `system` and
# `history` ([[user, assistant], ...]) where a pair has them; sharegpt: `conversations` of
# from/value turns, a system prompt as the first turn (axolotl, LLaMA-Factory); openai: chat
# fine-tuning `messages`, and for preferences OpenAI's DPO shape (input / preferred_output /
# non_preferred_output). Preferences in alpaca and parquet use TRL's prompt/chosen/rejected (the
# prompt a message list when it has more than one user turn or a system prompt); sharegpt uses
# LLaMA-Factory's chosen/rejected turns. Every turn and the system prompt are written; a
# single-turn pair's row is what it was before conversations existed.
EXPORT_FORMATS = ("alpaca", "sharegpt", "openai", "parquet")
_SHAREGPT_ROLE = {"system": "system", "user": "human", "assistant": "gpt"}


def _sharegpt(msgs: list[dict]) -> list[dict]:
    return [{"from": _SHAREGPT_ROLE[m["role"]], "value": m["content"]} for m in msgs]


def _context(record: Pair | Preference) -> dict:
    out = {"system": record.system} if record.system else {}
    return out | ({"history": [list(e) for e in record.history]} if record.history else {})


def export_pair(fmt: str, p: Pair) -> dict:
    if fmt == "alpaca":
        return {"instruction": p.instruction, "input": "", "output": p.answer, **_context(p)}
    if fmt == "sharegpt":
        return {"conversations": _sharegpt(messages(p))}
    if fmt == "openai":
        return {"messages": messages(p)}
    if fmt == "parquet":
        return {"pair_id": p.pair_id, "instruction": p.instruction, "answer": p.answer,
                "source": p.source, "chunk_id": p.chunk_id, "score": p.score,
                "system": p.system, "history": [list(e) for e in p.history]}
    raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(EXPORT_FORMATS)}")


def export_preference(fmt: str, p: Preference) -> dict:
    prompt = prompt_messages(p)
    if fmt == "sharegpt":
        return {"conversations": _sharegpt(prompt),
                "chosen": {"from": "gpt", "value": p.chosen},
                "rejected": {"from": "gpt", "value": p.rejected}}
    if fmt == "openai":
        return {"input": {"messages": prompt},
                "preferred_output": assistant(p.chosen),
                "non_preferred_output": assistant(p.rejected)}
    text_prompt = p.instruction if len(prompt) == 1 else prompt
    if fmt == "alpaca":
        return {"prompt": text_prompt, "chosen": p.chosen, "rejected": p.rejected}
    if fmt == "parquet":
        return {"pair_id": p.pair_id, "prompt": p.instruction, "chosen": p.chosen,
                "rejected": p.rejected, "chosen_score": p.chosen_score,
                "rejected_score": p.rejected_score, "system": p.system,
                "history": [list(e) for e in p.history]}
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
