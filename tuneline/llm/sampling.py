"""Sampling whose draw for a prompt depends on that prompt alone, not on its batch.

`model.generate(do_sample=True)` draws every row from one global generator: which replies a
prompt gets depends on which prompts share its batch and in what order. Reused calls (the call
cache, the stack's shared store) then change the batches of the calls still to make, and a run
that reuses half its calls samples the other half differently from a run that reuses none.
Here each row draws from its own generator, seeded by its call's key and the decoding step:
Gumbel-max over the temperature-scaled, top-p-filtered logits, picked by greedy decoding, is
an exact draw from that distribution (argmax(log p + G) with G ~ Gumbel(0, 1)).
"""

from __future__ import annotations

import hashlib


def row_seed(key: str) -> int:
    """A 63-bit seed from a call key (torch generators take a non-negative int64)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") >> 1


def no_repeat_processor(n: int, prompt_length: int):
    """A `LogitsProcessor` that keeps a reply from repeating any run of `n` of its own tokens:
    greedy decoding of a small model loops ("--no-module-caching-caching-caching-..."), and the
    prompt's own runs ("What does the" in its examples) stay allowed, unlike transformers'
    `no_repeat_ngram_size`, which counts the prompt."""
    import torch
    from transformers import LogitsProcessor

    class NoRepeatInReply(LogitsProcessor):
        def __call__(self, input_ids, scores):
            reply = input_ids[:, prompt_length:].tolist()
            for row, toks in enumerate(reply):
                if len(toks) < n:
                    continue
                head = toks[-(n - 1):]
                banned = {toks[i + n - 1] for i in range(len(toks) - n + 1) if toks[i:i + n - 1] == head}
                if banned:
                    scores[row, torch.tensor(sorted(banned), device=scores.device)] = float("-inf")
            return scores

    return NoRepeatInReply()


def processor(seeds: list[int], temperature: float, top_p: float, prompt_length: int):
    """A `LogitsProcessor` for `generate(do_sample=False)` that samples each row with its own
    seed (`seeds[i]` for batch row i)."""
    import torch
    from transformers import LogitsProcessor

    class PerRowSampling(LogitsProcessor):
        def __call__(self, input_ids, scores):
            step = input_ids.shape[1] - prompt_length
            logits = scores.float() / temperature
            if top_p < 1.0:
                # keep the smallest set of tokens whose probability reaches top_p (at least one)
                ordered, idx = torch.sort(logits, descending=True, dim=-1)
                cum = torch.softmax(ordered, dim=-1).cumsum(dim=-1)
                drop = cum - torch.softmax(ordered, dim=-1) >= top_p
                logits = logits.scatter(-1, idx, ordered.masked_fill(drop, float("-inf")))
            noise = torch.empty_like(logits)
            for row, seed in enumerate(seeds):
                gen = torch.Generator(device="cpu").manual_seed((seed + step) % (1 << 63))
                u = torch.rand(logits.shape[-1], generator=gen, dtype=torch.float64)
                noise[row] = (-torch.log(-torch.log(u.clamp_min(1e-300)))).to(noise.dtype)
            return logits + noise

    return PerRowSampling()
