"""A labelled curation dev set, built from real text that nobody on this project wrote.

Sources, read from the running interpreter (nothing is downloaded or committed):
- docstrings of functions and methods in installed third-party packages (numpy, pandas,
  torch, scipy, networkx, sqlalchemy, ... whichever are installed) and of the stdlib;
- Python's language reference topics (`pydoc_data.topics`, shipped with CPython).

Each source entry gives an entity (`numpy.argmax`, "the assert statement"), a chunk (the
text a generator would see) and a faithful answer (its summary and first paragraph, the
docstring author's own words). On those, `build()` plants, with labels:
- dedup: exact copies (case/space/punctuation changes), near duplicates (typos, a word added
  or removed, a synonym), paraphrases (the question in another template, the answer's
  sentences reordered and reworded), and hard negatives: sibling entities (`str.lstrip` /
  `str.rstrip`, `argmax` / `argmin`, found by name similarity) asked in the same template,
  each with its own real answer;
- filters: every original answer is a good answer; junk of 16 kinds is planted;
- faithfulness: a chunk with its own answer, with an answer written for another chunk (a
  random one, or a sibling's), or with its answer's facts altered (numbers, the entity
  swapped for its sibling's name, a negation, an antonym).

    python benchmarks/devset.py            # prints counts per label and a few examples
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import random
import re
from dataclasses import dataclass, field

MODULES = [
    "numpy", "numpy.linalg", "numpy.random", "pandas", "pandas.DataFrame", "pandas.Series",
    "torch", "torch.nn.functional", "scipy.stats", "scipy.optimize", "networkx", "sqlalchemy",
    "json", "os", "os.path", "shutil", "itertools", "functools", "math", "statistics",
    "textwrap", "string", "re", "pathlib.Path", "collections", "heapq", "bisect", "zlib",
    "str", "bytes", "list", "dict", "set", "int", "float",
]


@dataclass
class Source:
    entity: str  # e.g. numpy.argmax
    name: str  # the last component, e.g. argmax
    group: str  # module or class: siblings share it
    chunk: str
    answer: str


@dataclass
class Record:
    pair_id: str
    instruction: str
    answer: str
    chunk: str
    label: dict = field(default_factory=dict)


def _clean(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text).strip()


def _paragraphs(doc: str) -> list[str]:
    out = []
    for para in re.split(r"\n\s*\n", doc):
        if re.match(r"\s*(Parameters|Returns|Examples|See Also|Notes|Raises|Args|Example|>>>|\.\. )",
                    para) or re.search(r"\n\s*-{3,}", para):
            break
        para = " ".join(line.strip() for line in para.splitlines())
        if para:
            out.append(para)
    return out


def _words(text: str, n: int) -> str:
    w = text.split()
    return " ".join(w[:n])


def docstring_sources(max_per_group: int = 60) -> list[Source]:
    out = []
    for modname in MODULES:
        try:
            if modname in ("str", "bytes", "list", "dict", "set", "int", "float"):
                obj = __builtins__[modname] if isinstance(__builtins__, dict) else getattr(__builtins__, modname)
            elif "." in modname and modname.split(".")[-1][0].isupper():
                mod, cls = modname.rsplit(".", 1)
                obj = getattr(importlib.import_module(mod), cls)
            else:
                obj = importlib.import_module(modname)
        except Exception:  # not installed here: the set is built from what is
            continue
        count = 0
        for name in sorted(dir(obj)):
            if name.startswith("_") or count >= max_per_group:
                continue
            try:
                member = getattr(obj, name)
            except Exception:
                continue
            if not callable(member) or inspect.isclass(member):
                continue
            doc = inspect.getdoc(member) or ""
            paras = _paragraphs(doc)
            if not paras or not (8 <= len(" ".join(paras[:2]).split()) <= 220):
                continue
            if re.fullmatch(r"[\w.]+\(.*\)(?: -> .*)?", paras[0]):
                paras = paras[1:]  # a signature line, not prose
            if not paras or re.search(r"\bdeprecated\b|\balias (?:of|for)\b", " ".join(paras[:2]), re.I):
                continue
            answer = _clean(" ".join(paras[:2]))
            chunk = _clean(_words(doc.replace("\n", " "), 200))
            out.append(Source(f"{modname}.{name}", name, modname, chunk, answer))
            count += 1
    return out


def topic_sources() -> list[Source]:
    from pydoc_data.topics import topics

    out = []
    for key, text in sorted(topics.items()):
        paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if len(p.split()) > 12]
        paras = [p for p in paras if not p.startswith(("*", "|", "::")) and "::=" not in p]
        if len(paras) < 2:
            continue
        name = key.replace("-", " ")
        answer = " ".join(paras[1:3]) if len(paras[0].split()) < 25 else paras[0]
        if len(answer.split()) > 260:
            answer = " ".join(re.split(r"(?<=[.!?])\s+", answer)[:6])
        out.append(Source(f"python {name}", name, "python-reference", _clean(_words(" ".join(paras), 220)),
                          _clean(answer)))
    return out


def sources() -> list[Source]:
    seen, out = set(), []
    for s in docstring_sources() + topic_sources():
        if s.answer not in seen:  # re-exports (numpy.argmax == numpy.core.argmax) count once
            seen.add(s.answer)
            out.append(s)
    return out


# --- instructions -------------------------------------------------------------------------

FUNC_TEMPLATES = [
    "What does `{e}` do?",
    "What is the purpose of `{e}`?",
    "Can you explain what {e} is used for?",
    "Describe what the function {e} does.",
    "What is {e} for, and what does it return?",
    "How would you summarise the behaviour of `{e}`?",
]
TOPIC_TEMPLATES = [
    "How does {e} work?",
    "What does the Python reference say about {e}?",
    "Can you explain {e} as Python defines it?",
    "Describe the semantics of {e}.",
    "What should I know about {e}?",
]


def templates(src: Source) -> list[str]:
    return TOPIC_TEMPLATES if src.group == "python-reference" else FUNC_TEMPLATES


# --- edits ----------------------------------------------------------------------------------

SYNONYMS = {
    "returns": "gives back", "return": "give back", "Return": "Give back", "Returns": "Gives back",
    "specified": "given", "compute": "calculate", "Compute": "Calculate", "computes": "calculates",
    "Computes": "Calculates", "element": "item", "elements": "items", "whether": "if",
    "object": "instance", "objects": "instances", "optional": "not required", "use": "employ",
    "used": "employed", "given": "supplied", "each": "every", "value": "result", "values": "results",
    "create": "build", "Create": "Build", "creates": "builds", "Construct": "Build", "new": "fresh",
    "must": "has to", "can": "may", "also": "as well", "the": "the", "However": "But",
}


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z`(])", text) if s]


def near_edit(text: str, rng: random.Random, protect: set[str], edits: int = 2) -> str:
    """Small edits that leave the text's meaning and entities alone."""
    words = text.split()
    for _ in range(edits):
        kind = rng.choice(["typo", "drop", "insert", "punct", "synonym"])
        free = [i for i, w in enumerate(words) if w.strip(".,;:?!`'\"()").lower() not in protect
                and "`" not in w and not re.search(r"[\d_.(]\w", w)]
        if not free:
            break
        i = rng.choice(free)
        if kind == "typo":
            words[i] = _typo(words[i], rng)
        elif kind == "drop" and len(words) > 6 and words[i].lower() in ("the", "a", "an", "of", "to", "is"):
            words.pop(i)
        elif kind == "insert":
            words.insert(i, rng.choice(["also", "really", "just", "then", "actually"]))
        elif kind == "punct":
            words[i] = words[i].rstrip(",.;") + rng.choice([",", "", ";"])
        else:
            core = words[i].strip(".,;:?!")
            if core in SYNONYMS:
                words[i] = words[i].replace(core, SYNONYMS[core])
    out = " ".join(words)
    return out[0].upper() + out[1:] if out else out


