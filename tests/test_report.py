from tuneline.records import Pair, drop, dropped_frame
from tuneline.report import histogram, render


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
