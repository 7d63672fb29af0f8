"""Padding-free batches with one attention call per layer.

A packed row holds several whole examples; each must attend only to itself. The backends'
own padding-free paths are launch-bound on the GPU hosts' torch 2.11 (Unsloth runs one SDPA
call per run of equal-length documents, ~900 calls and ~4,000 pad kernels a step on 4 x 2048,
because torch's `varlen_attn` only takes GQA from torch 2.12). Here attention over the whole
row is one FlexAttention call per layer with a document mask built once per forward
(Unsloth: `unsloth_packing.install_unsloth_flex`; TRL + PEFT: the transformers attention
`FLEX`); the masks themselves are `packed_masks`.

- SFT: TRL's `bfd` packing already emits a packed row (position_ids restart per example).
- DPO: `padding_free_backbone` turns the padded [2B, L] chosen/rejected batch into one packed
  row inside the decoder's forward and scatters the hidden states back, so TRL's and Unsloth's
  losses (the fused preference loss too) see the shapes they expect. The prompt a pair's chosen
  and rejected sequences share is run once (`pack_rows`): the rejected sequence continues it as
  a branch that attends to the shared tokens and to itself, not to the chosen answer. A causal
  decoder's state at a token depends only on the tokens up to it, so each row's hidden states
  are the ones it would have alone; the shared tokens' gradient is the sum of both rows'.

A packed row's layout is its position_ids alone: a document starts where they restart at 0;
a branch where they drop to p > 0 (it sees its document's first p tokens, then itself).
"""

from __future__ import annotations

import functools

from tuneline import patches
from tuneline.train.packed_masks import (
    flex_packed_attention,
    position_block_mask,
    position_dense_mask,
)

# The trl backend's transformers attention for packed rows on CUDA: `flex_packed_attention`
# (compiled once with a symbolic length, the kernel options it needs) with documents read from
# position_ids, the same path as Unsloth's packed rows.
FLEX = "tuneline_flex_attention"
# the decoder-forward keyword that carries a packed row down to attention (transformers' layers
# hand it on in **kwargs; Unsloth's reach it through `resolve_prefix_seg_info`, patched by
# `install_unsloth_flex`). Not Unsloth's own "prefix_seg_info": Unsloth runs a layer that gets
# that keyword (or packed_seq_lengths) outside its per-layer compiled blocks.
ROW_KWARG = "tuneline_packed_row"


class PackedRow:
    """A packed row's position_ids and, on CUDA, its FlexAttention BlockMask (built once per
    forward, outside any compiled layer), handed to attention next to the hidden states.

    `read` is set by every attention that reads the row's layout: a branch no attention read
    would silently attend across answers, so the decoder checks it. A flag stored on the row,
    not a global counter: inside a compiled layer Dynamo replays the store, while reading a
    counter there would guard on its value and recompile the layer at every call.
    `eager_reads` counts the reads that ran outside a compiled region (tests: Unsloth's
    compiled blocks ran the row)."""

    def __init__(self, position_ids, block_mask=None):
        self.position_ids = position_ids
        self.block_mask = block_mask
        self.read = False
        self.eager_reads = 0

    def mark_read(self) -> None:
        import torch

        self.read = True
        if not torch.compiler.is_compiling():  # a constant while tracing: no guard, no graph op
            self.eager_reads += 1


def attn_implementation(packed: bool, packed_attention: str) -> str:
    """The transformers attention for a training run: `FLEX` for padding-free batches (on the
    CPU, where torch has no FlexAttention backward, it runs SDPA with the same mask), else SDPA
    ("native": transformers builds SDPA's mask block-diagonal from the restarting position_ids,
    which knows documents but not branches, so rows are packed without sharing prompts)."""
    if packed_attention not in ("flex", "native"):
        raise ValueError(f"unknown packed_attention {packed_attention!r}; expected flex or native")
    return FLEX if packed and packed_attention == "flex" else "sdpa"


@functools.cache
def register_transformers_flex() -> str:
    """Register `FLEX` with transformers (attention and mask), once per process; returns it.

    A padding-free row (batch 1, no attention mask, its layout in position_ids) runs as one
    FlexAttention call on CUDA, as SDPA with the row's [T, T] mask on the CPU; anything else (a
    padded batch, a KV cache) runs transformers' SDPA with the mask transformers builds."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import sdpa_mask

    def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                  position_ids=None, **kwargs):
        row = kwargs.pop(ROW_KWARG, None)
        if (attention_mask is None and position_ids is not None and query.shape[0] == 1
                and query.shape[-2] == key.shape[-2] and not dropout):
            ours = isinstance(row, PackedRow)
            positions = row.position_ids if ours else position_ids
            if ours:
                row.mark_read()
            if query.is_cuda:
                mask = row.block_mask if ours and row.block_mask is not None \
                    else position_block_mask(positions)
                return flex_packed_attention(query, key, value, mask, scale=scaling), None
            attention_mask = position_dense_mask(positions)[None, None]
        elif isinstance(row, PackedRow):
            raise ValueError("a packed row with shared prompts reached attention with a padding "
                             "mask or a cache; it runs only as one mask-free row")
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling,
                                      dropout=dropout, **kwargs)

    def mask(*args, attention_mask=None, **kwargs):
        # no 2D mask = no padding: causal, and a packed row's documents come from position_ids
        # in `attention` (SDPA's [T, T] block-diagonal mask would be built for nothing)
        return None if attention_mask is None else sdpa_mask(*args, attention_mask=attention_mask, **kwargs)

    AttentionInterface.register(FLEX, attention)
    AttentionMaskInterface.register(FLEX, mask)
    return FLEX


def backbone(model):
    """The decoder stack under a (PEFT-wrapped) causal LM: the module whose forward returns
    hidden states."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(inner, inner.base_model_prefix)