def swap_clauses(sentence: str) -> str:
    """"A, B." -> "B; A." (also at " and ", " which ", "; "): the same content, another order."""
    for sep in ("; ", ", and ", ", which ", ", ", " and "):
        if sep in sentence:
            a, b = sentence.rstrip(".").split(sep, 1)
            if len(a.split()) >= 3 and len(b.split()) >= 3:
                return f"{b[0].upper()}{b[1:]}; {a[0].lower() if a[:2] != a[:2].upper() else a[0]}{a[1:]}."
    return sentence


def paraphrase_answer(text: str, rng: random.Random) -> str:
    """The same content, reordered (sentences, and clauses inside sentences) and reworded."""
    sents = _sentences(text)
    if rng.random() < 0.5:
        sents = [swap_clauses(s) for s in sents]
    if len(sents) > 1:
        first = sents.pop(0)
        rng.shuffle(sents)
        sents.insert(rng.randrange(1, len(sents) + 1), first)  # the summary moves
    out = []
    for s in sents:
        words = [SYNONYMS.get(w, w) if rng.random() < 0.7 else w for w in s.split()]
        out.append(" ".join(words))
    joined = " ".join(out)
    return rng.choice(["", "In short: ", "Put simply, ", "Briefly, "]) + joined


# --- dedup set ----------------------------------------------------------------------------

