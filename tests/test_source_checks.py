"""The source checks: each rule's reason on a planted case, and a faithful pair kept, on real
text nobody on the project wrote (Python's reference topic on `while`, shipped with CPython)."""

import pydoc_data.topics

import pytest

from tuneline.curation import source_checks as sc
from tuneline.curation.dedup import load_encoder
from tuneline.params import GroundingParams
from tuneline.records import Pair

WHILE = pydoc_data.topics.topics["while"]
WHERE = "Python language reference > while"
SRC = sc.Source(WHILE, WHERE)
P = GroundingParams()
FAITHFUL = ("A \"break\" statement executed in the first suite terminates the loop without "
            "executing the \"else\" clause's suite.")
PARAPHRASE = ("Running break inside the loop body ends the while loop, and the else clause's "
              "suite is then skipped.")
QUESTION = "What happens when a break statement runs inside a Python while loop?"


def pair(question=QUESTION, answer=FAITHFUL) -> Pair:
    return Pair("p", "c", "while.txt", question, answer)


def fault(p: Pair, src: sc.Source = SRC) -> str | None:
    found = sc.first_fault(p, src, P)
    return found[0] if found else None


@pytest.mark.parametrize("answer", [FAITHFUL, PARAPHRASE, "It stops the loop, and the else suite is skipped."])
def test_faithful_answers_and_paraphrases_pass_every_rule(answer):
    assert fault(pair(answer=answer)) is None


@pytest.mark.parametrize("question", [
    "What does a break statement in the first suite terminate?",     # the statement's verb
    "What does a break statement do in a while loop?",               # a general verb
    "What does the Python reference say about break in while loops?",
])
def test_questions_made_from_the_answers_opening_statement_pass(question):
    assert fault(pair(question, FAITHFUL)) is None


@pytest.mark.parametrize("question, answer, reason", [
    (QUESTION, f"Source: {WHERE}\nText: {FAITHFUL}", "prompt_scaffolding"),
    (QUESTION, f"{FAITHFUL}\n\nQuestion: What does continue do?", "prompt_scaffolding"),
    (f"{QUESTION} Write one question that the text answers.", FAITHFUL, "prompt_scaffolding"),
    (QUESTION, f"The text is incorrect and should be: {FAITHFUL}", "task_commentary"),
    (QUESTION, "The text is: The \"while\" statement is used for repeated execution.", "task_commentary"),
    (QUESTION, f"Sure! {FAITHFUL}", "task_commentary"),
    (QUESTION, "A \"break\" statement executed in the first suite terminates the loop without", "truncated_text"),
    (QUESTION, "The loop terminates without the else suite the loop terminates without the else suite.", "looping_text"),
    ("How does it work?", FAITHFUL, "question_needs_context"),
    ("What does this statement do when break runs?", FAITHFUL, "question_needs_context"),
    ("What is the main point?", FAITHFUL, "question_without_subject"),
    ("What does the naive approach do?", FAITHFUL, "question_needs_context"),
    ("What does the statement contain?", FAITHFUL, "question_needs_context"),
    ("What is the difference between a while loop and a while loop?", FAITHFUL, "garbled_question"),
    ("What does the exception propagate to?", FAITHFUL, "question_needs_context"),
    ("What does the implementation add?", FAITHFUL, "question_needs_context"),
    ("What does a break statement do as in the first example?", FAITHFUL, "question_needs_context"),
    ("What does the statement \"break\" do in a while loop?", FAITHFUL, None),  # named: no context needed
    ("How does a break statement in the first suite affect?", FAITHFUL, "garbled_question"),
    ("How does a break statement in the first suite affect the loop?", FAITHFUL, None),
    ("How does a while loop break in Rust?", FAITHFUL, "question_term_not_in_source"),
    ("What does a break statement terminate the loop?", FAITHFUL, "ungrammatical_question"),
    ("What does a break statement not execute?", FAITHFUL, "ungrammatical_question"),
    ("Which must terminate the loop?", FAITHFUL, "ungrammatical_question"),
    ("What does next do?", FAITHFUL, "question_needs_context"),
    ("Which statement is a break statement?", FAITHFUL, "reversed_question"),
    ("Which loop does the first suite terminate?", "The first suite terminates the loop when a break runs.", None),
    ("Which statement skips the rest of the suite?", "The \"continue\" statement skips the rest of the "
     "suite and goes back to testing the expression.", None),  # the answer names it
    (QUESTION, "A break statement terminates the loop and calls `sys.exit(3)`.", "term_not_in_source"),
    (QUESTION, "A \"break\" statement executed in the first suite does not terminate the loop "
               "without executing the \"else\" clause's suite.", "negation_flipped"),
    (QUESTION, "A \"continue\" statement executed in the first suite skips the rest of the suite "
               "and goes back to testing the expression before the loop.", None),
    (QUESTION, "A \"continue\" statement executed in the last suite skips the rest of the suite "
               "and goes back to testing the expression.", "word_swapped_for_opposite"),
    (QUESTION, "A break statement also compiles the module into bytecode for faster imports.",
     "sentence_not_in_source"),
])
def test_each_rule_names_its_fault(question, answer, reason):
    assert fault(pair(question, answer)) == reason


