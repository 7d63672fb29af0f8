"""Deduplication of pairs: exact, MinHash near-duplicates, then embeddings (paraphrases).

The unit is the pair, not the instruction. Two pairs are duplicates when they ask the same
thing *and* answer it the same way: templated instructions that differ in one entity
("What does `numpy.argmax` do?" / "... `numpy.argmin` ...") share most of their shingles and
embed within 0.97 cosine, yet are distinct examples with different answers. So every stage
requires the instructions and the answers to be similar, each on its own threshold, and a
key term (identifier, number, code span, proper noun) of one instruction that the other pair
never mentions vetoes the match (`entity_conflict`): near-identical templated answers
(`str.lstrip` / `str.rstrip` docstrings) differ in exactly such a term.

Each stage keeps the best-ranked member of a duplicate group (`keep_order`: highest judge
score when known, else the earliest in input order) and drops a pair only as the direct
duplicate of a better-ranked pair it keeps; the drop names that pair and the similarities.

A conversation is one unit: its user turns are its "instruction" and its assistant turns its
"answer" for every stage (`asked`, `said`), and two conversations whose turns diverge (a
different number of turns, or a turn where neither the questions nor the answers overlap)
are never duplicates, however much of their opening they share (`turns_diverge`).
"""

from __future__ import annotations

import hashlib
import os
import re
import string
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tuneline import parallel
from tuneline.curation import minhash as mh
from tuneline.params import DedupParams
from tuneline.records import Dropped, Pair, drop, exchanges
from tuneline.text import atoms, content_overlap, key_terms

Encoder = Callable[[list[str]], np.ndarray]


def asked(p: Pair) -> str:
    """What a pair asks: its instruction, or every user turn of a conversation."""
    return "\n".join(q for q, _ in exchanges(p)) if p.history else p.instruction


def said(p: Pair) -> str:
    """What a pair answers: its answer, or every assistant turn of a conversation."""
    return "\n".join(a for _, a in exchanges(p)) if p.history else p.answer


def turns_diverge(a: Pair, b: Pair, min_overlap: float) -> bool:
    """Two conversations that go different ways: a different number of turns, or a turn
    whose questions and answers both overlap less than `min_overlap` (content words)."""
    if len(a.history) != len(b.history):
        return True
    return any(content_overlap(qa, qb) < min_overlap and content_overlap(aa, ab) < min_overlap
               for (qa, aa), (qb, ab) in zip(exchanges(a), exchanges(b)))

_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """Case, punctuation and whitespace differences do not make a text new."""
    return re.sub(r"\s+", " ", text.lower().translate(_PUNCT)).strip()


def _terms_and_words(p: Pair) -> tuple[set[str], set[str]]:
    return key_terms(asked(p)), atoms(f"{asked(p)}\n{said(p)}")


def _conflicting(a: tuple[set[str], set[str]], b: tuple[set[str], set[str]]) -> list[str]:
    (ta, wa), (tb, wb) = a, b
    missing = sorted(ta - wb) + sorted(tb - wa)
    if not missing and ta - tb and tb - ta:
        missing = sorted(ta - tb) + sorted(tb - ta)
    return missing


def entity_conflict(a: Pair, b: Pair) -> str | None:
    """Why two pairs name different things, or None: a key term of one instruction that the
    other pair never mentions, or key terms on both sides that the other instruction lacks
    (`DataFrame.eq` / `DataFrame.ge`, whose docstrings list each other)."""
    missing = _conflicting(_terms_and_words(a), _terms_and_words(b))
    return ",".join(missing[:4]) if missing else None


def keep_order(pairs: list[Pair]) -> np.ndarray:
    """Rank of each pair for "which duplicate survives": highest judge score first when
    scores are known, then input order (files and chunks in order: the earliest copy)."""
    key = sorted(range(len(pairs)), key=lambda i: (-(pairs[i].score or 0.0), i))
    rank = np.empty(len(pairs), dtype=np.int64)
    rank[key] = np.arange(len(pairs))
    return rank


def exact_key(p: Pair) -> str:
    key = f"{normalize(p.instruction)}\x1f{normalize(p.answer)}"
    if p.history:  # every turn, in order
        key = "\x1e".join(f"{normalize(q)}\x1f{normalize(a)}" for q, a in exchanges(p))
    return hashlib.sha1(key.encode()).hexdigest()


