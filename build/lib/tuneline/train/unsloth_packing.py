"""Packed rows on the Unsloth backend: Unsloth's attention dispatch and its packed-length
lookups changed, process-wide, so a tuneline packed row runs as one FlexAttention call inside
Unsloth's compiled layers (see tuneline/train/packing.py for the layout, and the table of
patches in docs/development.md)."""

from __future__ import annotations

from tuneline import patches
from tuneline.train.packed_masks import (
    document_block_mask,
    flex_packed_attention,
    position_block_mask,
)
from tuneline.train.packing import ROW_KWARG, PackedRow


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
