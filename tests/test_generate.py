import pytest

from tuneline.curation.generate import (
    answer_chat,
    attempts,
    generate_pairs,
    parse_question,
    passage_question_chat,
    question_chat,
    sharpen_question,
    trim_answer,
    where,
)
from tuneline.params import GenerateParams
from tuneline.records import Chunk


def _chunks(folder, name: str, text: str, **ingest) -> list[Chunk]:
    """`text` written to `folder/name` and read as the pipeline reads a raw folder: its reader,
    then the chunker."""
    from tuneline.documents.ingest import chunk_documents, read_sources, scan_sources
    from tuneline.params import IngestParams

    (folder / name).write_text(text)
    params = IngestParams(**ingest)
    files, _ = scan_sources(folder, params)
    return chunk_documents(read_sources(folder, files, params).documents, params)


@pytest.mark.parametrize("reply, question", [
    ("What is LoRA?", "What is LoRA?"),
    ('A student might ask: "What does the rank r control?"', "What does the rank r control?"),
    ("Question: How is alpha used? It scales the update.", "How is alpha used?"),
    ("Here is one question that the text answers: Why use QLoRA?", "Why use QLoRA?"),
    ("Sure!\n1. What does packing remove from batches?", "What does packing remove from batches?"),
    ("**What is DPO?**", "What is DPO?"),
])
def test_parse_question_strips_lead_ins(reply, question):
    assert parse_question(reply) == question


@pytest.mark.parametrize("reply", ["", "LoRA is a method.", "Why?", "This is a great text, thanks"])
def test_parse_question_rejects_replies_without_a_real_question(reply):
    assert parse_question(reply) is None


def test_trim_answer_cuts_back_to_the_last_sentence():
    assert trim_answer("It works. It also scales. And then the tok") == "It works. It also scales."
    assert trim_answer("Complete answer.") == "Complete answer."
    assert trim_answer("no sentence end at all") == "no sentence end at all"


def test_question_prompt_has_a_worked_example_then_the_chunk():
    chat = question_chat("CHUNK TEXT")
    assert [m["role"] for m in chat] == ["user", "assistant", "user"]
    assert chat[-1]["content"].endswith("Text:\nCHUNK TEXT") and "Source:" not in chat[-1]["content"]


def test_prompts_say_where_a_chunk_comes_from_when_it_has_a_title_or_section(fake_llm):
    chunk = Chunk("c1", "d", "guide.html", "Run it with --fast.", "Acme CLI", "Usage > Flags")
    assert where(chunk) == "Acme CLI > Usage > Flags"
    assert where(Chunk("c2", "d", "notes.txt", "text")) == ""
    llm = fake_llm(replies=["How do you run the Acme CLI fast?", "Pass --fast."])
    pairs, _ = generate_pairs([chunk], llm, GenerateParams(mode="two_pass"))
    assert pairs[0].answer == "Pass --fast."
    asked = question_chat(chunk.text, where(chunk))[-1]["content"]
    assert asked.endswith("Source: Acme CLI > Usage > Flags\nText:\nRun it with --fast.")
    assert "Source: Acme CLI > Usage > Flags\nText:" in answer_chat(chunk.text, "Q?", where(chunk))[0]["content"]


def test_generate_pairs_keeps_good_attempts_and_drops_the_rest(fake_llm):
    chunks = [Chunk("c1", "d", "a.md", "text one"), Chunk("c2", "d", "b.md", "text two")]
    llm = fake_llm(replies=[
        "What is text one about?", "I liked this text.",      # questions, 2 per chunk
        "Which text is number two?", "What is the second text?",
        "It is about one.", "", "It is the second.",          # answers for the 3 parsed questions
    ])
    pairs, dropped = generate_pairs(chunks, llm, GenerateParams(mode="two_pass", questions_per_chunk=2))
    assert [(p.chunk_id, p.instruction, p.answer) for p in pairs] == [
        ("c1", "What is text one about?", "It is about one."),
        ("c2", "What is the second text?", "It is the second."),
    ]
    assert sorted((d.reason, d.record["chunk_id"]) for d in dropped) == [
        ("empty_answer", "c2"), ("no_question_in_reply", "c1")]
    assert len(pairs) + len(dropped) == 4
    assert llm.calls == [("generate", 4), ("generate", 3)]  # one batched call per pass


