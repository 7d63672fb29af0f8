from tuneline.curation.report import histogram, render
from tuneline.records import Pair, drop, dropped_frame


def test_report_shows_funnel_reasons_examples_scores_and_clusters():
    kept = Pair("k1", "c", "a.md", "What is LoRA?", "A low-rank update.")
    rejected = dropped_frame([
        drop("minhash_dedup", "near_duplicate", Pair("d1", "c", "a.md", "What is LoRA <b>?", "x"),
             "duplicate_of=k1 jaccard=0.910"),
        drop("filter", "answer_too_short", Pair("d2", "c", "a.md", "Why?", "No.")),
        drop("ingest", "bad_json", {"path": "n.jsonl:2", "line": "{oops"}, "n.jsonl:2: Expecting"),
    ])
    page = render([("raw files", 3), ("train pairs", 1)], rejected, [4.2, 2.9, 3.3],
                  {"k1": kept.instruction})
    for text in ("Funnel", "raw files", "minhash_dedup: near_duplicate", "answer_too_short",
                 "n.jsonl:2: Expecting", "What is LoRA?", "jaccard=0.910", "n=3, mean 3.47"):
        assert text in page, text
    assert "<b>?" not in page and "&lt;b&gt;?" in page  # record text is escaped


def test_histogram_bins_cover_one_to_five():
    bins = histogram([1.0, 1.4, 5.0, 3.0], bins=4)
    assert [label for label, _ in bins] == ["1.0–2.0", "2.0–3.0", "3.0–4.0", "4.0–5.0"]
    assert [n for _, n in bins] == [2, 0, 1, 1]


def test_funnel_shares_are_of_the_stage_before_and_the_split_of_the_judged_pairs():
    from tuneline.curation.report import funnel_shares

    funnel = [("raw files", 10), ("chunks", 40), ("generated pairs", 80), ("after judge", 40),
              ("preference pairs", 30), ("train pairs", 32), ("test pairs", 8)]
    assert funnel_shares(funnel) == ["", "400%", "200%", "50%", "75%", "80%", "20%"]
    # imported pairs join the generated ones before the filters
    mixed = [("chunks", 40), ("generated pairs", 80), ("imported pairs", 20), ("after filters", 50)]
    assert funnel_shares(mixed) == ["", "200%", "", "50%"]


def test_per_source_rows_show_which_files_yield_nothing():
    from tuneline.curation.report import per_source
    from tuneline.records import Chunk, to_frame

    chunks = to_frame([Chunk("c1", "d1", "a.md", "x"), Chunk("c2", "d2", "b.md", "y"),
                       Chunk("c3", "d3", "notes.jsonl:4", "z")], Chunk)
    gen = [Pair("p1", "c1", "a.md", "Q1?", "A1."), Pair("p2", "c2", "b.md", "Q2?", "A2."),
           Pair("p3", "c3", "notes.jsonl:4", "Q3?", "A3.")]
    kept = to_frame([gen[0], gen[2]], Pair)
    rejected = dropped_frame([drop("grounding", "fits_another_chunk", gen[1], "chunk=c1"),
                              drop("ingest", "bad_json", {"path": "notes.jsonl:2"}, "oops")])
    rows = per_source(chunks, to_frame(gen, Pair), kept, rejected)
    # fewest kept first, then most dropped: the files worth a look
    assert [r["source"] for r in rows] == ["b.md", "notes.jsonl", "a.md"]
    assert rows[0]["kept"] == 0 and rows[0]["dropped"] == {"grounding": 1}
    assert rows[1]["chunks"] == 1 and rows[1]["kept"] == 1 and rows[1]["dropped"] == {"ingest": 1}
    page = render([("raw files", 2)], rejected, [], {}, rows)
    assert "<td>b.md</td><td class=num>1</td><td class=num>1</td><td class=num>0</td>" in page
    assert "grounding 1" in page


def test_sample_shows_kept_and_dropped_pairs_next_to_their_chunks_with_reasons():
    import json

    import pandas as pd

    from tuneline.curation.report import sample_with_chunks

    chunks = pd.DataFrame({"chunk_id": ["c1", "c2"], "text": ["CHUNK ONE TEXT", "CHUNK TWO TEXT"]})
    kept = pd.DataFrame({"pair_id": [f"k{i}" for i in range(20)], "chunk_id": ["c1"] * 20,
                         "instruction": [f"Kept question {i}?" for i in range(20)],
                         "answer": ["Kept answer."] * 20, "score": [3.5] * 20})
    rejected = pd.DataFrame({"stage": ["grounding", "ingest"], "reason": ["answer_off_question", "bad_json"],
                             "detail": ["0.20 of the question's words", "a.jsonl:2"],
                             "record": [json.dumps({"pair_id": "d1", "chunk_id": "c2", "instruction": "Dropped q?",
                                                    "answer": "Dropped a."}), json.dumps({"path": "a.jsonl"})]})
    html = sample_with_chunks(kept, rejected, chunks, n=5)
    assert html.count("Kept question") == 5 and "Kept (5 of 20, random)" in html
    assert "CHUNK ONE TEXT" in html and "judge 3.50" in html
    # only pair records are sampled among the drops, each with its stage, reason and detail
    assert "Dropped (1 of 1, random)" in html and "CHUNK TWO TEXT" in html
    assert "grounding: answer_off_question" in html and "0.20 of the question" in html
    assert sample_with_chunks(kept, rejected, chunks, n=5) == html  # seeded: the same sample each time
