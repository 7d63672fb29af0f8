import json
import os
import re

import pytest

from tuneline.documents.ingest import chunk_documents, read_sources, scan_folder, scan_sources
from tuneline.params import IngestParams
from tuneline.records import Document

EXT = [".txt", ".md", ".jsonl"]


def ingest(folder, **kw):
    params = IngestParams(**kw)
    files, skipped = scan_sources(folder, params)
    got = read_sources(folder, files, params)
    assert not got.pairs  # documents only in these tests
    return files, skipped, got.documents, got.dropped


def test_reads_txt_md_and_one_document_per_jsonl_line(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n\nSome text.")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("Plain text.")
    (tmp_path / "c.jsonl").write_text(json.dumps({"text": "one"}) + "\n\n" + json.dumps({"text": "two"}) + "\n")
    files, skipped, docs, dropped = ingest(tmp_path)
    assert [f.path for f in files] == ["a.md", "c.jsonl", "sub/b.txt"]
    assert all(len(f.sha256) == 64 and f.size > 0 for f in files)
    assert [d.source for d in docs] == ["a.md", "c.jsonl:1", "c.jsonl:3", "sub/b.txt"]
    assert not skipped and not dropped


def test_bad_files_and_lines_are_quarantined_with_where_and_why(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "blob.md").write_bytes(b"\x89PNG\x00\x00binary")
    (tmp_path / "empty.txt").write_text("   \n")
    (tmp_path / "d.jsonl").write_text('{"text": "fine"}\n{"text": broken\n{"body": "no text"}\n')
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    files, skipped, docs, dropped = ingest(tmp_path, extensions=EXT)
    assert [d.source for d in docs] == ["d.jsonl:1"]
    reasons = {(d.reason, d.detail.split(":")[0] if d.reason in ("bad_json", "no_text_field") else d.record["path"])
               for d in dropped}
    assert reasons == {("not_utf8", "latin1.txt"), ("binary_file", "blob.md"), ("empty_file", "empty.txt"),
                       ("bad_json", "d.jsonl"), ("no_text_field", "d.jsonl")}
    bad = next(d for d in dropped if d.reason == "bad_json")
    assert bad.detail.startswith("d.jsonl:2: ")
    assert [(s.reason, s.record["path"]) for s in skipped] == [("unsupported_extension", "image.png")]
    # nothing lost: every JSONL line and file is a document or a dropped record
    assert len(files) - 1 + 3 == len(docs) + len(dropped)


def test_oversized_file_is_quarantined_not_read(tmp_path):
    (tmp_path / "big.txt").write_text("word " * 1000)
    _, _, docs, dropped = ingest(tmp_path, max_file_mb=0.001)
    assert not docs and dropped[0].reason == "file_too_large"


def test_missing_and_empty_folders_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scan_folder(tmp_path / "nope", EXT)
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    with pytest.raises(ValueError, match="holds no .txt/.md/.jsonl files to ingest, and no "
                                         "ingest.datasets"):
        scan_sources(tmp_path, IngestParams(extensions=EXT))


def test_symlink_loop_does_not_hang(tmp_path):
    (tmp_path / "a.txt").write_text("text")
    os.symlink(tmp_path, tmp_path / "loop")
    os.symlink(tmp_path / "missing", tmp_path / "dangling.txt")
    files, skipped, _, _ = ingest(tmp_path)
    assert [f.path for f in files] == ["a.txt"]
    assert [s.reason for s in skipped] == ["not_a_regular_file"]


def test_chunks_pack_paragraphs_and_merge_short_tails():
    para = " ".join(["word"] * 50)
    doc = Document("d", "f.md", "\n\n".join([para] * 5) + "\n\nshort tail")
    chunks = chunk_documents([doc], IngestParams(chunk_words=120, min_chunk_words=20))
    sizes = [len(c.text.split()) for c in chunks]
    assert sizes == [100, 100, 52]  # the 2-word tail joined the last chunk
    assert len({c.chunk_id for c in chunks}) == 3 and all(c.doc_id == "d" for c in chunks)


def test_a_chunk_never_ends_with_the_signature_or_introduction_of_the_next_paragraph():
    # CPython's reference topic on sequence types: a signature line over its description
    import pydoc_data.topics

    text = pydoc_data.topics.topics["sequence-types"]
    chunks = chunk_documents([Document("d", "python-sequence-types.txt", text)],
                             IngestParams(chunk_words=120, min_chunk_words=20))
    assert len(chunks) > 5
    for c in chunks:
        last = c.text.split("\n\n")[-1]
        assert not re.fullmatch(r"object\.\w+\(.*\)", last), last
        assert not last.rstrip().endswith(":") or c is chunks[-1], last
    assert any("object.__len__(self)\n\nCalled to implement" in c.text for c in chunks)


def test_long_paragraph_is_split_at_sentences():
    text = " ".join(f"Sentence number {i} has six words." for i in range(60))
    chunks = chunk_documents([Document("d", "f.txt", text)], IngestParams(chunk_words=60, min_chunk_words=10))
    assert len(chunks) == 6
    assert all(c.text.endswith(".") and len(c.text.split()) <= 60 for c in chunks)


def test_a_50_mb_document_is_quarantined_in_bounded_memory(tmp_path):
    import tracemalloc

    with open(tmp_path / "huge.txt", "w") as f:
        for _ in range(50):
            f.write(("LoRA adapters train fast. " * 40 + "\n") * 1000)  # ~1 MB per round
    (tmp_path / "small.md").write_text("A small document that is read.")
    tracemalloc.start()
    files, _, docs, dropped = ingest(tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (tmp_path / "huge.txt").stat().st_size > 50e6
    assert [d.source for d in docs] == ["small.md"]
    assert [(d.reason, d.record["path"]) for d in dropped] == [("file_too_large", "huge.txt")]
    assert peak < 8 * 2**20  # hashed in 1 MiB blocks, never read whole


def _md(text, title="Guide"):
    return Document("d", "guide.md", text, title, structured=True)


WORDS = " ".join(["word"] * 50)


def test_chunks_follow_sections_and_carry_the_heading_path():
    text = (f"# Guide\n\nIntro {WORDS}\n\n## Install\n\n### From pip\n\npip {WORDS}\n\n"
            f"### From source\n\nsource {WORDS}\n\n## Usage\n\nusage {WORDS}\n")
    chunks = chunk_documents([_md(text)], IngestParams(chunk_words=80, min_chunk_words=20))
    assert [(c.section, c.text.split()[0]) for c in chunks] == [
        ("", "Intro"), ("Install > From pip", "pip"), ("Install > From source", "source"),
        ("Usage", "usage")]  # the title heading is the document's title, not a section
    assert all(c.title == "Guide" and "#" not in c.text for c in chunks)


def test_short_sections_join_the_next_with_their_headings_and_the_shared_path():
    text = ("## Install\n\n### From pip\n\nRun pip install guide.\n\n### From conda\n\n"
            f"Run conda install guide. {WORDS}\n\n## License\n\nMIT.\n")
    chunks = chunk_documents([_md(text)], IngestParams(chunk_words=120, min_chunk_words=20))
    assert len(chunks) == 1  # the short License section joins its predecessor at the end
    (chunk,) = chunks
    assert chunk.section == ""  # Install and License share no heading
    assert chunk.text.startswith("### From pip\n\nRun pip install guide.\n\n### From conda\n\n")
    assert chunk.text.endswith("## License\n\nMIT.")


def test_hashes_in_code_fences_and_plain_text_are_not_headings():
    code = "```bash\n# install it\npip install guide\n\n# then run it\nguide --help\n```"
    text = f"## Usage\n\n{WORDS}\n\n{code}\n\nSetext heading\n--------------\n\nafter {WORDS}"
    chunks = chunk_documents([_md(text)], IngestParams(chunk_words=200, min_chunk_words=10))
    assert [c.section for c in chunks] == ["Usage", "Setext heading"]
    assert code in chunks[0].text  # the fenced block is one unit, blank line and all
    plain = Document("d", "notes.txt", f"# not a heading in a .txt file\n\n{WORDS}", "notes")
    assert [c.section for c in chunk_documents([plain], IngestParams())] == [""]


def test_excluded_paths_are_listed_as_rejects_with_their_pattern_and_never_read(tmp_path):
    (tmp_path / "drafts").mkdir()
    (tmp_path / "drafts" / "wip.md").write_text("draft")
    (tmp_path / "notes.md").write_text("forget me")
    (tmp_path / "keep.md").write_text("keep me")
    files, skipped = scan_sources(tmp_path, IngestParams(extensions=EXT,
                                                         exclude=["drafts/*", "notes.md"]))
    assert [f.path for f in files] == ["keep.md"]
    assert {(s.reason, s.record["path"], s.detail) for s in skipped} == {
        ("excluded", "drafts/wip.md", "ingest.exclude 'drafts/*'"),
        ("excluded", "notes.md", "ingest.exclude 'notes.md'")}
    # the manifest entry stays whole (path, size, sha256): a trace of the file still finds it
    assert all(len(s.record["sha256"]) == 64 for s in skipped)