def test_a_phrase_the_chunk_itself_uses_is_not_commentary_or_scaffolding():
    src = sc.Source("The text is inserted at the cursor. Question: marks a prompt in the log.", "Editor")
    assert fault(pair("Where is typed text inserted in the editor?", "The text is inserted at the cursor."), src) is None


def test_a_which_question_whose_answer_never_names_the_thing_asked_for_is_reversed():
    src = sc.Source("The library exposes a FastLanguageModel class. It loads models.", "Unsloth")
    found = sc.first_fault(pair("Which library exposes a FastLanguageModel class?",
                                "The library exposes a FastLanguageModel class."), src, P)
    assert found[0] == "reversed_question" and "not a name" in found[1]


def test_imported_pairs_without_a_chunk_get_only_the_rules_that_need_none():
    imported = sc.Source(None)
    assert fault(pair(answer="A break statement calls `sys.exit(3)`."), imported) is None
    assert fault(pair(answer="Sure! It ends the loop."), imported) == "task_commentary"


def test_a_rule_can_be_switched_off_by_name():
    params = GroundingParams(skip_checks=["question_needs_context"])
    assert sc.first_fault(pair("How does it work?"), SRC, params) is None


@pytest.fixture(scope="module")
def minilm():
    return load_encoder("bundled:all-minilm-l6-v2", batch_size=16)


def test_the_chain_drops_an_answer_to_another_question_and_conserves_records(minilm):
    chunk = {"c": WHILE}
    pairs = [
        pair(),
        Pair("off", "c", "while.txt", "How do you open a file for appending with a context manager?", FAITHFUL),
        Pair("ctx", "c", "while.txt", "How does it work?", FAITHFUL),
    ]
    kept, dropped, stats = sc.run_source_checks(pairs, chunk, minilm, GroundingParams(), {"c": WHERE})
    assert [p.pair_id for p in kept] == ["p"]
    assert {d.record["pair_id"]: d.reason for d in dropped} == {
        "off": "answer_off_question", "ctx": "question_needs_context"}
    assert "missing" in next(d.detail for d in dropped if d.reason == "answer_off_question")
    assert len(kept) + len(dropped) == len(pairs) and stats["rule_drops"] == 1


