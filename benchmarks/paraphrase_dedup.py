"""Paraphrase dedup: recall by how far a paraphrase moves from its original, against false merges.

Real text nobody on the project wrote (benchmarks/devset.py: docstrings of installed packages
and Python's reference topics). For 150 originals ("What does `os.path.expandvars` do?" +
its docstring) three kinds of paraphrase, each run through the whole dedup chain
(`dedup.dedup`: exact, MinHash, embeddings) together with the dev set's hard negatives
(sibling entities asked with one template: `str.lstrip` / `str.rstrip`) and the other originals:

- `templated`: the dev set's own (another question template; answer clauses reordered, words
  swapped for synonyms);
- `reworded`: the question in a frame no template uses, naming the entity another way
  ("Tell me about expandvars from os.path."), the answer reordered, reworded and cut to its
  first two sentences;
- `unnamed`: the question never names the entity ("Which os.path function do I use to expand
  shell variables ...?"), the answer as in `reworded`.

Printed per setting of the instruction threshold, with and without the key-term veto
(`entity_check`): the share of each kind found, and the distinct pairs merged (hard negatives
among them). A paraphrase is found when it or its original is dropped as the other's duplicate.

    .venv/bin/python benchmarks/paraphrase_dedup.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import devset  # noqa: E402

from tuneline.curation import dedup  # noqa: E402
from tuneline.params import DedupParams  # noqa: E402
from tuneline.records import Pair  # noqa: E402

FRAMES = ["I need to know what {n} in {g} is for.", "Tell me about {n} from {g}.",
          "{e}: what is it used for?", "In {g}, what job does {n} have?",
          "Could you explain the role of {e}?", "What would I use {n} ({g}) for?"]


def reworded_answer(answer: str, rng: random.Random) -> str:
    sents = [devset.swap_clauses(s) for s in devset._sentences(answer)]
    rng.shuffle(sents)
    return " ".join(" ".join(devset.SYNONYMS.get(w, w) for w in s.split()) for s in sents[:2])


def cases(seed: int = 7, n: int = 150):
    """(records, {paraphrase id: original id} per kind): originals, hard negatives, paraphrases."""
    rng = random.Random(seed)
    srcs = devset.sources()
    hard = devset.siblings(srcs, rng, 60)
    hard_ids = {i for ab in hard for i in ab}
    rest = [i for i in range(len(srcs)) if i not in hard_ids]
    chosen = rng.sample(rest, n)
    base = []
    for i in sorted(hard_ids) + chosen:
        s = srcs[i]
        base.append(Pair(f"o{i}", f"c{i}", s.group, devset.templates(s)[0].format(e=s.entity), s.answer))
    kinds = {}
    for kind in ("templated", "reworded", "unnamed"):
        extra, link = [], {}
        for i in chosen:
            s = srcs[i]
            if kind == "templated":
                q = devset.templates(s)[1].format(e=s.entity)
                a = devset.paraphrase_answer(s.answer, rng)
            elif kind == "reworded":
                q = rng.choice(FRAMES).format(n=s.name, g=s.group, e=s.entity)
                a = reworded_answer(s.answer, rng)
            else:
                first = devset._sentences(s.answer)[0].rstrip(".")
                q = f"Which {s.group} function do I use to {first[0].lower()}{first[1:]}?"
                a = reworded_answer(s.answer, rng)
            extra.append(Pair(f"{kind[0]}{i}", f"c{i}", s.group, q, a))
            link[f"{kind[0]}{i}"] = f"o{i}"
        kinds[kind] = (base + extra, link)
    return kinds, {f"o{a}": f"o{b}" for a, b in hard}


def memo_encoder():
    encode = dedup.load_encoder("bundled:all-minilm-l6-v2", 64)
    seen: dict[str, object] = {}

    def memo(texts):
        import numpy as np

        todo = [t for t in dict.fromkeys(texts) if t not in seen]
        if todo:
            seen.update(zip(todo, encode(todo)))
        return np.stack([seen[t] for t in texts]) if texts else np.zeros((0, 384), dtype="float32")
    return memo


def main() -> None:
    kinds, siblings = cases()
    sibling_pairs = {frozenset(ab) for ab in siblings.items()}
    encode = memo_encoder()
    print(f"{'instruction cos':>15} {'veto':>5} " + " ".join(f"{k:>10}" for k in kinds)
          + "  false merges, most of one kind (hard negatives)")
    for threshold in (0.75, 0.65, 0.55, 0.45):
        for veto in (True, False):
            params = DedupParams(embedding_instruction_threshold=threshold, entity_check=veto)
            found, wrong, wrong_hard = {}, 0, 0
            for kind, (records, link) in kinds.items():
                dropped = {}
                for _stage, _n, _kept, drops in dedup.dedup(records, params, encode):
                    for d in drops:
                        dropped[d.record["pair_id"]] = d.detail.split()[0].removeprefix("duplicate_of=")
                found[kind] = sum(dropped.get(p) == o or dropped.get(o) == p for p, o in link.items()) / len(link)
                same = {**link, **{o: p for p, o in link.items()}}
                bad = [(a, b) for a, b in dropped.items() if same.get(a) != b]
                wrong = max(wrong, len(bad))
                wrong_hard = max(wrong_hard, sum(frozenset((a, b)) in sibling_pairs for a, b in bad))
            print(f"{threshold:15.2f} {'on' if veto else 'off':>5} "
                  + " ".join(f"{found[k]:10.2f}" for k in kinds) + f"  {wrong} ({wrong_hard})")


if __name__ == "__main__":
    main()