def exact_dedup(pairs: list[Pair], workers: int | None = None) -> tuple[list[Pair], list[Dropped]]:
    """Same instruction and same answer, up to case, punctuation and spacing (the keys of a
    large input are computed on every core)."""
    keys = parallel.map_records(exact_key, pairs, workers)
    seen: dict[str, str] = {}
    dropped_at: dict[int, Dropped] = {}
    for i in np.argsort(keep_order(pairs), kind="stable").tolist():
        p, key = pairs[i], keys[i]
        if key in seen:
            dropped_at[i] = drop("exact_dedup", "exact_duplicate", p, f"duplicate_of={seen[key]}")
        else:
            seen[key] = p.pair_id
    kept = [p for i, p in enumerate(pairs) if i not in dropped_at]
    return kept, [dropped_at[i] for i in sorted(dropped_at)]


def _greedy(pairs: list[Pair], edges: list[tuple[int, int, str]], stage: str, reason: str
            ) -> tuple[list[Pair], list[Dropped]]:
    """Walk pairs best-ranked first; a pair with an edge to an already kept, better-ranked
    pair is dropped as its duplicate (the most similar one, the first edge given). Two
    duplicates of each other are never both dropped, and chains do not merge: A~B, B~C
    with A and C distinct keeps A and C."""
    rank = keep_order(pairs)
    better: dict[int, list[tuple[int, str]]] = {}
    for i, j, detail in edges:
        lo, hi = (i, j) if rank[i] < rank[j] else (j, i)
        better.setdefault(hi, []).append((lo, detail))
    kept_mask = np.ones(len(pairs), dtype=bool)
    dropped_at: dict[int, Dropped] = {}
    for i in np.argsort(rank, kind="stable").tolist():
        live = [(j, d) for j, d in better.get(i, []) if kept_mask[j]]
        if live:
            j, detail = live[0]
            kept_mask[i] = False
            dropped_at[i] = drop(stage, reason, pairs[i], f"duplicate_of={pairs[j].pair_id} {detail}")
    kept = [p for i, p in enumerate(pairs) if kept_mask[i]]
    return kept, [dropped_at[i] for i in sorted(dropped_at)]


def minhash_signatures(pairs: list[Pair], params: DedupParams, chunk: int = 1000,
                       instructions: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
    """(instruction, answer) signatures. Character shingles for texts under
    `long_text_words` words (a one-line question or a short answer has too few word
    n-grams: one typo changes most of them), word n-grams for longer answers (fewer
    shingles, and an edit still changes only n of them).

    `chunk` records at a time, on a thread per core (numpy releases the GIL in its loops):
    memory stays flat and the byte arrays stay in the CPU caches. `instructions=False`: the
    answers' only (q is None)."""
    a = np.empty((len(pairs), params.num_perm), dtype=np.uint32)
    q = np.empty_like(a) if instructions else None

    def one_chunk(lo: int) -> None:
        part = pairs[lo:lo + chunk]
        if q is not None:
            h, o = mh.char_shingle_hashes([asked(p) for p in part], params.shingle_chars)
            q[lo:lo + len(part)] = mh.signatures(h, o, len(part), params.num_perm)
        answers = [said(p) for p in part]
        long = np.array([len(t.split()) >= params.long_text_words for t in answers], dtype=bool)
        for mask, shingle in ((~long, lambda ts: mh.char_shingle_hashes(ts, params.shingle_chars)),
                              (long, lambda ts: mh.shingle_hashes(ts, params.shingle_words))):
            idx = np.nonzero(mask)[0]
            if len(idx):
                h, o = shingle([answers[i] for i in idx])
                a[lo + idx] = mh.signatures(h, o, len(idx), params.num_perm)

    starts = range(0, len(pairs), chunk)
    workers = min(len(starts), params.workers or len(os.sched_getaffinity(0)))
    if workers <= 1:
        for lo in starts:
            one_chunk(lo)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one_chunk, starts))  # list(): re-raises a chunk's error here
    return q, a


class _Terms:
    """`entity_conflict` over many pairs: each record's terms and words computed once."""

    def __init__(self, pairs: list[Pair], min_overlap: float):
        self.pairs, self.cache, self.min_overlap = pairs, {}, min_overlap

    def __call__(self, i: int) -> tuple[set[str], set[str]]:
        if i not in self.cache:
            self.cache[i] = _terms_and_words(self.pairs[i])
        return self.cache[i]

    def conflict(self, i: int, j: int, key_terms: bool = True) -> bool:
        """Diverging conversations always conflict; a key-term conflict when `key_terms`."""
        a, b = self.pairs[i], self.pairs[j]
        if (a.history or b.history) and turns_diverge(a, b, self.min_overlap):
            return True
        if not key_terms:
            return False
        # the same instruction names the same terms, all of them words of the other pair:
        # no conflict is possible (most near duplicates: no terms to compute)
        if asked(a) == asked(b):
            return False
        return bool(_conflicting(self(i), self(j)))