def test_the_chain_keeps_an_option_pair_whose_description_never_names_the_option(minilm):
    """xrandr(1)'s option list, as the manual reader renders it: the question the product builds
    from an item shares few words with the item's description, which is its answer; a question
    of the same form about an option the chunk never lists is still read like any other."""
    chunk = {"c": ("- --nograb: Apply the modifications without grabbing the screen. It avoids to "
                   "block other applications during the update.\n\n"
                   "- --help: Print out a summary of the usage and exit.\n")}
    where = {"c": "xrandr - primitive command line interface to RandR extension > OPTIONS"}
    listed = Pair("listed", "c", "xrandr.txt", "What does the --nograb option of xrandr do?",
                  "Apply the modifications without grabbing the screen. It avoids to block other "
                  "applications during the update.")
    unlisted = Pair("unlisted", "c", "xrandr.txt", "What does the --dryrun option of xrandr do?",
                    "Print out a summary of the usage and exit.")
    kept, dropped, _ = sc.run_source_checks([listed, unlisted], chunk, minilm, GroundingParams(), where)
    assert [p.pair_id for p in kept] == ["listed"]
    assert [d.record["pair_id"] for d in dropped] == ["unlisted"]


# (opening statement of an answer copied from its chunk, the question written from it, reason)
OPENINGS = [
    ("Length filters are the most common kind of rule.", "What does length filter?", "ungrammatical_question"),
    ("DPO starts from a policy model and a frozen reference model.", "What does DPO start?",
     "ungrammatical_question"),
    ("The number of trainable parameters drops dramatically with a low rank.",
     "What does the number of trainable parameters drop?", "ungrammatical_question"),
    ("Packing removes this waste from every batch of examples.", "What does packing remove?",
     "question_needs_context"),
    ("On CPUs, bf16 support depends on the processor model.", "Which processor supports bf16?",
     "answer_off_question"),
    ("LoRA can be applied to the attention projections only.", "What does LoRA do?", "answer_off_question"),
    ("Evaluation data must never leak into training runs.", "What is evaluation data?", "answer_off_question"),
    ("Two hyperparameters control LoRA. The rank r sets the capacity of the update.",
     "Which two hyperparameters control LoRA?", None),
    ("The learning rate is the most important hyperparameter of a run.",
     "Which hyperparameter is the most important?", None),
    ("A scope defines the visibility of a name within a block.", "What does a scope define?", None),
    ("Naive packing has a flaw: tokens of one example attend to the previous one.",
     "What is the flaw of naive packing?", None),
    ("Repetition filters detect degenerate text in model output.", "What does a repetition filter detect?", None),
    ("Duplicate examples waste training compute and bias a model.", "What does duplicate examples waste training?",
     "ungrammatical_question"),
    ("Special tokens have roles beyond text in a template.", "What does special tokens have?",
     "ungrammatical_question"),
    ("Catastrophic forgetting is the loss of abilities learned before.", "What does catastrophic forgetting mean?", None),
    ("Fine-tuning is useful in three situations of a project.", "What does fine-tuning mean?",
     "ungrammatical_question"),
    ("After training, Unsloth can save the adapter or a merged model.", "What does Unsloth do after training?", None),
    # an opening that is a question or a note of its own answers no "what does X do?"
    ("Can you use perlbug to submit a thank-you note? Yes, with its -T option.", "What does perlbug do?",
     "answer_off_question"),
    ("Note: on most systems this name is read from the kernel, which limits its length.",
     "What does the Linux kernel do?", "answer_off_question"),
    ("If you access a method through an instance, you get a special object: a *bound method*.",
     "What does a *bound method* do?", None),
    # a part of a format, named by the chunk's topic only: "the boolean flags section" of what?
    ("The boolean flags section has one byte for each flag of the terminal.",
     "What does the boolean flags section have?", "question_needs_context"),
]


@pytest.mark.parametrize("opening, question, reason", OPENINGS)
def test_a_question_is_read_against_the_opening_statement_it_was_written_from(opening, question, reason):
    src = sc.Source(f"Intro line.\n\n{opening}\n\nMore text follows here.", "A manual > A section")
    assert fault(Pair("p", "c", "m.md", question, opening), src) == reason