LORA = ("## Rank\n\nThe rank r sets the capacity of the LoRA update: common values are 8, 16, 32 "
        "and 64. Higher ranks train more parameters and use more memory.\n\n"
        "It also changes the scaling when rsLoRA is off, since alpha is divided by r, so a run "
        "that changes r should revisit alpha.\n\n"
        "Short line.")


def test_answer_first_takes_the_answer_from_the_chunk_and_asks_only_for_the_question(fake_llm):
    chunk = Chunk("c1", "d", "lora.md", LORA, "LoRA guide", "Hyperparameters")
    llm = fake_llm(replies=["Question: What does the LoRA rank control, and how does it relate to alpha?"])
    pairs, dropped = generate_pairs([chunk], llm, GenerateParams(questions_per_chunk=2))
    assert [p.instruction for p in pairs] == ["What does the LoRA rank control, and how does it relate to alpha?"]
    # the passage verbatim: the "It also ..." paragraph joined to the one it leans on (which
    # alone is then no second passage), the heading and the too-short line left out
    assert pairs[0].answer == LORA.split("\n\n", 1)[1].rsplit("\n\n", 1)[0]
    assert dropped == [] and llm.calls == [("generate", 1)]  # one batched call, no answer pass
    asked = passage_question_chat(pairs[0].answer, where(chunk))[-1]["content"]
    # the question is written from the passage's opening statement, without the topic line
    assert asked.endswith("Statement: The rank r sets the capacity of the LoRA update: common "
                          "values are 8, 16, 32 and 64.") and "LoRA guide" not in asked


@pytest.mark.parametrize("question, opening, sharpened", [
    # sentences of READMEs that ship with Debian's packages (make's README.customs, urllib3's)
    ("What does GNU make do?", "GNU make can utilize the Customs library, distributed with Pmake, "
     "to provide builds distributed across multiple hosts.", "What can GNU make utilize?"),
    ("What does Tidelift do?", "Tidelift will coordinate the fix and disclosure with maintainers.",
     "What will Tidelift coordinate?"),
    # CPython's reference: a verb with no object ("occur ... nested in") asks for none
    ('What does "break" do?', '"break" may only occur syntactically nested in a "for" or "while" '
     "loop, but not nested in a function or class definition within that loop.", 'What does "break" do?'),
    ("What does timedatectl do?", "timedatectl may be used to query and change the system clock.",
     "What does timedatectl do?"),  # the passive says what it is for
    ("What does GNU make provide?", "GNU make can utilize the Customs library.", "What does GNU make provide?"),
])
def test_what_does_x_do_is_asked_with_the_verb_of_a_statement_that_tells_one_thing_x_can_do(
        question, opening, sharpened):
    assert sharpen_question(question, opening) == sharpened


def test_a_generated_question_is_sharpened_before_it_becomes_a_pair(fake_llm):
    text = ("# Customs\n\nGNU make can utilize the Customs library, distributed with Pmake, to provide "
            "builds distributed across multiple hosts.")
    chunk = Chunk("c1", "d", "README.customs", text, "make README customs", "")
    pairs, _ = generate_pairs([chunk], fake_llm(replies=["What does GNU make do?"]),
                              GenerateParams(questions_per_chunk=1))
    assert [p.instruction for p in pairs] == ["What can GNU make utilize?"]


def test_answer_first_counts_a_chunk_without_a_passage_as_one_dropped_attempt(fake_llm):
    chunks = [Chunk("c1", "d", "a.md", "# Title\n\nToo short."), Chunk("c2", "d", "b.md", LORA)]
    params = GenerateParams(questions_per_chunk=1)
    assert [(c.chunk_id, p is None) for c, p in attempts(chunks, params)] == [("c1", True), ("c2", False)]
    pairs, dropped = generate_pairs(chunks, fake_llm(replies=["What do LoRA ranks set?"]), params)
    assert len(pairs) + len(dropped) == len(attempts(chunks, params)) == 2
    assert dropped[0].reason == "no_answer_passage" and dropped[0].record["chunk_id"] == "c1"


