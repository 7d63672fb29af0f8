"""The masks of a packed row, from its position_ids alone: which tokens each token attends to
(its own document, and for a branch its document's shared prefix), as the block-sparse
FlexAttention BlockMask on CUDA and a dense [T, T] mask elsewhere, and the one compiled
FlexAttention call that reads it. Pure tensor arithmetic; `tuneline/train/packing.py` says how
rows are packed and where these run."""

from __future__ import annotations

import functools

from tuneline import patches

_MASK_CACHE: list = []  # (key tensor, length, BlockMask), newest first
BLOCK = 128  # FlexAttention's default block size, in tokens, for queries and keys


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
