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


def shared_blocks(lo, hi, block: int = BLOCK):
    """`document_blocks` for the shared ranges [lo, hi) of a row's tokens (`row_layout`): a
    (query block, key block) pair is `full` when every query's range covers the whole key
    block, `partial` when some query's range may reach into it (bounds over the block's
    queries with a non-empty range: never less than the exact set)."""
    import torch

    total = lo.shape[0]
    n = -(-total // block)
    big = torch.iinfo(lo.dtype).max
    some = hi > lo
    pad = n * block - total  # a short last block's missing queries have no range
    lo_some = torch.cat([torch.where(some, lo, big), lo.new_full((pad,), big)]).view(n, block)
    hi_some = torch.cat([torch.where(some, hi, -1), hi.new_full((pad,), -1)]).view(n, block)
    everyone = torch.cat([some, some.new_zeros(pad)]).view(n, block).all(-1)
    kv_first = torch.arange(n, device=lo.device) * block
    kv_last = torch.clamp(kv_first + block - 1, max=total - 1)
    full = (everyone[:, None] & (lo_some.max(-1).values[:, None] <= kv_first[None, :])
            & (kv_last[None, :] < hi_some.min(-1).values[:, None]))
    if total % block:  # the short last block is partial wherever it appears
        full[-1, :] = False
        full[:, -1] = False
    partial = ((lo_some.min(-1).values[:, None] <= kv_last[None, :])
               & (hi_some.max(-1).values[:, None] > kv_first[None, :])) & ~full
    return partial, full


def document_block_mask(cu_seqlens, total: int):
    """Causal attention inside each document of a packed row given by its boundaries
    (`cu_seqlens`, Unsloth's), as a FlexAttention BlockMask; see `_block_mask`."""
    return _block_mask(cu_seqlens, total, lambda: (document_ids(cu_seqlens, total), None, None))


def row_layout(position_ids):
    """A packed row's layout from its position_ids ([1, T] or [T]; see the module docstring):
    each token's segment (a run of consecutive positions, numbered in order) and the range
    [lo, hi) of earlier tokens it sees besides its own segment: its document's first p tokens
    for a branch starting at position p (clamped to the document's first segment), empty
    otherwise. Tensor ops only, no host sync."""
    import torch

    pos = position_ids.reshape(-1).long()
    total = pos.shape[0]
    index = torch.arange(total, device=pos.device)
    starts = torch.ones_like(pos, dtype=torch.bool)
    starts[1:] = pos[1:] != pos[:-1] + 1
    doc_starts = (pos == 0) | (index == 0)
    seg = starts.cumsum(0) - 1
    seg_first = torch.where(starts, index, 0).cummax(0).values  # where each token's segment starts
    doc_first = torch.where(doc_starts, index, 0).cummax(0).values
    seg_len = torch.zeros_like(pos).scatter_add_(0, seg, torch.ones_like(pos))
    trunk = seg_len[seg[doc_first]]  # length of the document's first segment
    shared = torch.where(seg_first == doc_first, 0, torch.minimum(pos[seg_first], trunk))
    return seg, doc_first, doc_first + shared


def position_dense_mask(position_ids):
    """The row's [T, T] boolean attention mask (query, key; True = attends), for SDPA."""
    import torch

    seg, lo, hi = row_layout(position_ids)
    index = torch.arange(seg.shape[0], device=seg.device)
    q, kv = index[:, None], index[None, :]
    return ((seg[:, None] == seg[None, :]) & (q >= kv)) | ((kv >= lo[:, None]) & (kv < hi[:, None]))


def position_block_mask(position_ids):
    """The same for a row given by its position_ids ([1, T]): documents and branches."""
    total = position_ids.shape[-1]
    return _block_mask(position_ids, total, lambda: row_layout(position_ids))


def _block_mask(key, total: int, layout):
    """The BlockMask for the row `layout()` gives: each token's segment (document id, in
    order), lo and hi (`row_layout`; None, None: documents without branches).

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

    doc, lo, hi = layout()

    def same_document_causal(b, h, q, kv):
        return (doc[q] == doc[kv]) & (q >= kv)

    def same_segment_causal_or_shared(b, h, q, kv):
        return ((doc[q] == doc[kv]) & (q >= kv)) | ((kv >= lo[q]) & (kv < hi[q]))

    def sparse(blocks):  # [n, n] -> the count and the ordered indices of each row's blocks
        counts = blocks.sum(-1, dtype=torch.int32)
        order = torch.argsort(blocks.to(torch.int8), dim=-1, descending=True, stable=True)
        return counts[None, None], order.to(torch.int32)[None, None]

    partial, full = document_blocks(doc)
    mask_mod = same_document_causal
    if lo is not None:
        shared_partial, shared_full = shared_blocks(lo, hi)
        full = full | shared_full
        partial = (partial | shared_partial) & ~full
        mask_mod = same_segment_causal_or_shared
    mask = BlockMask.from_kv_blocks(*sparse(partial), *sparse(full), BLOCK_SIZE=BLOCK,
                                    mask_mod=mask_mod, seq_lengths=(total, total))
    _dynamic_sizes(mask, doc, lo, hi)
    _MASK_CACHE.insert(0, (key, total, mask))
    del _MASK_CACHE[4:]
    return mask


def _dynamic_sizes(mask, *layout) -> None:
    """Mark the row length (layout tensors) and block count (the mask's tensors) as dynamic for
    a compiled region the mask enters as an input (Unsloth's per-layer blocks), so its graph
    does not hold the first row's sizes as constants. With these marks Unsloth's compiled
    blocks logged no recompile on the H200 (`TORCH_LOGS=recompiles`, 8B shape, rows of every
    length); Dynamo on CPU (tests/test_packing.py) takes two graphs with or without them."""
    patches.check("torch-dynamic-marks")
    import torch

    n = mask.kv_num_blocks.shape[-1]
    blocks = (mask.kv_num_blocks, mask.kv_indices, mask.full_kv_num_blocks, mask.full_kv_indices,
              mask.q_num_blocks, mask.q_indices, mask.full_q_num_blocks, mask.full_q_indices)
    for t in blocks if n > 1 else ():
        for dim in range(2, t.dim() if t is not None else 0):  # [1, 1, n] and [1, 1, n, n]
            if t.shape[dim] == n:
                torch._dynamo.maybe_mark_dynamic(t, dim)
    for t in layout:
        if t is not None and t.shape[0] > 1:
            torch._dynamo.maybe_mark_dynamic(t, 0)


def flex_packed_attention(Q, K, V, mask, scale=None):
    """Q (1, H, T, D), K / V (1, H_kv, T, D), a packed row's BlockMask -> (1, T, H, D): one
    FlexAttention call."""
    # BACKEND TRITON: never the flex-decoding kernel torch picks for rows under 128 tokens
    # without gradients (a reference forward, an evaluation), which has no kernel for a symbolic
    # length on torch 2.11 (inductor NoValidChoicesError, seen on the H200)
    import torch
    from torch.nn.attention.flex_attention import flex_attention

    # inside a compiled region (Unsloth's per-layer blocks) flex_attention is part of its graph
    flex = flex_attention if torch.compiler.is_compiling() else _compiled_flex()
    out = flex(Q, K, V, block_mask=mask, scale=scale, enable_gqa=K.shape[1] != Q.shape[1],
               kernel_options={"BACKEND": "TRITON"})
    return out.transpose(1, 2)


def install_unsloth_flex() -> None:
    """Route Unsloth's padding-free SDPA calls through `flex_packed_attention`.

    Only the case it reproduces exactly: one packed causal row, no padding mask, no KV cache,
    no sliding window, no logit softcap, on CUDA; everything else stays Unsloth's own.

    A `PackedRow` (`padding_free_backbone`) reaches attention through Unsloth's
    `resolve_prefix_seg_info`, and Unsloth does not read lengths from its position_ids
    (`get_packed_info_from_kwargs`: a host sync, and a layer given `packed_seq_lengths` runs
    outside Unsloth's per-layer compiled blocks): such a row's layers run compiled, attention
    included, its BlockMask an input."""
    import sys

    from unsloth.utils import attention_dispatch as ad
    from unsloth.utils.packing import cover_padded_cu_seqlens

    if getattr(ad._run_attention, "_tuneline_flex", False):
        return
    patches.check("unsloth-flex-attention")  # process-wide: every Unsloth model's attention
    original = ad._run_attention
    _route_packed_rows(sys.modules)

    def _run_attention(*, config, context, Q, K, V):
        row = context.prefix_seg_info
        if isinstance(row, PackedRow):  # tuneline's, not Unsloth's own PrefixGrouper table
            if not (Q.is_cuda and Q.shape[0] == 1 and Q.shape[-2] == K.shape[-2]
                    and context.attention_mask is None and ad._configured_softcap(config) is None
                    and not (context.sliding_window and context.sliding_window > 0)):
                raise ValueError("a packed row with shared prompts runs only as one causal row on "
                                 "CUDA without a mask, sliding window or logit softcap")
            row.mark_read()
            scale = (config.sdpa_kwargs or {}).get("scale") or \
                (config.flash_varlen_kwargs or {}).get("softmax_scale")
            mask = row.block_mask if row.block_mask is not None else position_block_mask(row.position_ids)
            return flex_packed_attention(Q, K, V, mask, scale=scale)
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


def _route_packed_rows(modules: dict) -> None:
    """In every loaded Unsloth model module: `resolve_prefix_seg_info` hands attention the
    `PackedRow` under `ROW_KWARG` (as Unsloth's context's prefix_seg_info, which
    `install_unsloth_flex`'s attention reads), and `get_packed_info_from_kwargs` finds no packed
    lengths in a forward that carries one."""
    patches.check("unsloth-packed-rows")
    for name, module in list(modules.items()):
        if not name.startswith("unsloth.models.") or module is None:
            continue
        resolve = getattr(module, "resolve_prefix_seg_info", None)
        if resolve is not None and not getattr(resolve, "_tuneline_row", False):
            def resolve_row(kwargs, past_key_value, attention_mask, _resolve=resolve):
                row = kwargs.get(ROW_KWARG)
                if isinstance(row, PackedRow):
                    if past_key_value is not None or attention_mask is not None:
                        raise ValueError("a packed row reached attention with a KV cache or a "
                                         "padding mask; it runs only as one mask-free row")
                    return row
                return _resolve(kwargs, past_key_value, attention_mask)

            resolve_row._tuneline_row = True
            module.resolve_prefix_seg_info = resolve_row
        lengths = getattr(module, "get_packed_info_from_kwargs", None)
        if lengths is not None and not getattr(lengths, "_tuneline_row", False):
            def packed_info(kwargs, *args, _lengths=lengths, **kw):
                if isinstance(kwargs.get(ROW_KWARG), PackedRow):
                    return None
                return _lengths(kwargs, *args, **kw)

            packed_info._tuneline_row = True
            module.get_packed_info_from_kwargs = packed_info


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