def minhash_dedup(pairs: list[Pair], params: DedupParams) -> tuple[list[Pair], list[Dropped]]:
    """Near duplicates: LSH on the answers' MinHash proposes candidates; a candidate is a
    duplicate when the estimated Jaccard similarity of the instructions and of the answers
    both reach their thresholds and no key term conflicts."""
    if not pairs:
        return [], []
    _, a_sig = minhash_signatures(pairs, params, instructions=False)
    cand = mh.candidate_pairs(a_sig, params.minhash_threshold)
    ja = (a_sig[cand[:, 0]] == a_sig[cand[:, 1]]).mean(axis=1)
    del a_sig  # n x num_perm: the largest array of the stage
    # instruction signatures of the candidates' records only (a few percent of them)
    involved, local = np.unique(cand, return_inverse=True)
    q_sig, _ = minhash_signatures([pairs[i] for i in involved.tolist()], params)
    local = local.reshape(cand.shape)
    jq = (q_sig[local[:, 0]] == q_sig[local[:, 1]]).mean(axis=1)
    ok = (jq >= params.near_instruction_jaccard) & (ja >= params.near_answer_jaccard)
    terms = _Terms(pairs, params.answer_overlap_threshold)
    edges = []
    for (i, j), sq, sa in zip(cand[ok].tolist(), jq[ok].tolist(), ja[ok].tolist()):
        if not terms.conflict(i, j, params.entity_check):
            edges.append((sq + sa, i, j, f"instruction_jaccard={sq:.3f} answer_jaccard={sa:.3f}"))
    edges.sort(key=lambda e: -e[0])  # a dropped pair names its most similar kept duplicate
    return _greedy(pairs, [(i, j, d) for _, i, j, d in edges], "minhash_dedup", "near_duplicate")


def load_encoder(name: str, batch_size: int, device: str = "auto", cache=None) -> Encoder:
    """Normalised embeddings of texts, on the step's GPU when it has one (`device`); with a
    call cache (tuneline/llm/cache.py, and the stack's folder behind it), each text's vector
    is kept under a key of the encoder and the text, so a rerun encodes only new texts."""
    from sentence_transformers import SentenceTransformer

    from tuneline import models

    model = SentenceTransformer(models.resolve(name), device=models.device_for(device))
    # On the CPU one text per forward: its vector then depends on it alone, so a reused vector
    # equals a fresh one to the last bit (in a batch, padding moved it by ~2e-7), at about
    # the same cost here (600 sentences, MiniLM, 2 cores: 9.5 s alone, 10.2 s in batches of 64; the dedup dev
    # set's embedding stage: 6.6 s alone, 6.0 s batched)
    size = 1 if model.device.type == "cpu" else batch_size

    def encode_now(texts: list[str]) -> np.ndarray:
        return model.encode(texts, batch_size=size, normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=len(texts) > 4 * batch_size)

    def encode(texts: list[str]) -> np.ndarray:
        if cache is None or not texts:
            return encode_now(texts)
        from tuneline.llm.cache import cached_calls

        def run(todo: list[int]):
            for start in range(0, len(todo), 1024):  # stored as each slice finishes
                part = todo[start:start + 1024]
                yield part, encode_now([texts[i] for i in part]).tolist()

        got = cached_calls(cache, {"encoder": name}, "embed", texts, {}, run, encode.usage)
        return np.asarray(got, dtype=np.float32).reshape(len(texts), -1)

    encode.device = str(model.device)  # where it runs, for the step's metadata and tests
    encode.usage = {}
    return encode