# sentences of READMEs that Debian's packages ship (GTK+ 2's, the X Present extension's
# protocol notes, nettle's DES notes), with the questions the bundled model wrote from them
README_OPENINGS = [
    # a thing named only in the condition or comparison of a statement about something else
    ("When the X server has finished using 'pixmap' for this operation, it will send a "
     "PresentIdleNotify event and arrange for any 'idle-fence' to be triggered.",
     "What does X server do?", "answer_off_question"),
    ("If the server supports the X Input Extension version 2 or higher, the devices element names "
     "a set of master device to apply the barrier to.",
     "What does X Input Extension version 2 or higher do?", "answer_off_question"),
    # (tests/pipelines' own runbook) what the main clause after the condition starts with
    ("When a scheduled run fails, the on-call engineer reads the run log named in the summary, "
     "fixes the cause and starts the same config again by hand.",
     "What does the on-call engineer do?", None),
    # (openjdk's README.Debian) a name in the condition's list of examples
    ("If you are using a non-reparenting window manager, such as ratpoison, awesome or dwm, some "
     "Java graphical applications using the AWT toolkit will only display empty grey windows.",
     "What does awesome do?", "answer_off_question"),
    # a version number is no name of code, which an API reference may leave unsaid
    ("On Windows, filenames passed to GTK+ should always be in UTF-8, as in GLib 2.6.",
     "What does GLib 2.6 do?", "answer_off_question"),
    ("PresentPixmap holds a reference to 'pixmap' until the presentation occurs, so 'pixmap' may "
     "be immediately freed after the request executes.", "What does PresentPixmap hold?", None),
    # the statement's own pronoun and verb as the question's subject
    ("i'm glad that i implemented it the way i did, because this C version is portable.",
     "What does i'm glad about?", "ungrammatical_question"),
    # (oauthlib's README) a linking verb takes an adjective, which "what" cannot ask for
    ("OAuth often seems complicated and difficult-to-implement.", "What does OAuth often seem?",
     "ungrammatical_question"),
]


@pytest.mark.parametrize("opening, question, reason", README_OPENINGS)
def test_a_question_about_a_readme_sentence_is_kept_or_dropped_for_its_reason(opening, question, reason):
    src = sc.Source(f"Intro line.\n\n{opening}\n\nMore text follows here.", "A README > A section")
    assert fault(Pair("p", "c", "README", question, opening), src) == reason


def test_a_release_named_by_its_number_alone_needs_context():
    from tuneline.curation.source_checks.questions import question_needs_context

    def needs(q):
        return question_needs_context(Pair("p", "c", "m.txt", q, FAITHFUL), SRC, P) is not None

    # libffi's README lists its releases as "1.12 Nov-22-1996" over what each changed
    assert needs("What does 1.12 Nov-22-1996 add?") and needs("What did version 3.0.2 fix?")
    assert not needs("What did Python 3.8 change?") and not needs("What does libffi 3.4 add?")


def test_a_purpose_question_needs_an_answer_that_states_a_purpose():
    assert sc.purpose_unstated("What is the purpose of the 32-bit floating point numbers?",
                               "Neural network weights are stored as 32-bit floating point numbers.")
    assert sc.purpose_unstated("What is the purpose of gradient checkpointing?",
                               "Gradient checkpointing is used to save activation memory.") is None
    # an API's description is its purpose, however it opens
    assert sc.purpose_unstated("What is the purpose of `numpy.argmax`?",
                               "Indices of the maximum values along an axis.") is None


def _passage_of(topic: str, needle: str) -> tuple[str, sc.Source]:
    """The paragraph of a CPython reference topic that contains `needle`, as an answer copied
    from its chunk, and the topic as its source: the pair answer-first generation makes."""
    text = pydoc_data.topics.topics[topic]
    block = next(b for b in text.split("\n\n") if needle in " ".join(b.split()))
    return " ".join(block.split()), sc.Source(text, f"Python language reference > {topic}")


