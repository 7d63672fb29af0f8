"""Local generation with transformers: batched, left-padded, chat template from the tokenizer."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from tuneline import models
from tuneline.llm import constrained, sampling
from tuneline.llm.cache import CallCache, cached_calls, call_keys, open_cache
from tuneline.params import LLMParams


@dataclass
class TransformersLLM:
    name: str
    model: Any
    tokenizer: Any
    batch_size: int
    seed: int
    cache: CallCache | None = None
    usage: dict = field(default_factory=dict)

    dtype: str = "float32"

    @property
    def identity(self) -> dict:
        # the weights' precision changes the replies: bf16 calls are cached apart from fp32's
        ident = {"backend": "transformers", "model": self.name}
        return ident if self.dtype == "float32" else {**ident, "dtype": self.dtype}

    def _prompts(self, chats: Sequence[list[dict[str, str]]], prefix: str = "") -> list[str]:
        return [
            self.tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) + prefix
            for c in chats
        ]

    def _batches(self, texts: list[str], desc: str, size: int | None = None):
        """Yield (positions, encoded batch), similar lengths together so batches carry little padding."""
        from tqdm.auto import tqdm

        size = size or self.batch_size
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with tqdm(total=len(texts), desc=desc, unit="prompt") as bar:
            for start in range(0, len(order), size):
                idx = order[start:start + size]
                enc = self.tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                                     add_special_tokens=False).to(self.model.device)
                self._count("prompt_tokens", int(enc["attention_mask"].sum()))
                yield idx, enc
                bar.update(len(idx))

    def _count(self, key: str, n: int) -> None:
        self.usage[key] = self.usage.get(key, 0) + n

    def generate(self, chats, *, max_new_tokens, temperature=0.0, top_p=1.0, desc="generate",
                 schema=None, no_repeat=None):
        """With `schema`, decoding is constrained to JSON of that shape (tuneline/llm/constrained.py);
        with `no_repeat`, a reply repeats no run of that many of its own tokens."""
        import torch
        from transformers import LogitsProcessorList

        params = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p,
                  "seed": self.seed}
        if schema is not None:
            params["schema"] = schema  # constrained replies are cached apart from free ones
        if no_repeat:
            params["no_repeat"] = no_repeat
        if temperature > 0:
            params["sampler"] = "per-call"  # apart from replies cached by the batch-wide sampler
        # each sampled call draws from a generator of its own, seeded by its key: its reply
        # does not depend on which calls share its batch (tuneline/llm/sampling.py)
        seeds = [sampling.row_seed(k) for k in call_keys(self.identity, "generate", chats, params)]

        def run(todo: list[int]):
            texts = self._prompts([chats[i] for i in todo])
            with torch.inference_mode():
                for idx, enc in self._batches(texts, desc):
                    width = enc["input_ids"].shape[1]
                    processors = []  # the mask first: the sampler draws among allowed tokens
                    if schema is not None:
                        processors.append(constrained.processor(self.tokenizer, schema, width))
                    if no_repeat:
                        processors.append(sampling.no_repeat_processor(no_repeat, width))
                    if temperature > 0:
                        processors.append(sampling.processor(
                            [seeds[todo[i]] for i in idx], temperature, top_p, width))
                    extra = {"logits_processor": LogitsProcessorList(processors)} if processors else {}
                    gen = self.model.generate(**enc, max_new_tokens=max_new_tokens,
                                              pad_token_id=self.tokenizer.pad_token_id,
                                              do_sample=False, **extra)
                    new = gen[:, enc["input_ids"].shape[1]:]
                    self._count("completion_tokens", int((new != self.tokenizer.pad_token_id).sum()))
                    yield [todo[i] for i in idx], [
                        self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in new]

        return cached_calls(self.cache, self.identity, "generate", chats, params, run, self.usage)

    def choice_probs(self, chats, prefix, choices, *, desc="score"):
        import torch

        ids = [self.tokenizer.encode(c, add_special_tokens=False) for c in choices]
        if any(len(i) != 1 for i in ids):
            raise ValueError(f"choices must each be one token for {self.name}: {list(choices)}")
        choice_ids = [i[0] for i in ids]

        # On the CPU each prompt is scored alone: its probabilities then depend on it alone, so
        # a score reused from the call cache equals a fresh one to the last bit (batched, a
        # row's padding moved them by up to ~3e-6, enough to flip a rounded score), and on 2
        # cores it was faster too (32 judge prompts of ~400 tokens: 23.5 s alone, 34.8 s in
        # batches of 16: padding cost more than batching saved). On a GPU, batches.
        size = 1 if self.model.device.type == "cpu" else self.batch_size

        def run(todo: list[int]):
            texts = self._prompts([chats[i] for i in todo], prefix)
            with torch.inference_mode():
                for idx, enc in self._batches(texts, desc, size):
                    # left padding: the last position is every row's next-token position
                    logits = self.model(**enc).logits[:, -1, :].float()
                    probs = torch.softmax(logits, dim=-1)[:, choice_ids]
                    yield [todo[i] for i in idx], probs.tolist()

        params = {"prefix": prefix, "choices": list(choices)}
        return cached_calls(self.cache, self.identity, "choice_probs", chats, params, run, self.usage)


def load(params: LLMParams, shared=None) -> TransformersLLM:
    # a fresh handle on the shared loaded model: its own usage counters, this config's cache
    return replace(_load(params.model, params.device, params.threads, params.batch_size, params.seed,
                         params.dtype), cache=open_cache(params.cache, shared), usage={})


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """x86 CPUs with AVX512-BF16 or AMX run bf16 matrix products natively (prefill of the
    quickstart's answer prompts measured 2.2x faster than float32 on such a 2-core machine);
    elsewhere bf16 is emulated and slower than float32."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            return False
    flags = set(cpuinfo.split())
    return bool({"avx512_bf16", "amx_bf16"} & flags)


def resolve_dtype(dtype: str, device: str) -> str:
    if dtype != "auto":
        return dtype
    return "bfloat16" if device.startswith("cuda") or cpu_has_native_bf16() else "float32"


@functools.lru_cache(maxsize=2)  # steps in one process share a loaded model
def _load(name: str, device: str, threads: int | None, batch_size: int, seed: int,
          dtype: str = "auto") -> TransformersLLM:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = models.resolve(name)
    if threads:
        torch.set_num_threads(threads)
    device = models.device_for(device)
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    dtype = resolve_dtype(dtype, device)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(device).eval()
    return TransformersLLM(name=name, model=model, tokenizer=tok, batch_size=batch_size, seed=seed,
                           dtype=dtype)


def wrap(model, tokenizer, name: str, batch_size: int, seed: int = 0) -> TransformersLLM:
    """An in-memory model (e.g. base + merged adapters) as an LLM, for evaluation; not cached,
    since its weights have no stable name."""
    tokenizer.padding_side = "left"
    return TransformersLLM(name=name, model=model.eval(), tokenizer=tokenizer,
                           batch_size=batch_size, seed=seed)