def siblings(srcs: list[Source], rng: random.Random, limit: int) -> list[tuple[int, int]]:
    """Pairs of entities in one module whose names differ a little (lstrip/rstrip,
    argmax/argmin, isdigit/isdecimal): templated questions about them are hard negatives."""
    by_group: dict[str, list[int]] = {}
    for i, s in enumerate(srcs):
        by_group.setdefault(s.group, []).append(i)
    found = []
    for idx in by_group.values():
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                x, y = srcs[idx[a]], srcs[idx[b]]
                r = difflib.SequenceMatcher(None, x.name, y.name).ratio()
                if r >= 0.7 and x.answer != y.answer:
                    found.append((r, idx[a], idx[b]))
    rng.shuffle(found)
    used, out = set(), []
    for _, a, b in sorted(found, key=lambda t: -t[0]):
        if a not in used and b not in used:
            used.update((a, b))
            out.append((a, b))
    rng.shuffle(out)
    return out[:limit]


def build_dedup(srcs: list[Source], rng: random.Random, n_originals: int = 300,
                n_exact: int = 40, n_near: int = 60, n_para: int = 60, n_hard: int = 60
                ) -> list[Record]:
    """Records labelled {kind, group}: records of one group are duplicates of each other;
    `kind` is original, hard_negative (an original), exact, near or paraphrase."""
    hard = siblings(srcs, rng, n_hard)
    hard_ids = {i for ab in hard for i in ab}
    rest = [i for i in range(len(srcs)) if i not in hard_ids]
    rng.shuffle(rest)
    originals = [i for ab in hard for i in ab] + rest[: max(0, n_originals - 2 * len(hard))]
    records: list[Record] = []
    tmpl_of: dict[int, int] = {}
    for a, b in hard:  # one template for both siblings: the templated-entity case
        tmpl_of[a] = tmpl_of[b] = rng.randrange(len(templates(srcs[a])))
    for i in originals:
        s = srcs[i]
        t = tmpl_of.get(i, rng.randrange(len(templates(s))))
        tmpl_of[i] = t
        records.append(Record(f"o{i}", templates(s)[t].format(e=s.entity), s.answer, s.chunk,
                              {"kind": "hard_negative" if i in hard_ids else "original", "group": f"g{i}"}))
    base = list(records)
    for kind, n in (("exact", n_exact), ("near", n_near), ("paraphrase", n_para)):
        for k, rec in enumerate(rng.sample(base, n)):
            i = int(rec.pair_id[1:])
            s = srcs[i]
            protect = {a.lower() for a in re.findall(r"\w+", s.entity)}
            if kind == "exact":
                q = rng.choice([rec.instruction.lower(), rec.instruction.upper(), "  " + rec.instruction + " ",
                                rec.instruction.rstrip("?.") + " ?"])
                a = rng.choice([rec.answer, rec.answer.lower(), rec.answer.replace(". ", ".  "),
                                rec.answer.replace(",", "")])
            elif kind == "near":
                q = near_edit(rec.instruction, rng, protect, edits=rng.randint(0, 1))
                a = near_edit(rec.answer, rng, protect, edits=rng.randint(1, 3))
            else:
                choices = [t for t in range(len(templates(s))) if t != tmpl_of[i]]
                q = templates(s)[rng.choice(choices)].format(e=s.entity)
                a = paraphrase_answer(rec.answer, rng)
            records.append(Record(f"{kind[0]}{k}_{i}", q, a, s.chunk, {"kind": kind, "group": rec.label["group"]}))
    rng.shuffle(records)
    return records


# --- filter set ---------------------------------------------------------------------------

JUNK_KINDS = ["refusal", "ai_boilerplate", "looping", "too_short", "non_alpha", "bad_python",
              "bad_json", "copies_instruction", "spam", "repeated_lines", "markup", "mojibake",
              "template_leak", "cites_the_text", "placeholder", "links"]