@pytest.mark.parametrize("topic, needle, question, reason", [
    # "*Names* refer to objects." asked with "does": the statement's own subject is plural
    ("naming", "refer to objects", "What does names refer to?", "ungrammatical_question"),
    ("naming", "refer to objects", "What do names refer to?", None),
    # the question's subject appears in the answer only as a pointer ("refer to the documentation
    # for the gettext module") or as a cause ("due to rounding")
    ("identifiers", "gettext", "What does the gettext module do?", "answer_off_question"),
    ("identifiers", "gettext", "What is the name \"_\" often used for?", None),
    ("operator-summary", "due to rounding", "What does rounding do to the result?", "answer_off_question"),
    # a subject that only the chunk's situation picks out
    ("global", "current implementation", "What does the current implementation do?",
     "question_needs_context"),
    ("specialattrs", "Each class keeps", "What does each class keep?", "question_needs_context"),
])
def test_a_question_about_a_real_passage_is_kept_or_dropped_for_its_reason(topic, needle, question, reason):
    answer, src = _passage_of(topic, needle)
    assert fault(Pair("p", "c", f"{topic}.txt", question, answer), src) == reason


def test_a_situated_subject_needs_context_unless_a_name_comes_with_it():
    from tuneline.curation.source_checks.questions import question_needs_context

    def needs(q):
        return question_needs_context(Pair("p", "c", "m.txt", q, FAITHFUL), SRC, P) is not None

    assert needs("What does a given platform provide?") and needs("What does every object have?")
    assert not needs("What does the current CPython implementation enforce?")
    assert not needs("What does each class of the \"io\" module provide?")
    assert not needs("What does dict.get return for a given key?")  # not the subject
    assert needs("What does each line contain?")  # each line of what?
    assert not needs("What does every Python object have?") and not needs("What does each line of a .netrc file contain?")


def test_a_variable_of_the_pages_own_code_needs_context_and_a_modules_or_the_environments_does_not():
    from tuneline.curation.source_checks.questions import question_needs_context

    def needs(q):
        return question_needs_context(Pair("p", "c", "m.txt", q, FAITHFUL), SRC, P) is not None

    # written by the generator of Perl's manual pages (Archive::Tar::File, IO::Compress::Deflate)
    assert needs("What does $path define?") and needs("What does $z->opened() return?")
    assert needs("What does the `$x` variable represent?")
    assert not needs("What does the `$Filter::Simple::placeholder` do?")  # named in its module
    assert not needs("What does $z->trailingData() do in IO::Uncompress::Inflate?")  # an entry
    assert not needs("What does $PATH contain?") and not needs("What does $ENV{HOME} hold?")


@pytest.mark.parametrize("question, needs", [
    ("What does --all do?", True), ("What does the -h flag do?", True),
    ("What does -h hostname do?", True), ("What does `--out` do?", True),
    ("What does the --component option of add-apt-repository do?", False),
    ("What does gzip -d do?", False), ("What does *-tblgen do?", False),
    ("What does -d {device} do?", True), ("What does --out <filename> do?", True),
    ("What does the -q [errorfile] option of vim do?", False),
])
def test_a_question_about_a_command_line_option_must_name_the_program(question, needs):
    from tuneline.curation.source_checks.questions import question_needs_context

    found = question_needs_context(Pair("p", "c", "m.txt", question, FAITHFUL), SRC, P)
    assert (found is not None and "no named program" in found[1]) == needs


