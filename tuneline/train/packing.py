"""Padding-free batches with one attention call per layer.

A packed row holds several whole examples; each must attend only to itself. The backends'
own padding-free paths are launch-bound on the GPU hosts' torch 2.11 (Unsloth runs one SDPA
call per run of equal-length documents, ~900 calls and ~4,000 pad kernels a step on 4 x 2048,
because torch's `varlen_attn` only takes GQA from torch 2.12). Here attention over the whole
row is one FlexAttention call per layer with a document mask built once per forward
(Unsloth: `install_unsloth_flex`; TRL + PEFT: the transformers attention `FLEX`).

- SFT: TRL's `bfd` packing already emits a packed row (position_ids restart per example).
- DPO: `padding_free_backbone` turns the padded [2B, L] chosen/rejected batch into one packed
  row inside the decoder's forward and scatters the hidden states back, so TRL's and Unsloth's
  losses (the fused preference loss too) see the shapes they expect.
"""

from __future__ import annotations

import functools

# The trl backend's transformers attention for packed rows on CUDA: `flex_packed_attention`
# (compiled once with a symbolic length, the kernel options it needs) with documents read from
# position_ids, the same path as Unsloth's packed rows.
FLEX = "tuneline_flex_attention"


def attn_implementation(cuda: bool, packed: bool, packed_attention: str) -> str:
    """The transformers attention for a training run: FlexAttention for padding-free batches on
    a CUDA GPU (torch has no FlexAttention backward on the CPU), else SDPA, whose mask
    transformers builds block-diagonal from the restarting position_ids."""
    if packed_attention not in ("flex", "native"):
        raise ValueError(f"unknown packed_attention {packed_attention!r}; expected flex or native")
    return FLEX if cuda and packed and packed_attention == "flex" else "sdpa"


