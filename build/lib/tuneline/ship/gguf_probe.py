"""Run one GGUF file in llama.cpp and report what it does; `python -m tuneline.ship.gguf_probe IN OUT`.

A separate process because a broken GGUF does not fail politely: a mis-converted vocabulary
aborts inside llama.cpp's C++ tokenizer (std::out_of_range) and takes the process with it. The
parent (tuneline/ship/gguf.py) turns a dead probe into a failed check with its reason.

IN (JSON): gguf, threads, max_new_tokens, conversations (chat messages, each ending in a user
turn), score (token-id sequences with the index where the answer starts).
OUT (JSON): the GGUF's template and special tokens, the prompt ids the GGUF's own template and
tokenizer give each conversation (as llama-cpp-python's server builds them), how greedy
generation ended, and per scored sequence the answer tokens' negative log-likelihood and argmax.
"""

from __future__ import annotations

import json
import sys

from tuneline import patches


def run(spec: dict) -> dict:
    import numpy as np
    from llama_cpp import Llama, llama_cpp
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    longest = max([len(s["ids"]) for s in spec["score"]] + [0])
    n_ctx = max(longest, 1024) + spec["max_new_tokens"] + 64
    llm = Llama(model_path=spec["gguf"], n_ctx=n_ctx, logits_all=True, n_threads=spec["threads"],
                seed=0, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    eog = [t for t in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)]
    template = llm.metadata.get("tokenizer.chat_template")
    eos, bos = llm.token_eos(), llm.token_bos()
    patches.check("llama-cpp-token-text")
    text = llm._model.token_get_text  # the token texts the server renders the template with
    out = {"chat_template": template, "eos_id": eos, "bos_id": bos, "eog_ids": eog,
           "eog_texts": [text(t) for t in eog], "prompt_ids": [], "generations": [], "scores": []}
    if template:
        fmt = Jinja2ChatFormatter(template=template, eos_token=text(eos) if eos >= 0 else "",
                                  bos_token=text(bos) if bos >= 0 else "")
        for messages in spec["conversations"]:
            try:  # a template may raise on a conversation shape (a system turn, say)
                rendered = fmt(messages=messages)
            except Exception as e:  # noqa: BLE001 - any template error is the finding
                out["template_error"] = f"{type(e).__name__}: {e}"
                out["prompt_ids"].append(None)
                continue
            out["prompt_ids"].append(llm.tokenize(rendered.prompt.encode("utf-8"),
                                                  add_bos=not rendered.added_special, special=True))
    for messages in spec["conversations"]:
        # as a served model answers: the chat endpoint's own formatting and stop rules
        try:
            reply = llm.create_chat_completion(messages=messages, temperature=0.0, seed=0,
                                               max_tokens=spec["max_new_tokens"])
        except Exception as e:  # noqa: BLE001
            out["generations"].append({"finish_reason": f"error: {e}", "tokens": 0, "text": ""})
            continue
        choice = reply["choices"][0]
        out["generations"].append({"finish_reason": choice["finish_reason"],
                                   "tokens": reply["usage"]["completion_tokens"],
                                   "text": choice["message"]["content"]})
    for item in spec["score"]:
        ids, start = item["ids"], item["answer_start"]
        llm.reset()
        llm.eval(ids)
        logits = np.asarray(llm.scores[start - 1:len(ids) - 1], dtype=np.float64)
        logz = np.log(np.exp(logits - logits.max(axis=1, keepdims=True)).sum(axis=1)) \
            + logits.max(axis=1)
        targets = np.asarray(ids[start:])
        nll = logz - logits[np.arange(len(targets)), targets]
        out["scores"].append({"nll": nll.tolist(), "argmax": logits.argmax(axis=1).tolist()})
    return out


def main(argv: list[str]) -> int:
    with open(argv[0]) as f:
        spec = json.load(f)
    result = run(spec)
    with open(argv[1], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