def test_unknown_generation_mode_is_a_clear_error(fake_llm):
    params = GenerateParams.model_construct(mode="one_pass", questions_per_chunk=1)
    with pytest.raises(ValueError, match="unknown generation.mode 'one_pass'"):
        generate_pairs([Chunk("c1", "d", "a.md", LORA)], fake_llm(replies=[]), params)


def test_conversations_take_their_turns_from_passages_of_one_chunk_in_document_order(fake_llm):
    import functools
    import inspect

    doc = inspect.getdoc(functools.lru_cache)  # the stdlib's own text: three answer passages
    chunk = Chunk("c1", "d", "functools.txt", doc)
    params = GenerateParams(turns=3)
    (_, group), = attempts([chunk], params)
    from tuneline.curation import passages

    found = passages.passages(doc, params.passage_min_words, params.passage_max_words)
    # the chunk's passages in the order the document has them
    assert list(group) == [p for p in found if p in group] and len(group) == 3
    llm = fake_llm(replies=["What happens when maxsize is None?", "What does typed do?",
                            "How do you view the cache statistics?"])
    (pair,), dropped = generate_pairs([chunk], llm, params)
    assert not dropped and llm.calls == [("generate", 3)]  # every turn's question in one call
    assert [q for q, _ in pair.history] + [pair.instruction] == [
        "What happens when maxsize is None?", "What does typed do?",
        "How do you view the cache statistics?"]
    assert [a for _, a in pair.history] + [pair.answer] == list(group)  # the source's own words
    # a reply without a question ends the conversation at the turns before it, in the ledger
    (cut,), dropped = generate_pairs([chunk], fake_llm(replies=[
        "What happens when maxsize is None?", "Typed is nice.", "What about stats?"]), params)
    assert cut.history == () and cut.answer == group[0]
    assert [d.reason for d in dropped] == ["truncated:no_question_in_reply"]
    assert dropped[0].detail.startswith(f"turn 2 of 3; its first 1 turns kept as {cut.pair_id}")
    from tuneline.records import ledger

    assert ledger("generate", len(attempts([chunk], params)), 1, dropped)["kept"] == 1


def test_two_pass_conversations_are_a_clear_error(fake_llm):
    with pytest.raises(ValueError, match="turns > 1 needs mode answer_first"):
        attempts([Chunk("c1", "d", "a.md", LORA)], GenerateParams(mode="two_pass", turns=2))


def test_a_passage_that_introduces_a_list_keeps_every_item_of_it():
    """Python's reference on `import` (shipped with CPython): "executed in two steps:" and its
    two items, each a block of its own; a passage with only the first step answers half."""
    import pydoc_data.topics

    from tuneline.curation import passages

    found = passages.passages(pydoc_data.topics.topics["import"], 15, 120)
    steps = next(p for p in found if "executed in two" in p)
    assert "1. find a module" in steps and "2. define a name" in steps
    # a list no "...:" paragraph introduces is no passage on its own
    assert not any(p.startswith(("1.", "2.")) for p in found)


def test_a_passage_keeps_an_index_written_against_a_name_and_drops_footnote_marks():
    """Python's operator summary (shipped with CPython): its footnote [2] says
    "divmod(x,y)[0] * y + x % y"; the "[0]" is an index, "[2]" a note mark."""
    import pydoc_data.topics

    from tuneline.curation import passages

    found = passages.passages(pydoc_data.topics.topics["operator-summary"], 15, 120)
    rounding = next(p for p in found if "due to rounding" in p)
    assert '"divmod(x,y)[0] * y + x % y"' in rounding
    assert not rounding.startswith(("[", " ")) and "[2]" not in rounding