def junk(kind: str, rec: Record, rng: random.Random) -> str:
    a, q = rec.answer, rec.instruction
    first = _sentences(a)[0] if _sentences(a) else a
    if kind == "refusal":
        return rng.choice(["I'm sorry, but I cannot help with that request. ",
                           "I am not able to answer questions about this topic. "]) + first
    if kind == "ai_boilerplate":
        return "As an AI language model, I don't have personal opinions, but " + first[0].lower() + first[1:]
    if kind == "looping":
        phrase = " ".join(first.split()[: rng.randint(3, 8)])
        return " ".join([phrase] * rng.randint(6, 14))
    if kind == "too_short":
        return rng.choice(["Yes.", "It depends.", "See the docs.", first.split()[0] + "."])
    if kind == "non_alpha":
        return " ".join(f"{rng.randint(0, 9999)}.{rng.randint(0, 99)} | {rng.random():.4f} |" for _ in range(12))
    if kind == "bad_python":
        return f"{first}\n\n```python\ndef example(x:\n    return {rec.pair_id}(x]\n```"
    if kind == "bad_json":
        return '{"answer": "' + first.replace('"', "'") + '", "confidence": 0.9,'
    if kind == "copies_instruction":
        return q.rstrip("?") + ". " + q.rstrip("?") + "."
    if kind == "spam":
        return first + " Click here to learn more, and subscribe now for a free trial of our premium course!"
    if kind == "repeated_lines":
        return "\n".join([first] * rng.randint(4, 7))
    if kind == "markup":
        return ("<div class=\"content\"><p>" + first + "</p><br/><span>&nbsp;</span>"
                "<a href=\"#top\">Back to top</a></div>")
    if kind == "template_leak":
        return rng.choice([f"{first}<|im_end|>\n<|im_start|>user", f"{first} [/INST]",
                           f"{first}\n### Instruction: {q}"])
    if kind == "cites_the_text":
        return rng.choice(["According to the text, ", "Based on the passage provided, ",
                           "As mentioned in the text, "]) + first[0].lower() + first[1:]
    if kind == "placeholder":
        return rng.choice([f"{first} [insert example here]", "Lorem ipsum dolor sit amet, " + first,
                           "Your answer here."])
    if kind == "links":
        return "See https://docs.example.org/" + rec.pair_id + "/reference.html and https://example.com/faq#" + rec.pair_id
    if kind == "mojibake":
        return first.encode("utf-8").decode("latin-1").replace("e", "Ã©").replace("'", "â€™")
    raise ValueError(kind)


def build_filter_set(dedup_records: list[Record], rng: random.Random, per_kind: int = 12
                     ) -> list[Record]:
    """Every distinct original answer labelled good; `per_kind` junk answers of each kind."""
    originals = [r for r in dedup_records if r.label["kind"] in ("original", "hard_negative")]
    out = [Record(r.pair_id, r.instruction, r.answer, r.chunk, {"junk": None}) for r in originals]
    for kind in JUNK_KINDS:
        for n, rec in enumerate(rng.sample(originals, per_kind)):
            out.append(Record(f"j{kind}{n}", rec.instruction, junk(kind, rec, rng), rec.chunk, {"junk": kind}))
    rng.shuffle(out)
    return out


# --- faithfulness set -----------------------------------------------------------------------

ANTONYMS = [("maximum", "minimum"), ("minimum", "maximum"), ("largest", "smallest"),
            ("smallest", "largest"), ("True", "False"), ("False", "True"), ("first", "last"),
            ("last", "first"), ("before", "after"), ("after", "before"), ("lower", "upper"),
            ("upper", "lower"), ("leading", "trailing"), ("trailing", "leading"),
            ("ascending", "descending"), ("increasing", "decreasing"), ("always", "never"),
            ("left", "right"), ("right", "left"), ("rows", "columns"), ("columns", "rows")]


def invent(src: Source, sibling: Source | None, rng: random.Random) -> str | None:
    """The answer with its facts altered; None when no alteration applies."""
    a = src.answer
    options = []
    if re.search(r"\b\d+\b", a):
        options.append(re.sub(r"\b(\d+)\b", lambda m: str(int(m.group()) * 3 + 7), a))
    for x, y in ANTONYMS:
        if re.search(rf"\b{x}\b", a):
            options.append(re.sub(rf"\b{x}\b", y, a, count=1))
    if sibling is not None and src.name in a:
        options.append(a.replace(src.name, sibling.name))
    m = re.search(r"\b(is|are|returns|can|will|does)\b", a)
    if m:
        neg = {"is": "is not", "are": "are not", "returns": "never returns", "can": "cannot",
               "will": "will not", "does": "does not"}[m.group()]
        options.append(a[:m.start()] + neg + a[m.end():])
    return rng.choice(options) if options else None