def similar_pairs(emb: np.ndarray, threshold: float, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) with i < j and cosine >= threshold, and the cosines; computed in block x block
    tiles, never as an n x n matrix."""
    rows, sims = [], []
    n = len(emb)
    for i0 in range(0, n, block):
        for j0 in range(i0, n, block):
            tile = emb[i0:i0 + block] @ emb[j0:j0 + block].T
            r, c = np.nonzero(tile >= threshold)
            i, j = i0 + r, j0 + c
            upper = i < j
            rows.append(np.stack([i[upper], j[upper]], axis=1))
            sims.append(tile[r[upper], c[upper]])
    if not rows:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float32)
    return np.concatenate(rows), np.concatenate(sims)


def ann_similar_pairs(emb: np.ndarray, threshold: float, nprobe: int, block: int = 65536
                      ) -> tuple[np.ndarray, np.ndarray]:
    """`similar_pairs` through an inverted-file index (FAISS IVF-Flat, inner product): each
    vector is compared with those in its `nprobe` nearest of ~4 sqrt(n) k-means cells,
    exactly, instead of with all n. A pair is found when either side's probes reach the
    other; recall against exact tiles is measured in benchmarks/curation_scale.py."""
    import faiss

    n, dim = emb.shape
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    nlist = max(1, min(int(4 * np.sqrt(n)), n // 39))  # FAISS wants >= 39 training points a cell
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(n, min(n, 64 * nlist), replace=False)
    index.train(emb[np.sort(sample)])
    index.add(emb)
    index.nprobe = min(nprobe, nlist)
    found_i, found_j, found_s = [], [], []
    for lo in range(0, n, block):  # bounded result buffers
        lims, sims, ids = index.range_search(emb[lo:lo + block], threshold)
        rows = lo + np.repeat(np.arange(len(lims) - 1), np.diff(lims).astype(np.int64))
        off = rows != ids
        found_i.append(np.minimum(rows[off], ids[off]))
        found_j.append(np.maximum(rows[off], ids[off]))
        found_s.append(sims[off])
    i, j, s = np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_s)
    _, first = np.unique(i.astype(np.int64) * n + j, return_index=True)  # each pair once
    return np.stack([i[first], j[first]], axis=1).astype(np.int64), s[first].astype(np.float32)


def embedding_dedup(pairs: list[Pair], encode: Encoder, params: DedupParams, block: int = 2048
                    ) -> tuple[list[Pair], list[Dropped]]:
    """Paraphrases: instructions within `embedding_instruction_threshold` cosine whose answers
    say the same (cosine >= `embedding_answer_threshold`, or content words in any order
    overlapping >= `answer_overlap_threshold`), with no key-term conflict."""
    if not pairs:
        return [], []
    q = np.asarray(encode([asked(p) for p in pairs]), dtype=np.float32)
    if len(pairs) >= params.ann_min_records:
        ij, q_sim = ann_similar_pairs(q, params.embedding_instruction_threshold, params.ann_nprobe)
    else:
        ij, q_sim = similar_pairs(q, params.embedding_instruction_threshold, block)
    edges = []
    if len(ij):  # only the answers of candidate pairs need encoding
        involved, local = np.unique(ij, return_inverse=True)
        a = np.asarray(encode([said(pairs[i]) for i in involved.tolist()]), dtype=np.float32)
        local = local.reshape(ij.shape)
        a_sim = np.einsum("kd,kd->k", a[local[:, 0]], a[local[:, 1]])
        terms = _Terms(pairs, params.answer_overlap_threshold)
        for (i, j), sq, sa in zip(ij.tolist(), q_sim.tolist(), a_sim.tolist()):
            lex = content_overlap(said(pairs[i]), said(pairs[j]))
            same_answer = sa >= params.embedding_answer_threshold or lex >= params.answer_overlap_threshold
            if same_answer and not terms.conflict(i, j, params.entity_check):
                edges.append((sq + sa, i, j, f"instruction_cosine={sq:.3f} answer_cosine={sa:.3f} "
                                             f"answer_overlap={lex:.2f}"))
    edges.sort(key=lambda e: -e[0])
    return _greedy(pairs, [(i, j, d) for _, i, j, d in edges], "embedding_dedup", "semantic_duplicate")


def dedup(pairs: list[Pair], params: DedupParams, encode: Encoder
          ) -> list[tuple[str, int, list[Pair], list[Dropped]]]:
    """The three stages in order; per stage (name, inputs, kept, dropped)."""
    stages = []
    current = pairs
    for name, run in (("exact_dedup", lambda ps: exact_dedup(ps, params.workers)),
                      ("minhash_dedup", lambda ps: minhash_dedup(ps, params)),
                      ("embedding_dedup", lambda ps: embedding_dedup(ps, encode, params))):
        kept, dropped = run(current)
        stages.append((name, len(current), kept, dropped))
        current = kept
    return stages