def test_a_sentence_that_a_code_block_interrupts_does_not_end_a_passage():
    """Python's reference on function definitions: "For example, the following code" + code
    + "is roughly equivalent to" + code + "except that ...": the passage ends at the last
    whole sentence before the code, and the sentence's rest is no passage of its own."""
    import pydoc_data.topics

    from tuneline.curation import passages

    found = passages.passages(pydoc_data.topics.topics["function"], 15, 120)
    decorators = next(p for p in found if "decorator" in p and "nested fashion" in p)
    assert decorators.endswith("Multiple decorators are applied in nested fashion.")
    assert not any(p.startswith(("is roughly", "except that")) for p in found)


def test_a_passage_that_opens_with_separately_leans_on_the_paragraph_before():
    import pydoc_data.topics

    from tuneline.curation import passages

    found = passages.passages(pydoc_data.topics.topics["identifiers"], 15, 120)
    assert not any(p.startswith("Separately,") for p in found)


def test_a_paragraph_that_only_sends_the_reader_to_another_is_no_answer_passage(tmp_path):
    import pydoc_data.topics

    from tuneline.curation import passages

    # CPython's reference topic, read as the pipeline reads it: "See the paragraph on
    # "__hash__()" for some important notes on creating *hashable* objects ..."
    chunks = _chunks(tmp_path, "python-customization.txt", pydoc_data.topics.topics["customization"])
    assert any("See the paragraph on" in c.text for c in chunks)
    found = [p for c in chunks for p in passages.passages(c.text, 15, 120)]
    assert len(found) > 10 and not any(p.startswith("See ") for p in found)


def test_a_paragraph_that_starts_mid_sentence_is_no_answer_passage_unless_it_names_the_page():
    from tuneline.curation import passages

    # Valgrind's README.solaris, whose wrapped lines came apart in its HTML
    rest = ("individually for each flag. After a syscall is finished, when a carry flag is set and "
            "defined, all other mentioned flags will be also defined even though they might be "
            "undefined before making the syscall.")
    assert passages.passages(rest, 15, 120, "12. README.solaris") == []
    # lnstat(8): a manual's program starts its sentences in lower case
    own = ("lnstat is a generalized and more feature-complete replacement for the old rtstat "
           "program. It is commonly used to periodically print a selection of statistical values.")
    assert passages.passages(own, 15, 120, "lnstat - unified linux network statistics") == [own]


def test_c_code_at_the_margin_is_code_not_an_answer_passage():
    """A manual's example, dedented with the rest of its body: a C macro whose lines end in
    backslashes and semicolons is no prose (it once made "What does check do?")."""
    from tuneline.curation import passages

    text = ("#define check(log_level, x) ({ \\\n        int _r = (x); \\\n"
            "        errno = _r < 0 ? -_r : 0; \\\n        })\n\n"
            "The daemon keeps running until it receives a signal; then it writes its state "
            "and exits with status zero.")
    assert passages.passages(text, 10, 120) == [
        "The daemon keeps running until it receives a signal; then it writes its state and "
        "exits with status zero."]


def test_a_manuals_boilerplate_sections_give_no_answer_passages():
    """util-linux pages end with "AVAILABILITY: The col command is part of the util-linux
    package which can be downloaded from ...", which once answered "What does col do?"."""
    from tuneline.curation import passages

    text = ("## DESCRIPTION\n\ncol filters out reverse (and half-reverse) line feeds so the output "
            "is in the correct order, with only forward and half-forward line feeds.\n\n"
            "## AVAILABILITY\n\nThe col command is part of the util-linux package which can be "
            "downloaded from Linux Kernel Archive.\n\n## REPORTING BUGS\n\nFor bug reports, use "
            "the issue tracker at the project's site, and include the version you ran.\n")
    found = passages.passages(text, 10, 120, "col - filter reverse line feeds from input")
    assert len(found) == 1 and found[0].startswith("col filters out reverse")