@functools.cache
def register_transformers_flex() -> str:
    """Register `FLEX` with transformers (attention and mask), once per process; returns it.

    A padding-free row (batch 1, no attention mask, position_ids restarting per example) runs as
    one FlexAttention call; anything else (a padded batch, a KV cache) runs transformers' SDPA
    with the mask transformers builds for SDPA."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import sdpa_mask

    def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                  position_ids=None, **kwargs):
        if (attention_mask is None and position_ids is not None and query.shape[0] == 1
                and query.is_cuda and query.shape[-2] == key.shape[-2] and not dropout):
            mask = position_block_mask(position_ids)
            return flex_packed_attention(query, key, value, mask, scale=scaling), None
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling,
                                      dropout=dropout, **kwargs)

    def mask(*args, attention_mask=None, **kwargs):
        # no 2D mask = no padding: causal, and a packed row's documents come from position_ids
        # in `attention` (SDPA's [T, T] block-diagonal mask would be built for nothing)
        return None if attention_mask is None else sdpa_mask(*args, attention_mask=attention_mask, **kwargs)

    AttentionInterface.register(FLEX, attention)
    AttentionMaskInterface.register(FLEX, mask)
    return FLEX


def document_ids(cu_seqlens, total: int):
    """Example index of each of the `total` tokens of a packed row ([0, 3, 7] -> 0 0 0 1 1 1 1);
    tokens past the last boundary (a collator's pad tail) form one more document."""
    import torch

    positions = torch.arange(total, device=cu_seqlens.device, dtype=cu_seqlens.dtype)
    return torch.searchsorted(cu_seqlens[1:].contiguous(), positions, right=True)


@functools.cache
def _compiled_flex():
    import torch
    from torch.nn.attention.flex_attention import flex_attention

    # compiled once per process (uncompiled flex_attention is a slow reference implementation),
    # with a symbolic row length: packed rows differ in length every step, and compiling per
    # length cost ~60 s of the first steps of an 8B run (measured, benchmarks/gpu_train.py)
    return torch.compile(flex_attention, dynamic=True)


_MASK_CACHE: list = []  # (key tensor, length, BlockMask), newest first
BLOCK = 128  # FlexAttention's default block size, in tokens, for queries and keys


def document_blocks(doc, block: int = BLOCK):
    """Which (query block, key block) pairs of a packed row (`doc`: each token's document id,
    in order) attention must visit, as two [n, n] boolean matrices: `partial` (the mask is evaluated per token: the diagonal, and
    blocks a document boundary cuts through) and `full` (every query attends to every key: an
    earlier block of the same document). Documents are contiguous and in order, so a block's
    first and last document ids bound all of its ids; this is block arithmetic on those
    bounds, with no [T, T] mask and no host sync."""
    import torch

    total = doc.shape[0]
    n = -(-total // block)
    # a short last block repeats its last real token's document (it adds no new id)
    padded = torch.cat([doc, doc[-1:].expand(n * block - total)])
    first, last = padded[::block], padded.view(n, block)[:, -1]
    q_first, q_last = first[:, None], last[:, None]
    kv_first, kv_last = first[None, :], last[None, :]
    index = torch.arange(n, device=doc.device)
    earlier = index[None, :] < index[:, None]
    shares_document = kv_last >= q_first  # kv block is earlier, so its ids are <= the query's
    whole = (kv_first == kv_last) & (q_first == q_last) & (kv_last == q_first)
    if total % block:  # the short last block is partial wherever it appears
        whole = whole & (index[:, None] < n - 1) & (index[None, :] < n - 1)
    full = earlier & shares_document & whole
    partial = ((earlier & shares_document) | (index[None, :] == index[:, None])) & ~full
    return partial, full


def document_block_mask(cu_seqlens, total: int):
    """Causal attention inside each document of a packed row given by its boundaries
    (`cu_seqlens`, Unsloth's), as a FlexAttention BlockMask; see `_block_mask`."""
    return _block_mask(cu_seqlens, total, lambda: document_ids(cu_seqlens, total))


def position_block_mask(position_ids):
    """The same for a row given by its position_ids ([1, T], restarting at 0 per example)."""
    total = position_ids.shape[-1]
    return _block_mask(position_ids, total, lambda: (position_ids[0] == 0).cumsum(0) - 1)


def _block_mask(key, total: int, doc_ids):
    """The BlockMask for the documents `doc_ids()` gives (each token's, in order).

    Built from `document_blocks` (a few small tensor ops, no host sync). torch's
    `create_block_mask` evaluates the mask over every token pair through vmap on the host: a
    few ms per forward, and 482 ms of host time with the GPU idle in one profiled DPO step on an
    H200, when checkpointed recompute rebuilt it inside backward. Every layer of one forward,
    and its recompute, passes the same `key` tensor, so masks are cached on it (the last few:
    DPO's reference forward comes between a forward and its recompute)."""
    for cached in _MASK_CACHE:
        if cached[0] is key and cached[1] == total:
            return cached[2]
    import torch
    from torch.nn.attention.flex_attention import BlockMask

    doc = doc_ids()

    def same_document_causal(b, h, q, kv):
        return (doc[q] == doc[kv]) & (q >= kv)

    def sparse(blocks):  # [n, n] -> the count and the ordered indices of each row's blocks
        counts = blocks.sum(-1, dtype=torch.int32)
        order = torch.argsort(blocks.to(torch.int8), dim=-1, descending=True, stable=True)
        return counts[None, None], order.to(torch.int32)[None, None]

    partial, full = document_blocks(doc)
    mask = BlockMask.from_kv_blocks(*sparse(partial), *sparse(full), BLOCK_SIZE=BLOCK,
                                    mask_mod=same_document_causal, seq_lengths=(total, total))
    _MASK_CACHE.insert(0, (key, total, mask))
    del _MASK_CACHE[4:]
    return mask


def flex_packed_attention(Q, K, V, mask, scale=None):
    """Q (1, H, T, D), K / V (1, H_kv, T, D), a packed row's BlockMask -> (1, T, H, D): one
    FlexAttention call."""
    # BACKEND TRITON: never the flex-decoding kernel torch picks for rows under 128 tokens
    # without gradients (a reference forward, an evaluation), which has no kernel for a symbolic
    # length on torch 2.11 (inductor NoValidChoicesError, seen on the H200)
    out = _compiled_flex()(Q, K, V, block_mask=mask, scale=scale,
                           enable_gqa=K.shape[1] != Q.shape[1],
                           kernel_options={"BACKEND": "TRITON"})
    return out.transpose(1, 2)


def install_unsloth_flex() -> None:
    """Route Unsloth's padding-free SDPA calls through `flex_packed_attention`.

    Only the case it reproduces exactly: one packed causal row, no padding mask, no KV cache,
    no sliding window, no logit softcap, on CUDA; everything else stays Unsloth's own."""
    from unsloth.utils import attention_dispatch as ad
    from unsloth.utils.packing import cover_padded_cu_seqlens

    if getattr(ad._run_attention, "_tuneline_flex", False):
        return
    original = ad._run_attention

    def _run_attention(*, config, context, Q, K, V):
        if (context.seq_info is not None and context.attention_mask is None
                and context.prefix_seg_info is None and context.is_causal
                and not (context.sliding_window and context.sliding_window > 0)
                and Q.is_cuda and Q.shape[0] == 1 and Q.shape[-2] == K.shape[-2]
                and ad._configured_softcap(config) is None
                and not (config.sdpa_kwargs or {}).get("dropout_p")):
            cu_seqlens, _ = cover_padded_cu_seqlens(context.seq_info, Q.shape[-2])
            scale = (config.sdpa_kwargs or {}).get("scale") or \
                (config.flash_varlen_kwargs or {}).get("softmax_scale")
            return flex_packed_attention(Q, K, V, document_block_mask(cu_seqlens, Q.shape[-2]),
                                         scale=scale)
        return original(config=config, context=context, Q=Q, K=K, V=V)

    _run_attention._tuneline_flex = True
    ad._run_attention = _run_attention


def backbone(model):
    """The decoder stack under a (PEFT-wrapped) causal LM: the module whose forward returns
    hidden states."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(inner, inner.base_model_prefix)


def padding_free_backbone(model) -> None:
    """Make the decoder run a padded batch as one packed row: the non-pad tokens of all rows
    back to back, positions restarting per row, hidden states scattered back to [B, L, H]
    (zeros at pad positions, which every loss masks out). Anything else (a KV cache, given
    positions or embeddings, one unpadded row) runs unchanged."""
    decoder = backbone(model)
    if getattr(decoder.forward, "_tuneline_padding_free", False):
        return
    original = decoder.forward

    @functools.wraps(original)
    def forward(*args, **kwargs):
        ids, mask = kwargs.get("input_ids"), kwargs.get("attention_mask")
        if (args or ids is None or mask is None or mask.dim() != 2 or kwargs.get("use_cache")
                or any(kwargs.get(k) is not None
                       for k in ("position_ids", "inputs_embeds", "past_key_values"))):
            return original(*args, **kwargs)
        keep = mask.bool()
        rows, length = ids.shape
        if rows == 1 and bool(keep.all()):
            return original(*args, **kwargs)
        flat = keep.flatten().nonzero().squeeze(1)
        positions = (keep.long().cumsum(-1) - 1).flatten()[flat]
        packed = dict(kwargs, input_ids=ids.flatten()[flat][None], attention_mask=None,
                      position_ids=positions[None], use_cache=False)
        if "causal_mask" in packed:  # Unsloth's xformers mask: the packed row brings its own
            packed["causal_mask"] = None
        out = original(**packed)
        hidden = out[0][0]
        full = hidden.new_zeros((rows * length, hidden.shape[-1])).index_copy(0, flat, hidden)
        full = full.view(rows, length, -1)
        if isinstance(out, tuple):
            return (full, *out[1:])
        out.last_hidden_state = full
        return out

    forward._tuneline_padding_free = True
    decoder.forward = forward