@pytest.mark.parametrize("question, opening, reason", [
    # garbled subjects, as the generator wrote them of real manual pages
    ("What does MODE be set to?", "If MODE is '0' the corresponding stream will be unbuffered.",
     "ungrammatical_question"),
    ("What does the primary must evaluate to?",
     "The primary must evaluate to a callable object (user-defined functions, built-in functions).",
     "ungrammatical_question"),
    ("What does warning! do?", "Warning! Do not use -a if you are unsure how the software might react.",
     "ungrammatical_question"),
    ("What does -q Quiet mode do?",
     "-q Quiet mode: disables the progress meter as well as warning and diagnostic messages.",
     "ungrammatical_question"),
    ("What does directory tree A two-level scheme do?",
     "directory tree A two-level scheme is used to avoid a linear search of a huge directory.",
     "ungrammatical_question"),
    # what it does not do, for what it does
    ("What does fsck do?", "fsck normally does not check whether the device actually exists before "
     "calling a filesystem specific checker.", "answer_off_question"),
    # kept: the same forms, written well
    ("What does BUFSIZE need to be set to?", "BUFSIZE needs to be set to the number of bytes the "
     "buffer holds.", None),
    ("What does a call to getaddrinfo() return?", "A call to getaddrinfo() returns a linked list "
     "of address structures.", None),
    ("What does creating an ffi_cif object do?", "Creating an ffi_cif object records the signature "
     "of the function you wish to call.", None),
    ("What does del x do?", "\"del x\" doesn't directly call \"x.__del__()\" — the former decrements "
     "the reference count for \"x\" by one.", None),
    # the statement's opening clause copied in as the subject (libffi's manual)
    ("What does to emulate an array?", "To emulate an array, simply create an `ffi_type` using "
     "`FFI_TYPE_STRUCT` with as many members as there are elements in the array.", "ungrammatical_question"),
    ("How do you emulate an array?", "To emulate an array, simply create an `ffi_type` using "
     "`FFI_TYPE_STRUCT` with as many members as there are elements in the array.", None),
    # a how-question answered by doing what it asks (Valgrind's quick start; Node's console)
    ("How do you compile your program with `-g` to include debugging information?",
     "Compile your program with `-g` to include debugging information so that Memcheck's error "
     "messages include exact line numbers.", "answer_off_question"),
    ("How do you increase indentation?", "Increases indentation of subsequent lines by spaces for "
     "`groupIndentation` length.", "answer_off_question"),
    ("How do you escape quotes in a string?", "Even in a raw literal, quotes can be escaped with a "
     "backslash, but the backslash remains in the result.", None),
    # the question tuneline builds for an option's own description (generate.option_entries)
    ("What does the --print0 option of lslogins do?",
     "Delimit user entries with a nul character, instead of a newline.", None),
    # a line of code as the subject (Perl's manual pages): its passage does not explain it
    ("What does `require ExtUtils::MM_Unix;` do?", "The methods provided by this package are "
     "designed to be used in conjunction with ExtUtils::MakeMaker.", "ungrammatical_question"),
    ("What does `my @layers = PerlIO::get_layers($fh, output => 1)` do?", "Usually the layers are "
     "identical on either side of a filehandle but for example with sockets there may be differences.",
     "ungrammatical_question"),
    # kept: code that names what the passage is about
    ("What does `PerlIO::get_layers()` return?", "`PerlIO::get_layers()` returns the names of the "
     "PerlIO layers on a filehandle.", None),
])
def test_garbled_subjects_and_negated_answers_are_dropped_and_their_well_written_forms_kept(
        question, opening, reason):
    chunk = f"{opening} The rest of the paragraph explains the details of --print0 further."
    assert fault(Pair("p", "c", "m.txt", question, opening), sc.Source(chunk, "a manual")) == reason


def test_the_statements_first_verb_decides_whatever_order_its_forms_are_tried_in():
    """dropuser(1): "removes" after "dropuser" is the statement's verb, not "can remove" after
    "privilege" in the next sentence (which of the two the rule saw once depended on the
    process's hash seed)."""
    opening = ("dropuser removes an existing PostgreSQL user. Only superusers and users with the "
               "CREATEROLE privilege can remove PostgreSQL users.")
    src = sc.Source(f"## DESCRIPTION\n\n{opening}", "dropuser - remove a PostgreSQL user account")
    assert fault(Pair("p", "c", "m.txt", "What does dropuser remove?", opening), src) is None
    assert fault(Pair("p", "c", "m.txt", "What does the CREATEROLE privilege remove?", opening), src) == "reversed_question"


@pytest.mark.parametrize("section, reason", [
    ("DESCRIPTION", None), ("", None), ("LIMITATIONS", "answer_off_question")])