def test_an_opening_clause_leans_back_only_when_its_main_clause_points_back():
    """"If the function returns void, then this value is garbage" (libffi's manual) leans on
    the paragraph before it; ", such as ..." in an opening is an example, not a pointer."""
    from tuneline.curation import passages

    text = ("Some earlier paragraph about the closure API and the return value it writes.\n\n"
            "If the function is declared as returning void, then this value is garbage and "
            "should not be used by the caller at all.\n\n"
            "An embedding model, such as a sentence-transformers model, maps each text to a "
            "vector of a few hundred numbers.")
    found = passages.passages(text, 10, 120)
    assert found[-1].startswith("An embedding model, such as")
    assert not any(p.startswith("If the function") for p in found)


# lslogins(1)'s option list as tuneline's manual reader renders it (util-linux's own text)
LSLOGINS = (
    "## OPTIONS\n\nMandatory arguments to long options are mandatory for short options too.\n\n"
    "- -a, --acc-expiration: Display data about the date of last password change and the account "
    "expiration date (see shadow(5) for more info). (Requires root privileges.)\n\n"
    "- --btmp-file path: Alternate path for btmp.\n\n"
    "- -g, --groups=groups: Only show data of users belonging to groups. More than one group may "
    "be specified; the list has to be comma-separated. Unknown group names are ignored.\n\n"
    "- --noheadings: Do not print a header line.\n\n"
    "- -Z, --context: Same as --security-context, for scripts written for older versions.\n\n"
    "- -button: number This option specifies the number of pointer button that should be used.\n")
LSLOGINS_TITLE = "lslogins - display information about known users in the system"


def test_a_manuals_option_list_gives_pairs_whose_question_names_the_option_and_the_program():
    from tuneline.curation.generate import option_entries
    from tuneline.text import program

    assert program(LSLOGINS_TITLE) == "lslogins"
    assert program("gzip, gunzip, zcat - compress or expand files") == "gzip"
    assert program("sftp(1) - OpenBSD manual pages") == "sftp"
    assert program("Python language reference") is None
    chunk = Chunk("c1", "d", "lslogins.txt", LSLOGINS, LSLOGINS_TITLE, "OPTIONS")
    got = {e.question: e.answer for e in option_entries(chunk, GenerateParams())}
    assert got == {
        "What does the --acc-expiration option of lslogins do?":
            "Display data about the date of last password change and the account expiration date "
            "(see shadow(5) for more info). (Requires root privileges.)",
        # the argument where the description names it
        "What does the --groups=groups option of lslogins do?":
            "Only show data of users belonging to groups. More than one group may be specified; "
            "the list has to be comma-separated. Unknown group names are ignored.",
        "What does the --noheadings option of lslogins do?": "Do not print a header line.",
    }  # not: 4 words; "Same as ..."; a description that starts with the term's rest
    # a page whose title names no program: the question could not stand alone
    assert option_entries(Chunk("c2", "d", "x.txt", LSLOGINS, "Options", ""), GenerateParams()) == []


def test_an_option_item_takes_a_chunks_place_before_its_prose_and_costs_no_model_call(fake_llm):
    from tuneline.curation.generate import Entry

    prose = ("## DESCRIPTION\n\nExamine the wtmp and btmp logs, /etc/shadow (if necessary) and "
             "/etc/passwd and output the desired data about every user the system knows.\n\n")
    mixed = Chunk("c1", "d", "lslogins.txt", prose + "- --noheadings: Do not print a header line.\n",
                  LSLOGINS_TITLE, "DESCRIPTION")
    described = Chunk("c2", "d", "lslogins.txt", prose, LSLOGINS_TITLE, "DESCRIPTION")
    todo = attempts([mixed, described], GenerateParams(questions_per_chunk=1))
    # one place: the item's, though the prose is longer; a second place goes to the prose
    assert isinstance(todo[0][1], Entry) and todo[0][1].answer == "Do not print a header line."
    assert todo[1][1].startswith("Examine the wtmp")
    two = attempts([mixed], GenerateParams(questions_per_chunk=2))
    assert isinstance(two[0][1], Entry) and two[1][1].startswith("Examine the wtmp")
    llm = fake_llm(replies=["What does lslogins examine?"])
    pairs, dropped = generate_pairs([mixed, described], llm, GenerateParams(questions_per_chunk=1))
    assert llm.calls == [("generate", 1)] and not dropped
    assert pairs[0].instruction == "What does the --noheadings option of lslogins do?"
    assert pairs[0].answer == "Do not print a header line."
    assert pairs[1].instruction == "What does lslogins examine?"


