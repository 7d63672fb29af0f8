"""JSON-schema constrained decoding for the in-process transformers backend.

Servers enforce a schema themselves (the openai backend sends `response_format`); a local
model is steered token by token: before each token is picked, every token that cannot extend
the reply towards JSON valid for the schema is masked out, so the reply cannot come back in
the wrong shape. The character-level JSON-schema parser and the token prefix tree are
lm-format-enforcer's (the guided-decoding backend vLLM shipped); its own transformers
integration imports a module transformers 5 no longer has, so the tokenizer table and the
logits processor are built here with its tokenizer-independent core.
"""

from __future__ import annotations

import weakref

# tokenizer -> its token table (~1 s to build for a 49k vocabulary); keyed by the object, not
# its id(), which a later tokenizer at the same address would inherit with the wrong table
_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _table(tokenizer):
    """Each regular token's text as it reads after another token (so a token that starts a
    word keeps its leading space), the parser's view of the vocabulary."""
    from lmformatenforcer import TokenEnforcerTokenizerData

    if tokenizer not in _TABLES:
        zero = tokenizer.encode("0", add_special_tokens=False)[-1]
        special = set(tokenizer.all_special_ids)
        regular = []
        for i in range(len(tokenizer)):
            if i in special:
                continue
            after_zero = tokenizer.decode([zero, i])[1:]
            regular.append((i, after_zero, len(after_zero) > len(tokenizer.decode([i]))))
        _TABLES[tokenizer] = TokenEnforcerTokenizerData(
            regular, lambda ids: tokenizer.decode(ids).rstrip("\ufffd"), tokenizer.eos_token_id,
            False, len(tokenizer))
    return _TABLES[tokenizer]


def processor(tokenizer, schema: dict, prompt_length: int):
    """A `LogitsProcessor` that leaves each row only the tokens that keep its reply (the tokens
    after `prompt_length`) a prefix of JSON valid for `schema`, and end-of-sequence once the
    JSON is complete. Rows already ended are left alone (generate pads them)."""
    import torch
    from lmformatenforcer import JsonSchemaParser, TokenEnforcer
    from transformers import LogitsProcessor

    enforcer = TokenEnforcer(_table(tokenizer), JsonSchemaParser(schema))
    ends = tokenizer.eos_token_id

    class JsonSchemaMask(LogitsProcessor):
        def __call__(self, input_ids, scores):
            for row, ids in enumerate(input_ids.tolist()):
                reply = ids[prompt_length:]
                if ends in reply:
                    continue
                # the enforcer keys its state by the whole sequence: a prompt it has not seen
                # starts a new reply, so rows of one batch never share parser state
                allowed = enforcer.get_allowed_tokens(ids).allowed_tokens
                mask = torch.full_like(scores[row], float("-inf"))
                mask[torch.tensor(allowed, dtype=torch.long, device=scores.device)] = 0
                scores[row] = scores[row] + mask
            return scores

    return JsonSchemaMask()