def pack_rows(ids, keep, share_prompts: bool):
    """A padded batch ([R, L] token ids and their non-pad mask) as one packed row: packed ids
    [1, N], position_ids [1, N], `where` [M] (the flat [R * L] index of each of the batch's M
    non-pad tokens) and `source` [M] (the packed token whose hidden state each gets; None when
    the packed row is those M tokens in order).

    Rows run back to back with positions restarting at 0. With `share_prompts` and DPO's batch
    (chosen rows, then the rejected rows of the same pairs, both flushed left), each rejected
    row keeps only what follows the tokens it shares with its chosen row, as a branch
    (positions continuing from the shared length); its shared tokens read the chosen row's."""
    import torch

    rows, length = ids.shape
    half = rows // 2
    host_shared = []
    if share_prompts and rows % 2 == 0:
        lengths = keep.sum(1)
        same = (ids[:half] == ids[half:]) & keep[:half] & keep[half:]
        shared = same.long().cumprod(1).sum(1)
        flushed = (keep[:, 1:] <= keep[:, :-1]).all().long()[None]  # pads only after the tokens
        host = torch.cat([lengths, shared, flushed]).tolist()  # one device-to-host copy
        host_lengths, host_shared = host[:rows], host[rows:rows + half] if host[-1] else []
    if not any(host_shared):
        where = keep.flatten().nonzero().squeeze(1)
        positions = (keep.long().cumsum(-1) - 1).flatten()[where]
        return ids.flatten()[where][None], positions[None], where, None
    # pieces of the packed row, in order: (row, first column, last column + 1)
    pieces, offsets = [], {}
    for i in range(half):
        for row, first in ((i, 0), (i + half, host_shared[i])):
            offsets[row] = sum(b - a for _, a, b in pieces) - first
            pieces.append((row, first, host_lengths[row]))
    cat = torch.cat
    flat = cat([torch.arange(a, b) + r * length for r, a, b in pieces]).to(ids.device)
    positions = cat([torch.arange(a, b) for _, a, b in pieces]).to(ids.device)
    where, source = [], []
    for row in range(rows):
        cols = torch.arange(host_lengths[row])
        where.append(cols + row * length)
        src = cols + offsets[row]
        if row >= half:  # the shared tokens come from the chosen row
            n = host_shared[row - half]
            src[:n] = cols[:n] + offsets[row - half]
        source.append(src)
    return (ids.flatten()[flat][None], positions[None], cat(where).to(ids.device),
            cat(source).to(ids.device))


def padding_free_backbone(model, share_prompts: bool) -> None:
    """Make the decoder run a padded batch as one packed row (`pack_rows`; `share_prompts`
    only where attention reads branches: `FLEX` and Unsloth's flex path, which then get the
    row as a `PackedRow`), hidden states scattered back to [B, L, H] (zeros at pad positions,
    which every loss masks out). Anything else (a KV cache, given positions or embeddings, one
    unpadded row) runs unchanged."""
    decoder = backbone(model)
    if getattr(decoder.forward, "_tuneline_padding_free", False):
        return
    patches.check("padding-free-decoder")  # this model object's forward only
    original = decoder.forward
    # Unsloth cuts a row longer than max_seq_length unless told it is a packed one
    decoder._unsloth_allow_packed_overlength = True

    @functools.wraps(original)
    def forward(*args, **kwargs):
        ids, mask = kwargs.get("input_ids"), kwargs.get("attention_mask")
        if (args or ids is None or mask is None or mask.dim() != 2 or kwargs.get("use_cache")
                or any(kwargs.get(k) is not None
                       for k in ("position_ids", "inputs_embeds", "past_key_values", ROW_KWARG))):
            return original(*args, **kwargs)
        keep = mask.bool()
        rows, length = ids.shape
        if rows == 1 and bool(keep.all()):
            return original(*args, **kwargs)
        packed_ids, positions, where, source = pack_rows(ids, keep, share_prompts)
        packed = dict(kwargs, input_ids=packed_ids, attention_mask=None, position_ids=positions,
                      use_cache=False)
        if "causal_mask" in packed:  # Unsloth's xformers mask: the packed row brings its own
            packed["causal_mask"] = None
        row = None
        if share_prompts:  # the mask once per forward, an input of every layer (compiled or not)
            row = packed[ROW_KWARG] = PackedRow(positions, position_block_mask(positions)
                                                if positions.is_cuda else None)
        out = original(**packed)
        if source is not None and not row.read:
            raise RuntimeError(f"{type(decoder).__name__}'s attention did not read the packed row's "
                               "shared prompts (it would attend across answers); run with "
                               "packed_attention: native")
        hidden = out[0][0]
        if source is not None:
            hidden = hidden.index_select(0, source)
        full = hidden.new_zeros((rows * length, hidden.shape[-1])).index_copy(0, where, hidden)
        full = full.view(rows, length, -1)
        if isinstance(out, tuple):
            return (full, *out[1:])
        out.last_hidden_state = full
        return out

    forward._tuneline_padding_free = True
    decoder.forward = forward