def test_an_api_entry_gives_a_pair_whose_question_is_its_signature():
    """CPython's reference topic on numeric types as the text reader gives it: each signature
    (or group of two to four) over the paragraph that describes it."""
    import pydoc_data.topics

    from tuneline.curation.generate import signature_entries

    text = pydoc_data.topics.topics["numeric-types"]
    got = {e.question: e.answer for e in signature_entries(
        Chunk("c", "d", "numeric.txt", text, "python numeric types", ""), GenerateParams())}
    assert got["What does object.__index__(self) do?"].startswith(
        'Called to implement "operator.index()", and whenever Python needs to losslessly convert')
    assert got["What do object.__neg__(self), object.__pos__(self), object.__abs__(self) and "
               "object.__invert__(self) do?"] == \
        'Called to implement the unary arithmetic operations ("-", "+", "abs()" and "~").'
    # the fourteen binary operators over one paragraph: a question longer than its answer
    assert not any("__add__" in q for q in got)
    assert all(a.endswith((".", '."', ".)")) for a in got.values())
    # a bare name needs its class to stand alone ("clear()" of what?)
    bare = Chunk("c", "d", "d.txt", "clear()\n\n   Remove all items from the dictionary.", "dict", "")
    assert signature_entries(bare, GenerateParams()) == []


# libffi's manual (texinfo's HTML, as Debian's libffi8 ships it): a function's definition
FFI_CALL_HTML = """<html><head><title>The Basics (libffi: the portable foreign function interface
library)</title></head><body><div class="section"><h3 class="section">2.1 The Basics</h3>
<p>To call a function using an initialized <code>ffi_cif</code>, use the
<code>ffi_call</code> function:</p>
<dl class="def">
<dt id="index-void"><span class="category">Function: </span><span><strong>void</strong> <em>ffi_call
(ffi_cif *<var>cif</var>, void *<var>fn</var>, void *<var>rvalue</var>, void **<var>avalues</var>)</em><a
href='#index-void' class='copiable-anchor'> &para;</a></span></dt>
<dd><p>This calls the function <var>fn</var> according to the description given in
<var>cif</var>.  <var>cif</var> must have already been prepared using
<code>ffi_prep_cif</code>.</p>
<p><var>rvalue</var> is a pointer to a chunk of memory that will hold the
result of the function call.</p></dd></dl>
<p>In most situations, <code>libffi</code> will handle promotion according to the ABI.</p>
</div></body></html>"""


def test_a_texinfo_manuals_function_definition_gives_a_pair_whose_question_is_its_signature(tmp_path):
    from tuneline.curation.generate import signature_entries
    from tuneline.curation.source_checks import Source, first_fault
    from tuneline.params import GroundingParams
    from tuneline.records import Pair

    (chunk,) = _chunks(tmp_path, "The-Basics.html", FFI_CALL_HTML)
    (entry,) = signature_entries(chunk, GenerateParams())
    # the return type out, the pointers' stars kept, Markdown's marks and escapes read
    assert entry.question == "What does ffi_call(ffi_cif *cif, void *fn, void *rvalue, void **avalues) do?"
    assert entry.answer.startswith("This calls the function `fn` according to the description given in `cif`.")
    # the rules that read a model's question against its answer's opening leave it alone
    pair = Pair("p", chunk.chunk_id, chunk.source, entry.question, entry.answer)
    assert first_fault(pair, Source(chunk.text, chunk.title), GroundingParams()) is None


