"""Rows of existing data -> documents, instruction pairs or preferences.

The shapes other tools write, read by their field names:
- `text`: a document (the field is `ingest.jsonl_text_field`, or a dataset source's own);
- `alpaca`: Stanford Alpaca's `instruction` / `input` / `output`;
- `sharegpt`: `conversations` of `from`/`value` (or `role`/`content`) turns, as axolotl and
  LLaMA-Factory read them; with `chosen` / `rejected` turns, LLaMA-Factory's preference shape;
- `openai`: chat fine-tuning `messages`; OpenAI's DPO shape (`input.messages`,
  `preferred_output`, `non_preferred_output`) is a preference;
- `preference`: TRL's `prompt` / `chosen` / `rejected`, as strings or message lists, or
  chosen/rejected conversations that share their prompt turns (no `prompt` field).

A file's (or dataset's) shape is decided once, from its first row that is an object, unless
`ingest.data_format` names it; a row that does not fit is `Unreadable` with what is missing.
A conversation keeps its system prompt and every turn: a pair is its last exchange after the
earlier ones (`Pair.history`). What cannot be read as one is quarantined with its reason, never
cut down: an unknown role (tool calls among them) `unknown_role`, an empty user or assistant
turn `empty_turn`, two user (or assistant) turns in a row or a first turn that is not the
user's `turns_out_of_order`, a system message after the first user turn `misplaced_system`,
and a last turn that is not the assistant's `no_final_answer`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuneline.records import Exchange, Pair, Preference, Unreadable, stable_id

SHAPES = ("text", "alpaca", "sharegpt", "openai", "preference")
_USER = {"human", "user"}
_ASSISTANT = {"gpt", "assistant", "model", "chatgpt", "bot"}


@dataclass(frozen=True)
class Imported:
    """What one row became: a document's text, or a pair (and its preference)."""

    text: str | None = None
    pair: Pair | None = None
    preference: Preference | None = None


def shape_of(obj: object, text_field: str) -> str | None:
    """The shape a row is written in, or None when it is none of them."""
    if not isinstance(obj, dict):
        return None
    keys = set(obj)
    if {"chosen", "rejected"} <= keys or {"preferred_output", "non_preferred_output"} <= keys:
        return "preference"
    if "conversations" in keys:
        return "sharegpt"
    if "messages" in keys:
        return "openai"
    if {"instruction", "output"} <= keys:
        return "alpaca"
    if text_field in keys:
        return "text"
    return None


def import_row(obj: object, shape: str, where: str, text_field: str) -> Imported:
    """One row in a known shape; `where` (file:line, or dataset:row) becomes the records'
    source. Raises Unreadable."""
    if not isinstance(obj, dict):
        raise Unreadable("malformed_row", f"{where}: a {type(obj).__name__}, not an object")
    if shape == "text":
        value = obj.get(text_field)
        if not isinstance(value, str) or not value.strip():
            raise Unreadable("no_text_field", f"{where}: no non-empty string {text_field!r}")
        return Imported(text=value.strip())
    if shape == "alpaca":
        instruction = _string(obj, "instruction", where)
        extra = obj.get("input") or ""
        if not isinstance(extra, str):
            raise Unreadable("malformed_row", f"{where}: 'input' is a {type(extra).__name__}")
        # Alpaca's own prompt puts the input after the instruction
        prompt = f"{instruction}\n\n{extra.strip()}" if extra.strip() else instruction
        return _pair(where, "", (), prompt, _string(obj, "output", where))
    if shape == "sharegpt" and not {"chosen", "rejected"} & set(obj):
        return _pair(where, *_conversation(obj.get("conversations"), where, "conversations"))
    if shape == "openai":
        return _pair(where, *_conversation(obj.get("messages"), where, "messages"))
    if shape in ("preference", "sharegpt"):
        return _preference(obj, where)
    raise ValueError(f"unknown data shape {shape!r}; known: {', '.join(SHAPES)}")


