"""Local generation with transformers: batched, left-padded, chat template from the tokenizer."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Sequence

from tuneline import models
from tuneline.params import LLMParams


@dataclass
class TransformersLLM:
    name: str
    model: Any
    tokenizer: Any
    batch_size: int
    seed: int

    def _prompts(self, chats: Sequence[list[dict[str, str]]], prefix: str = "") -> list[str]:
        return [
            self.tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) + prefix
            for c in chats
        ]

    def _batches(self, texts: list[str], desc: str):
        """Yield (indices, encoded batch), similar lengths together so batches carry little padding."""
        from tqdm.auto import tqdm

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with tqdm(total=len(texts), desc=desc, unit="prompt") as bar:
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                enc = self.tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                                     add_special_tokens=False).to(self.model.device)
                yield idx, enc
                bar.update(len(idx))

    def generate(self, chats, *, max_new_tokens, temperature=0.0, top_p=1.0, desc="generate"):
        import torch

        texts = self._prompts(chats)
        out: list[str] = [""] * len(texts)
        torch.manual_seed(self.seed)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} \
            if temperature > 0 else {"do_sample": False}
        with torch.inference_mode():
            for idx, enc in self._batches(texts, desc):
                gen = self.model.generate(**enc, max_new_tokens=max_new_tokens,
                                          pad_token_id=self.tokenizer.pad_token_id, **sampling)
                new = gen[:, enc["input_ids"].shape[1]:]
                for i, row in zip(idx, new):
                    out[i] = self.tokenizer.decode(row, skip_special_tokens=True).strip()
        return out

    def choice_probs(self, chats, prefix, choices, *, desc="score"):
        import torch

        ids = [self.tokenizer.encode(c, add_special_tokens=False) for c in choices]
        if any(len(i) != 1 for i in ids):
            raise ValueError(f"choices must each be one token for {self.name}: {list(choices)}")
        choice_ids = [i[0] for i in ids]
        texts = self._prompts(chats, prefix)
        out: list[list[float]] = [[] for _ in texts]
        with torch.inference_mode():
            for idx, enc in self._batches(texts, desc):
                # left padding: the last position is every row's next-token position
                logits = self.model(**enc).logits[:, -1, :].float()
                probs = torch.softmax(logits, dim=-1)[:, choice_ids]
                for i, row in zip(idx, probs.tolist()):
                    out[i] = row
        return out


def load(params: LLMParams) -> TransformersLLM:
    return _load(models.resolve(params.model), params.device, params.threads, params.batch_size,
                 params.seed)


@functools.lru_cache(maxsize=2)  # steps in one process share a loaded model
def _load(path: str, device: str, threads: int | None, batch_size: int, seed: int) -> TransformersLLM:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if threads:
        torch.set_num_threads(threads)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()
    return TransformersLLM(name=path, model=model, tokenizer=tok, batch_size=batch_size, seed=seed)


def wrap(model, tokenizer, name: str, batch_size: int, seed: int = 0) -> TransformersLLM:
    """An in-memory model (e.g. base + merged adapters) as an LLM, for evaluation."""
    tokenizer.padding_side = "left"
    return TransformersLLM(name=name, model=model.eval(), tokenizer=tokenizer,
                           batch_size=batch_size, seed=seed)