# Node.js's API reference (Debian's nodejs package ships it): a heading per method, a list of
# its parameters, then what it does
NODE_CONSOLE_HTML = """<html><head><title>Console | Node.js v20.20.2 Documentation</title></head><body>
<div id="apicontent"><h2>Console</h2>
<p>The <code>node:console</code> module provides a simple debugging console that is similar to
the JavaScript console mechanism provided by web browsers.</p>
<h3>Class: <code>Console</code></h3>
<p>The <code>Console</code> class can be used to create a simple logger with configurable
output streams and can be accessed using either <code>require('node:console').Console</code>
or <code>console.Console</code>.</p>
<h4><code>console.clear()</code><span><a class="mark" href="#consoleclear" id="consoleclear">#</a></span></h4>
<div class="api_metadata"><span>Added in: v8.3.0</span></div>
<p>When <code>stdout</code> is a TTY, calling <code>console.clear()</code> will attempt to clear the
TTY. When <code>stdout</code> is not a TTY, this method does nothing.</p>
<h4><code>console.count([label])</code><span><a class="mark" href="#consolecountlabel" id="consolecountlabel">#</a></span></h4>
<div class="api_metadata"><span>Added in: v8.3.0</span></div>
<ul>
<li><code>label</code> <a href="#" class="type">&#x3C;string></a> The display label for the counter. <strong>Default:</strong> <code>'default'</code>.</li>
</ul>
<p>Maintains an internal counter specific to <code>label</code> and outputs to <code>stdout</code> the
number of times <code>console.count()</code> has been called with the given <code>label</code>.</p>
</div></body></html>"""


def test_an_api_reference_that_heads_each_method_with_its_signature_gives_a_pair_per_method(tmp_path):
    from tuneline.curation.generate import Entry, attempts, where
    from tuneline.curation.source_checks import Source, first_fault
    from tuneline.params import GroundingParams
    from tuneline.records import Pair

    chunks = _chunks(tmp_path, "console.html", NODE_CONSOLE_HTML,  # a chunk per section or two
                     chunk_words=40, min_chunk_words=10)
    got = {a.question: (c, a.answer) for c, a in attempts(chunks, GenerateParams(questions_per_chunk=2))
           if isinstance(a, Entry)}
    assert set(got) == {"What does console.clear() do?", "What does console.count([label]) do?"}
    assert got["What does console.clear() do?"][1].startswith("When `stdout` is a TTY, calling")
    # past the parameter list, to what the method does
    assert got["What does console.count([label]) do?"][1].startswith("Maintains an internal counter")
    for question, (chunk, answer) in got.items():
        pair = Pair("p", chunk.chunk_id, chunk.source, question, answer)
        assert first_fault(pair, Source(chunk.text, where(chunk)), GroundingParams()) is None


def test_a_modules_functions_in_its_definition_list_and_headings_are_asked_of_in_the_module(tmp_path):
    """CPAN::Mirrors lists its methods in a <dl>, Params::Check titles its functions with
    headings, Scalar::Util opens each with a usage line: each a pair whose question names the
    module, answered by its own description."""
    from tests.docfiles import pod2html
    from tuneline.curation.generate import signature_entries

    entries = {}
    for module in ("CPAN::Mirrors", "Params::Check", "Scalar::Util"):
        folder = tmp_path / module.replace("::", "-")
        folder.mkdir()
        chunks = _chunks(folder, "page.html", pod2html(module, tmp_path).decode())
        for i, c in enumerate(chunks):
            starts = i == 0 or chunks[i - 1].section != c.section
            entries.update({e.question: e.answer for e in signature_entries(c, GenerateParams(), starts)})
    assert entries["What does countries( [CONTINENTS] ) do in CPAN::Mirrors?"] == \
        "Return a list of countries based on those defined in *MIRRORED.BY*."
    assert entries["What does last_error() do in Params::Check?"].startswith(
        "Returns a string containing all warnings and errors reported during the last time `check` was called.")
    # a usage line over its description (Scalar::Util's): the call it makes is the entry
    assert entries["What does reftype( $ref ) do in Scalar::Util?"].startswith(
        "If `$ref` is a reference, the basic Perl type of the variable referenced is returned")
    # each answer is the item's own description, never the next item's
    assert not any("continents" in a for q, a in entries.items() if q.startswith("What does countries("))