def build_faithfulness(srcs: list[Source], rng: random.Random, n: int = 120) -> list[Record]:
    """n cases: half faithful, a quarter written for another chunk (a random one, or a
    sibling's when there is one), a quarter with invented facts."""
    sib = {}
    for a, b in siblings(srcs, rng, 10_000):
        sib[a], sib[b] = b, a
    picked = rng.sample(range(len(srcs)), n)
    out = []
    for k, i in enumerate(picked):
        s = srcs[i]
        q = templates(s)[rng.randrange(len(templates(s)))].format(e=s.entity)
        role = ["faithful", "faithful", "other_chunk", "invented"][k % 4]
        if role == "faithful":
            a = s.answer if rng.random() < 0.5 else paraphrase_answer(s.answer, rng)
            label = "faithful"
        elif role == "other_chunk":
            j = sib[i] if i in sib and rng.random() < 0.3 else rng.choice(
                [x for x in range(len(srcs)) if x != i])
            a, label = srcs[j].answer, "other_chunk_sibling" if i in sib and j == sib[i] else "other_chunk"
        else:
            a = invent(s, srcs[sib[i]] if i in sib else None, rng)
            label = "invented" if a else "faithful"
            a = a or s.answer
        out.append(Record(f"f{k}", q, a, s.chunk, {"faithful": label}))
    return out


# Faults a person finds reading generated pairs against their chunks, planted on real text
# (wordings varied beyond any one rule's pattern; the scaffolding is the product's own).
COMMENTARY = ["The text is incorrect and should be: {a}", "The text is: {c}",
              "This passage describes {e}. {a}", "Sure! {a}", "Here is the answer: {a}",
              "The question asks about {e}, and the answer is that {a}",
              "I think {a}", "The paragraph above explains it: {a}"]
SCAFFOLD_ANSWER = ["Source: {where}\nText: {a}", "{a}\n\nQuestion: What else does {e} do?",
                   "Answer: {a}\nQuestion: How is {e} used?", "Passage:\n{a}"]
CONTEXT_QUESTIONS = ["What does it do?", "How does this work?", "What is this used for?",
                     "Why is it important according to the text?", "What does the passage say?",
                     "What are these options?", "How do they differ?", "What does the author mean?",
                     "What is its purpose?", "When should this feature be used?",
                     "What is described above?", "What is the main idea?"]


def plant_fault(kind: str, s: Source, other: Source, rng: random.Random) -> tuple[str, str] | None:
    """(question, answer) with one planted fault of `kind`, on source `s`."""
    q = templates(s)[rng.randrange(len(templates(s)))].format(e=s.entity)
    a, e = s.answer, s.entity
    if kind == "commentary":
        return q, rng.choice(COMMENTARY).format(a=a, c=_words(s.chunk, 60), e=e)
    if kind == "scaffolding":
        return q, rng.choice(SCAFFOLD_ANSWER).format(a=a, e=e, where=f"{s.group} > {s.name}")
    if kind == "truncated":
        w = a.split()
        return (q, " ".join(w[: max(4, int(len(w) * rng.uniform(0.4, 0.8)))]).rstrip(".,;:")) \
            if len(w) >= 8 else None
    if kind == "looping":
        w = a.split()
        if len(w) < 6:
            return None
        i = rng.randrange(0, len(w) - 4)
        n = rng.randint(3, 5)
        phrase = " ".join(w[i:i + n])
        return q, " ".join(w[:i + n]) + " " + " ".join([phrase] * rng.randint(1, 3)) + " " + " ".join(w[i + n:])
    if kind == "context_question":
        return rng.choice(CONTEXT_QUESTIONS), a
    if kind == "off_question":
        oq = templates(other)[rng.randrange(len(templates(other)))].format(e=other.entity)
        return oq, a
    raise ValueError(kind)


FAULT_KINDS = ["commentary", "scaffolding", "truncated", "looping", "context_question", "off_question"]


def build_faults(srcs: list[Source], rng: random.Random, per_kind: int = 25) -> list[Record]:
    """Planted faults of every kind, each on its own source with that source's chunk."""
    out = []
    for kind in FAULT_KINDS:
        made = 0
        while made < per_kind:
            s, other = rng.sample(srcs, 2)
            qa = plant_fault(kind, s, other, rng)
            if qa:
                out.append(Record(f"{kind}{made}", qa[0], qa[1], s.chunk, {"faithful": kind}))
                made += 1
    return out


def build(seed: int = 13) -> dict[str, list[Record]]:
    rng = random.Random(seed)
    srcs = sources()
    dd = build_dedup(srcs, rng)
    return {"dedup": dd, "filters": build_filter_set(dd, rng), "faithfulness": build_faithfulness(srcs, rng),
            "faults": build_faults(srcs, rng)}


if __name__ == "__main__":
    from collections import Counter

    sets = build()
    print(f"{len(sources())} source entries")
    for name, recs in sets.items():
        print(name, len(recs), Counter(str(list(r.label.values())[0]) for r in recs))
    for r in sets["dedup"][:12]:
        print(r.label, "|", r.instruction, "|", r.answer[:100])