def test_what_a_program_does_is_answered_from_its_description_not_another_section(section, reason):
    """unzipsfx(1): "What does unzipsfx do?" of its LIMITATIONS section ("unzipsfx has no
    knowledge of the user's PATH ...") tells one thing about it, not what it does."""
    opening = ("unzipsfx has no knowledge of the user's PATH, so in general an archive must either "
               "be in the current directory when it is invoked, or else a full or relative path "
               "must be given.")
    title = "unzipsfx - self-extracting stub for prepending to ZIP archives"
    src = sc.Source(opening, " > ".join(x for x in (title, section) if x))
    assert fault(Pair("p", "c", "m.txt", "What does unzipsfx do?", opening), src) == reason


@pytest.mark.parametrize("topic, needle, question, reason", [
    # named after a label, or at the start of the statement: what the passage is about
    ("global", "Programmer’s note", "What does the global directive do?", None),
    ("naming", "A *scope* defines", "What does a scope do?", None),
    # named, but the statement is about something else, or about X in a situation the
    # question leaves out
    ("for", "Names in the target list are not deleted", "What does the for loop do?", "answer_off_question"),
    ("try", "If the evaluation of an expression in the header", "What does the original search do?",
     "answer_off_question"),
])
def test_what_does_x_do_needs_a_passage_that_opens_about_x(topic, needle, question, reason):
    answer, src = _passage_of(topic, needle)
    assert fault(Pair("p", "c", "topics.txt", question, answer), src) == reason


def test_an_api_entrys_question_is_left_alone_only_where_the_chunk_lists_that_signature():
    """CPython's sequence-types topic: the description never names its method, so the checks
    of how a question fits its answer's words leave the entry's question alone, and only it."""
    description = ('Called to implement the built-in function "len()". Should return the length '
                   'of the object, an integer ">=" 0.')
    chunk = f"object.__len__(self)\n\n   {description}"
    assert sc.asks_about_a_listed_entry("What does object.__len__(self) do?", chunk)
    assert not sc.asks_about_a_listed_entry("What does object.__length__(self) do?", chunk)
    assert not sc.asks_about_a_listed_entry("What does the length do?", chunk)
    src = sc.Source(chunk, "python sequence types")
    assert fault(Pair("p", "c", "t.txt", "What does object.__len__(self) do?", description), src) is None


@pytest.mark.parametrize("page, opening, reason", [
    # libffi's manual (texinfo's HTML titles: "Page (manual: what it is)")
    ("Structures", "`libffi` is perfectly happy passing structures back and forth. You must first "
     "describe the structure to `libffi` by creating a new `ffi_type` object for it.",
     "answer_off_question"),
    ("Introduction", "The `libffi` library provides a portable, high level programming interface to various "
     "calling conventions. This allows a programmer to call any function specified by a call "
     "interface description at run time.", None),
])
def test_what_a_manuals_subject_does_is_answered_from_its_introduction_not_another_page(
        page, opening, reason):
    where = f"{page} (libffi: the portable foreign function interface library)"
    src = sc.Source(f"{opening}\n\nMore of the page follows here.", where)
    assert fault(Pair("p", "c", f"{page}.html", "What does `libffi` do?", opening), src) == reason


@pytest.mark.parametrize("question, where, reason", [
    # Valgrind's Callgrind format specification: which destination?
    ("What does the destination only specify?", "3. Callgrind Format Specification", "question_needs_context"),
    # the noun the page is about, named by its title
    ("What does the destination only specify?", "Call destinations > The destination line", None),
])
def test_the_plain_noun_a_question_asks_about_is_one_the_question_or_its_page_names(question, where, reason):
    opening = ("The destination only specifies subpositions like line number. Therefore, to be able "
               "to specify a call to another function in another source file, you have to precede "
               "the above lines with a \"cfn=\" specification for the name of the called function.")
    src = sc.Source(f"{opening}\n\nMore of the specification follows.", where)
    assert fault(Pair("p", "c", "cl-format.html", question, opening), src) == reason