def test_a_module_name_is_the_title_of_a_library_manual_page_and_no_documents_title():
    from tuneline.text import module

    assert module("Params::Check") == "Params::Check"
    assert module("Digest::SHA - Perl extension for SHA-1/224/256/384/512") == "Digest::SHA"
    assert module("charnames") == "charnames" and module("Test") == "Test"  # one name
    assert module("README") is None and module("Introduction") is None  # a document's
    assert module("The Basics (libffi)") is None and module("Chat templates") is None
    assert module("gzip, gunzip, zcat - compress or expand files") is None


def test_a_paragraph_after_a_definition_lists_item_leans_on_that_item_and_is_no_answer_alone():
    """PerlIO's manual: "It turns off the flag ..." is about :bytes, the item before it; joined
    to the paragraph before the list it would answer a question about :encoding(UTF-8)."""
    from tuneline.curation.passages import passages

    text = ("The `:encoding(UTF-8)` layer (hyphen is significant) is preferred as it will ensure "
            "translation between valid UTF-8 bytes and valid Unicode characters.\n\n"
            "- :bytes\n- This is the inverse of the `:utf8` pseudo-layer.\n\n"
            "It turns off the flag on the layer below so that data read from it is considered to be "
            "Perl's internal downgraded encoding, thus interpreted as the native single-byte encoding "
            "of Latin-1 or EBCDIC.")
    found = passages(text, min_words=10)
    assert found == ["The `:encoding(UTF-8)` layer (hyphen is significant) is preferred as it will ensure "
                     "translation between valid UTF-8 bytes and valid Unicode characters."]


def test_an_api_reference_page_gives_its_entries_only_and_its_other_chunks_drop_with_the_reason(tmp_path, fake_llm):
    """CPAN::Mirrors' manual page documents its methods: the pairs are their entries, no model
    call is made, and every chunk without an entry is in the ledger as api_page_prose; with the
    policy off, the model is asked of its prose as before."""
    from tests.docfiles import pod2html
    from tuneline.curation.generate import Entry, Skip

    chunks = _chunks(tmp_path, "page.html", pod2html("CPAN::Mirrors", tmp_path / "scratch").decode())
    todo = attempts(chunks, GenerateParams())
    assert {type(p) for _, p in todo} == {Entry, Skip}
    llm = fake_llm(replies=["What does the module do?"])
    pairs, dropped = generate_pairs(chunks, llm, GenerateParams())
    assert llm.calls == [] and len(pairs) == sum(isinstance(p, Entry) for _, p in todo)
    assert {d.reason for d in dropped} == {"api_page_prose"}
    assert len(pairs) + len(dropped) == len(todo)
    assert any(isinstance(p, str) for _, p in attempts(chunks, GenerateParams(api_pages_entries_only=False)))


def test_an_entry_whose_paragraph_says_what_a_parameter_is_gives_no_pair():
    """Node.js's `module.findSourceMap(path)`: its one paragraph is "`path` is the resolved
    path ...", what the parameter is; the next entry's own description is its pair."""
    from tuneline.curation.passages import signatures

    text = ("#### `module.findSourceMap(path)`#\n\n- `path` <string>\n- Returns: <module.SourceMap> | "
            "<undefined> Returns `module.SourceMap` if a source\nmap is found, `undefined` otherwise.\n\n"
            "`path` is the resolved path for the file for which a corresponding source map\nshould be "
            "fetched.\n\n#### `sourceMap.findEntry(lineOffset, columnOffset)`#\n\n- `lineOffset` <number>\n\n"
            "Given a line offset and column offset in the generated source file, returns an object "
            "representing the SourceMap range in the original file if found, or an empty object if not.\n")
    assert [sigs for sigs, _ in signatures(text)] == [("sourceMap.findEntry(lineOffset, columnOffset)",)]