def _string(obj: dict, key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Unreadable("malformed_row", f"{where}: no non-empty string {key!r}")
    return value.strip()


def _turns(turns: object, where: str, field: str) -> list[tuple[str, str]]:
    """(role, text) of each turn, roles normalised to system/user/assistant."""
    if not isinstance(turns, list) or not turns:
        raise Unreadable("malformed_row", f"{where}: {field!r} is not a non-empty list of turns")
    out = []
    for n, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise Unreadable("malformed_row", f"{where}: {field}[{n}] is not an object")
        role = turn.get("from", turn.get("role"))
        text = turn.get("value", turn.get("content"))
        role = role.lower() if isinstance(role, str) else role
        if role in _USER:
            role = "user"
        elif role in _ASSISTANT:
            role = "assistant"
        elif role != "system":
            raise Unreadable("unknown_role", f"{where}: {field}[{n}] has role {role!r} (known: "
                                             "system, user/human, assistant/gpt)")
        if not isinstance(text, str):
            raise Unreadable("malformed_row", f"{where}: {field}[{n}] has no text content "
                                          "(tool calls and images are not imported)")
        out.append((role, text.strip()))
    return out


Prompt = tuple[str, tuple[Exchange, ...], str]  # system, earlier exchanges, last user turn


def _prompt_turns(parsed: list[tuple[str, str]], where: str, field: str) -> Prompt:
    """A system prompt, then user/assistant turns alternating from the user's, ending in a
    user turn."""
    system = []
    while parsed and parsed[0][0] == "system":
        system.append(parsed.pop(0)[1])
    for n, (role, text) in enumerate(parsed):
        if role == "system":
            raise Unreadable("misplaced_system", f"{where}: {field} has a system message after "
                                                 "the first user turn")
        if role != ("user" if n % 2 == 0 else "assistant"):
            roles = "/".join(r for r, _ in parsed)
            raise Unreadable("turns_out_of_order", f"{where}: {field} turns {roles}; user and "
                                                   "assistant turns alternate from the user's")
        if not text:
            raise Unreadable("empty_turn", f"{where}: {field} has an empty {role} turn "
                                           f"(turn {n + 1})")
    if not parsed or parsed[-1][0] != "user":
        raise Unreadable("turns_out_of_order" if parsed else "malformed_row",
                         f"{where}: {field} does not end in a user turn")
    history = tuple((parsed[i][1], parsed[i + 1][1]) for i in range(0, len(parsed) - 1, 2))
    return "\n\n".join(t for t in system if t), history, parsed[-1][1]


def _conversation(turns: object, where: str, field: str) -> tuple[str, tuple[Exchange, ...], str, str]:
    """(system, earlier exchanges, last user turn, last assistant turn) of a conversation."""
    parsed = _turns(turns, where, field)
    if parsed[-1][0] != "assistant":
        raise Unreadable("no_final_answer", f"{where}: {field} ends in a {parsed[-1][0]} turn, "
                                            "not an assistant's answer")
    answer = parsed.pop()[1]
    if not answer:
        raise Unreadable("empty_turn", f"{where}: {field} ends in an empty assistant turn")
    return (*_prompt_turns(parsed, where, field), answer)


def _pair(where: str, system: str, history: tuple[Exchange, ...], instruction: str,
          answer: str) -> Imported:
    # a single-turn pair's id is what it was before conversations were imported
    extra = (system, repr(history)) if system or history else ()
    return Imported(pair=Pair(stable_id(where, instruction, answer, *extra), "", where,
                              instruction, answer, system=system, history=history))


def _answer(value: object, where: str, field: str) -> str:
    """A preference side: a string, one assistant message, or a list ending in one."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, dict):
        value = [value]
    turns = _turns(value, where, field)
    if turns[-1][0] != "assistant" or not turns[-1][1]:
        raise Unreadable("malformed_row", f"{where}: {field!r} does not end in an assistant turn")
    return turns[-1][1]


def _preference(obj: dict, where: str) -> Imported:
    if "preferred_output" in obj:  # OpenAI DPO
        prompt = (obj.get("input") or {}).get("messages") if isinstance(obj.get("input"), dict) else None
        system, history, instruction = _prompt(prompt, where, "input.messages")
        chosen = _answer(obj["preferred_output"], where, "preferred_output")
        rejected = _answer(obj["non_preferred_output"], where, "non_preferred_output")
    else:
        prompt = obj.get("prompt", obj.get("conversations"))
        if prompt is None:  # implicit prompt: both conversations start with the same turns
            chosen_turns = _turns(obj.get("chosen"), where, "chosen")
            rejected_turns = _turns(obj.get("rejected"), where, "rejected")
            if chosen_turns[:-1] != rejected_turns[:-1]:
                raise Unreadable("malformed_row", f"{where}: no 'prompt', and chosen and rejected "
                                              "do not share their prompt turns")
            prompt = [{"role": r, "content": t} for r, t in chosen_turns[:-1]]
        system, history, instruction = _prompt(prompt, where, "prompt")
        chosen = _answer(obj.get("chosen"), where, "chosen")
        rejected = _answer(obj.get("rejected"), where, "rejected")
    if chosen == rejected:
        raise Unreadable("malformed_row", f"{where}: chosen and rejected are the same text")
    pair = _pair(where, system, history, instruction, chosen).pair
    nan = float("nan")  # scored by the judge later, like generated preferences
    return Imported(pair=pair, preference=Preference(pair.pair_id, instruction, chosen, rejected,
                                                     nan, nan, system=system, history=history))


def _prompt(turns: object, where: str, field: str) -> Prompt:
    if isinstance(turns, str) and turns.strip():
        return "", (), turns.strip()
    return _prompt_turns(_turns(turns, where, field), where, field)
