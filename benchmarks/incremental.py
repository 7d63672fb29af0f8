"""Retraining on a changing folder: what a rerun costs once 5% of the documents changed, when
the machine has no call cache of its own and the stack's store (the artifact store's
`tuneline/llm-calls/`) has the first run's calls, as a step in a fresh container would.

The corpus is real text nobody on the project wrote: Python's language-reference topics
(`pydoc_data.topics`) and the docstrings of standard-library modules, each the first ~N words
at a paragraph boundary, one Markdown file per document. The dataset pipeline runs with the
bundled SmolLM2 in float32 (bit-identical reuse; docs/running.md, "LLM calls").

1. first run: every call made (the baseline);
2. 5% of the files changed: a third edited, a third deleted, a third added;
3. incremental reruns with an empty local call cache and the stack's store as the first run
   left it, `--no-cache` so every step executes (only LLM calls are reused), repeated;
4. a run from scratch on the changed folder: no step cache, no call cache anywhere (a second
   baseline, and the reference output).

Prints LLM calls made and wall time of each, the rerun's ratios to the from-scratch run
(median of the reruns), and whether every split artifact's content hash equals the
from-scratch run's.

    python benchmarks/incremental.py --docs 120 --words 150 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ("train_pairs", "test_pairs", "train_preferences", "test_preferences")


def corpus(n: int, words: int) -> dict[str, str]:
    """n real documents, name -> text: language-reference topics, then module docstrings."""
    import importlib
    import pkgutil
    import sysconfig
    import warnings

    from pydoc_data.topics import topics

    def cut(text: str) -> str:
        out, count = [], 0
        for para in text.split("\n\n"):
            if count >= words:
                break
            out.append(para.strip())
            count += len(para.split())
        return "\n\n".join(p for p in out if p)

    docs = {f"reference-{name}.md": f"# {name}\n\n{cut(text)}" for name, text in sorted(topics.items())
            if len(text.split()) >= 60}
    warnings.filterwarnings("ignore")
    for m in sorted(pkgutil.iter_modules([sysconfig.get_paths()["stdlib"]]), key=lambda m: m.name):
        if len(docs) >= n + n // 10:  # spares: the files added in step 2
            break
        if m.name.startswith("_") or m.name in {"antigravity", "this", "idlelib", "tkinter",
                                                   "turtle", "turtledemo"}:
            continue
        try:
            doc = importlib.import_module(m.name).__doc__ or ""
        except Exception:  # noqa: BLE001  (a module that does not import here: skip it)
            continue
        if len(doc.split()) >= 60:
            docs[f"module-{m.name}.md"] = f"# The {m.name} module\n\n{cut(doc)}"
    return docs


def run(env: dict, config: Path, *extra: str) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "tuneline"), "run", str(config), *extra],
                          env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    probe = ("import json; from zenml.client import Client; "
             "r = Client().list_pipeline_runs(pipeline_name='dataset_pipeline', sort_by='desc:created', size=1).items[0]; "
             "u = {'calls': 0, 'cached_calls': 0}\n"
             "for s in ('generate_pairs', 'judge_pairs', 'build_preferences'):\n"
             "    for v in r.steps[s].run_metadata['llm_usage'].values():\n"
             "        u['calls'] += v.get('calls', 0); u['cached_calls'] += v.get('cached_calls', 0)\n"
             f"print(json.dumps({{'usage': u, 'hashes': {{n: r.steps['split_dataset'].outputs[n][0].content_hash for n in {SPLITS!r}}}, "
             "'pairs': len(r.steps['split_dataset'].outputs['train_pairs'][0].load())}))")
    got = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return {"wall_s": wall, **json.loads(got.stdout.strip().splitlines()[-1])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--docs", type=int, default=120)
    p.add_argument("--words", type=int, default=150, help="words per document (at most, about)")
    p.add_argument("--change", type=float, default=0.05, help="share of the files changed")
    p.add_argument("--repeats", type=int, default=3, help="incremental reruns")
    p.add_argument("--work", default=None, help="folder for the store, caches and corpus")
    args = p.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="tuneline-incremental-"))
    shutil.rmtree(work, ignore_errors=True)
    docs = corpus(args.docs, args.words)
    names = list(docs)
    raw = work / "raw"
    raw.mkdir(parents=True)
    for name in names[:args.docs]:
        (raw / name).write_text(docs[name] + "\n")
    print(f"corpus: {args.docs} documents, {sum(len(docs[n].split()) for n in names[:args.docs])} "
          f"words (Python language-reference topics and stdlib module docstrings)", flush=True)
    config = work / "dataset.yaml"
    config.write_text(
        "extra: {pipeline: dataset}\n"
        f"parameters:\n  raw_dir: {raw}\n  llm: {{dtype: float32, batch_size: 16}}\n")
    base = {**os.environ, "ZENML_CONFIG_PATH": str(work / "zenml"), "ZENML_ANALYTICS_OPT_IN": "false",
            "HF_HUB_OFFLINE": "1"}

    def machine(name: str) -> dict:
        return {**base, "TUNELINE_CALL_CACHE": str(work / f"{name}.sqlite")}

    first = run(machine("first"), config)
    # the stack's store as the first run left it: each rerun starts from it (a rerun's own
    # calls would otherwise serve the next one)
    store = next((work / "zenml").rglob("tuneline/llm-calls"))
    shutil.copytree(store, work / "store-after-first-run")
    print(f"first run:        {first['usage']['calls']:>5} calls, {first['wall_s']:7.1f} s, "
          f"{first['pairs']} train pairs", flush=True)
    k = max(3, round(args.docs * args.change))
    edited, deleted, added = names[:k // 3], names[k // 3:2 * (k // 3)], names[args.docs:args.docs + k - 2 * (k // 3)]
    for name in edited:  # a new paragraph: another document's opening
        donor = docs[names[-1 - names.index(name)]].split("\n\n")[1]
        (raw / name).write_text(docs[name] + "\n\n" + donor + "\n")
    for name in deleted:
        (raw / name).unlink()
    for name in added:
        (raw / name).write_text(docs[name] + "\n")
    print(f"changed: {len(edited)} edited, {len(deleted)} deleted, {len(added)} added "
          f"({len(edited) + len(deleted) + len(added)} of {args.docs} files)", flush=True)
    reruns = []
    for n in range(args.repeats):
        shutil.rmtree(store)
        shutil.copytree(work / "store-after-first-run", store)
        got = run(machine(f"container-{n}"), config, "--no-cache")
        reruns.append(got)
        print(f"incremental {n + 1}:    {got['usage']['calls']:>5} calls "
              f"({got['usage']['cached_calls']} from the stack's store), {got['wall_s']:7.1f} s", flush=True)
    scratch = run(machine("scratch"), config, "--no-cache", "--set", "parameters.llm.shared_cache=null")
    print(f"from scratch:     {scratch['usage']['calls']:>5} calls, {scratch['wall_s']:7.1f} s", flush=True)
    calls = statistics.median(r["usage"]["calls"] for r in reruns)
    wall = statistics.median(r["wall_s"] for r in reruns)
    same = all(r["hashes"] == scratch["hashes"] for r in reruns)
    print(f"\nrerun / from scratch (median of {args.repeats}): LLM calls {calls / scratch['usage']['calls']:.3f}, "
          f"wall time {wall / scratch['wall_s']:.3f}; against the first run: wall "
          f"{wall / first['wall_s']:.3f}")
    print(f"every split artifact identical to the from-scratch run's: {'yes' if same else 'NO'}")
    if not same:
        for r in reruns:
            print("  differs:", [n for n in SPLITS if r["hashes"][n] != scratch["hashes"][n]])


if __name__ == "__main__":
    main()
