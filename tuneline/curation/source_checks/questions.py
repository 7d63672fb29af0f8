"""Questions a person could not use: those that lean on unseen context or name no subject, those
garbled in the rewrite of the answer's opening statement (ungrammatical, reversed, asking about
something the opening does not state, comparing a thing with itself), and, with embeddings,
questions the answer does not answer (relevance, a purpose asked for and not stated)."""

from __future__ import annotations

import re

from tuneline.curation.source_checks.common import _CODE, _QUOTED, Source, Verdict
from tuneline.curation.source_checks.form import _META_NOUN
from tuneline.params import GroundingParams
from tuneline.records import Pair
from tuneline.text import PREPOSITIONS, content_stems, program

# what a question's words may be without naming a subject
_GENERIC = frozenset("""what how why when where which who whom whose does do did is are was were
can could should would will may might the a an of to in on for with by from about as and or
main purpose purposes idea ideas point points use uses used using mean means meaning describe
described explain explained work works working function functions role important importance
key difference differences between example examples kind kinds type types thing things way
ways happen happens happened need needed one some any other there here be been being have
has had get gets make makes made say says said called call mentioned discussed given following
specific topic topics concept concepts information detail details part parts benefit
benefits advantage advantages feature features problem problems issue issues result results
reason reasons case cases people person user users i you we they know tell learn understand
return returns behaviour behavior summarise summarize semantics define defines definition
best good way ways common most look looks like""".split())


_DEICTIC = re.compile(
    rf"\b(?:this|these|those|the above|the following|the (?:given|provided|above|previous|"
    rf"preceding|same) \w+|the {_META_NOUN}|the author|(?:mentioned|described|discussed|shown|"
    r"listed|given) (?:above|below|here|earlier|before)|"
    # a part of the document by its place: "as in the first example", "the second case"
    r"the (?:first|second|third|last|next|earlier|later|other) (?:example|examples|section|"
    r"paragraph|table|figure|listing|snippet|case|cases))\b", re.I)


_PRONOUN = re.compile(r"\b(?:it|its|they|them|their|he|she|his|her)\b", re.I)


_IDIOM = re.compile(r"^\W*what\s+does\s+it\s+mean\s+(?:to|for|that|when|if)\b", re.I)  # refers to nothing


# a sequence word as the subject: "What does next do?" (of "Next, for each argument, ...")
_SEQUENCE_SUBJECT = re.compile(r"^\W*(?:what|how|why|when|where|which)\s+(?:does|do|did|is|are|was|were)\s+"
                               r"(?:next|then|first|finally|afterwards|later|above|below|the\s+(?:first|last|"
                               r"second|third|next|previous|former|latter|other|remaining|two|three))\b", re.I)


_Q_WORD = re.compile(r"[A-Za-z][\w'-]*")


# nouns that name nothing by themselves: "the naive approach", "the rule", "other useful rules";
# after "does/do/can" also the everyday nouns of a manual ("What does the function return?")
_REFERRING_NOUNS = ("approach|approaches|technique|techniques|method|methods|rule|rules|library|tool|"
                    "tools|bug|problem|detail|details|way|step|steps|process|idea|ideas|thing|things|"
                    "result|results|example|examples|case|issue|solution|trick|pattern|option|options|"
                    "identity|feature|features|"
                    # parts of a format the chunk describes: "the boolean flags section" of what?
                    "section|sections|table|tables|header|headers")


# (and the program elements every reference page has many of: "the exception", "the
# implementation", "the parameter" point at one the chunk mentioned)
_EVERYDAY_NOUNS = ("statement|object|objects|value|values|function|functions|class|module|system|program|"
                   "exception|exceptions|error|errors|implementation|operation|operations|argument|"
                   "arguments|parameter|parameters|attribute|attributes|instance|instances|type|types|"
                   "variable|variables|expression|expressions|field|fields|operand|operands|element|"
                   "elements|item|items|entry|entries|caller|notation")



def _subject_pattern(aux: str, nouns: str, modifiers: int) -> re.Pattern:
    return re.compile(
        rf"^\W*(?:what|how|why|when|which|who)\s+(?:\w+\s+)?(?:{aux})\s+"
        rf"(?:the|this|that|these|those|other|such|a|an)\s+(?:[\w-]+\s+){{0,{modifiers}}}?(?:{nouns})\b"
        rf"(?!\s+(?:of|for|in|to|that|which|called|named|x_quoted|x_code)\b)", re.I)


# "the naive approach" names nothing whatever its adjectives; "a break statement" does, so an
# everyday noun counts only bare ("the statement", "an object")
_GENERIC_SUBJECT = _subject_pattern("does|do|did|is|are|was|were|can|should", _REFERRING_NOUNS, 2)


_EVERYDAY_SUBJECT = _subject_pattern("does|do|did|can|should", _EVERYDAY_NOUNS, 0)


_OTHER_SUBJECT = re.compile(r"^\W*(?:what|how|which)\s+(?:does|do|is|are)\s+(?:other|another|further)\b", re.I)


# a release named by its number only: "What does 1.12 Nov-22-1996 add?", "What did version
# 3.2 change?" (of which program? a change log's entries name theirs only in its title)
_RELEASE_SUBJECT = re.compile(r"^\W*(?:what|how|which|when)\s+(?:does|do|did|is|are|was|were)\s+"
                              r"(?:the\s+)?(?:(?:version|release)\s+)?v?\d+(?:\.\d+)+\b", re.I)


# a subject picked out by the chunk's situation, not by a name: "What does the current
# implementation do?" (of what?), "What does a given platform provide?", "each class"
_SITUATED_SUBJECT = re.compile(
    rf"^\W*(?:what|how|why|when|which|who)\s+(?:\w+\s+)?(?:does|do|did|is|are|can|should|must)\s+"
    rf"(?:(?:a|an|any|each)\s+given\s+[\w-]+|(?:the\s+(?:current|present|respective|corresponding)|"
    rf"each|every)\s+(?:{_EVERYDAY_NOUNS}|{_REFERRING_NOUNS})\b"
    rf"(?!\s+(?:of|for|in|to|that|which|called|named|x_quoted|x_code)\b)"
    # "What does each line contain?": each one of what?
    rf"|(?-i:(?:each|every)\s+[a-z][\w-]*)(?=\s+[a-z]+\?))", re.I)



# a command-line option: "-h", "--all", "--date=STRING", "-o ssh_option"
# (its argument as manuals write it: "-d {device}", "--out <filename>", "-q [errorfile]")
_OPTION = re.compile(r"(?<![^\s`\"'(])--?[A-Za-z][\w-]*(?:=\S+|\s+[a-z][a-z_]*(?=\s+(?:do|mean|set|specify|control)\?)"
                     r"|\s*[{\[<][^}\]>]*[}\]>])?")
_OPTION_WORDS = frozenset("option options flag flags switch switches argument arguments parameter "
                          "parameters command-line command line value".split())


def _names_only_an_option(question: str) -> str | None:
    """"What does --all do?": an option of which program? The option, and nothing but
    generic words beside it."""
    found = _OPTION.findall(question)
    rest = _OPTION.sub(" ", question)
    if found and not any(w.lower() not in _GENERIC and w.lower() not in _OPTION_WORDS
                         for w in _Q_WORD.findall(rest)):
        return found[0]
    return None


def question_needs_context(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """The question cannot be understood without the chunk: it points at "this", "the text"
    or "the above", a pronoun comes before anything it could stand for, it asks about a
    command-line option without naming the program, or about a variable of the page's code."""
    option = _names_only_an_option(_CODE.sub(lambda m: m.group(0).strip("`"), pair.instruction))
    if option:
        return "question_needs_context", f"asks about the option {option!r} of no named program"
    q = _QUOTED.sub(" x_quoted ", _CODE.sub(" x_code ", pair.instruction))
    m = _DEICTIC.search(q) or _SEQUENCE_SUBJECT.search(q) or _GENERIC_SUBJECT.search(q) \
        or _EVERYDAY_SUBJECT.search(q) or _OTHER_SUBJECT.search(q) or _SITUATED_SUBJECT.search(q) \
        or _RELEASE_SUBJECT.search(q)
    if m:
        return "question_needs_context", f"question says {m.group(0)!r}"
    m = None if _IDIOM.match(q) else _PRONOUN.search(q)
    if m:
        before = [w.lower() for w in _Q_WORD.findall(q[:m.start()])]
        if not any(w not in _GENERIC for w in before):
            return "question_needs_context", f"{m.group(0)!r} refers to nothing in the question"
    m = None if "::" in pair.instruction else _LOCAL_VARIABLE.search(pair.instruction)
    if m:
        # "What does $path define?", "What does $z->opened() return?": a variable of the
        # page's own example, which names nothing outside it (a module's entry is asked of in
        # its module, and "$ENV{HOME}", "$PATH" name the environment's)
        return "question_needs_context", f"{m.group(0)!r} is a variable of the page's own code"
    m = _THE_NOUN.match(q)
    if m and m.group(1)[:5] not in src.where.lower():
        # "What does the destination only specify?", "What does the core provide?", "What does
        # the syscall do?": one plain noun with "the" is the one the document was just talking
        # about; the page's own subject ("the jar command" of jar's manual) is named by its title
        return "question_needs_context", f"'the {m.group(1)}' is one the question does not say"
    return None


_LOCAL_VARIABLE = re.compile(r"(?<![\w:$@%])[$@%][a-z_]\w*(?![\w:])")
# "What does the <noun> <verb>?": a single plain noun after "the", then the verb that ends
# the question (a particle aside)
_THE_NOUN = re.compile(r"^\W*[Ww]hat\s+(?:does|do|did)\s+the\s+([a-z]{3,})\s+(?:only\s+)?[a-z]+"
                       r"(?:\s+(?:to|for|on|with|about|like|from|in|of|out|up))?\?\s*$")



def question_without_subject(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """A question whose every word is generic ("What is the main idea?") asks about nothing."""
    q = _CODE.sub(" x_code ", pair.instruction)
    if not any(w.lower() not in _GENERIC for w in _Q_WORD.findall(q)):
        return "question_without_subject", "every word of the question is generic"
    return None


_PREPOSITION = PREPOSITIONS


_GENERAL_VERBS = frozenset("do say tell".split())  # ask about anything: no statement verb needed


_IRREGULAR = {"have": "has", "do": "does", "be": "is", "go": "goes"}


_WHAT_DOES = re.compile(r"^\s*(?:what|who|whom)\s+(?:does|do|did)\s+(.+?)\?\s*$", re.I)



def _plural(word: str) -> bool:
    """A plural noun, roughly: "filters", "tokens"; not "class", "status", "analysis"."""
    w = word.lower()
    return len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "ys")) and w.isalpha()



def _third_person_and_past(verb: str) -> set[str]:
    out = {verb, verb + "s", verb + "es", verb + "ed", verb + "d", _IRREGULAR.get(verb, "")}
    if verb.endswith("y"):
        out |= {verb[:-1] + "ies", verb[:-1] + "ied"}
    return out - {""}



def _copied_opening(pair: Pair, src: Source) -> list[str] | None:
    """The answer's first sentences when the answer is a passage copied from its chunk
    (answer-first): the statement its question was written from. None otherwise."""
    if src.text is None or not pair.answer.strip():
        return None
    sents = re.split(r"(?<=[.!?])\s+", " ".join(pair.answer.split()), maxsplit=2)
    return sents if sents[0][:60] in " ".join(src.text.split()) else None



# "What does MODE be set to?", "What does the primary must evaluate to?": "does" with a second
# auxiliary (after "to"/"have"/"need" it is an infinitive: "What does X need to be?")
_SECOND_AUX = re.compile(r"(?<!\bto )(?<!\bhave )(?<!\bhas )(?<!\bneed )(?<!\bneeds )(?<!\bused )"
                         r"(?<!\bought )(?<![\w'-])(?:be|must|can|should|will|may|might|could|would|shall)"
                         r"(?![\w'-])", re.I)
# an option with its description's first words: "-b Body of the report", "--stop Checks for"
_OPTION_AND_TEXT = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*(?:,?\s+--?[A-Za-z][\w-]*)*\s+[A-Z][a-z]")
# a determiner inside "What does X do?"'s subject after a noun: two phrases run together, as a
# run-in heading glued to its text gives them ("directory tree A two-level scheme", "the
# splain program another program"); after a preposition, a conjunction, a verb in -ing or a
# possessive it starts a phrase of its own ("a call to the function", "creating an object")
_DETERMINER = re.compile(r"(?<=\s)(?:a|an|the|another|this)(?=\s)", re.I)
_PHRASE_OPENERS = _PREPOSITION | {"and", "or", "than", "is", "are", "be", "a", "an", "the"}


_STATEMENT = re.compile(r"^\s*(?:(?:use|require|import|from|my|our|local|const|let|var)\s|.*;\s*$|"
                        r"[$@%]?[\w.>-]+\s*=\s*\S)")


def _garbled_subject(body: str, question: str) -> str | None:
    """What makes "What does <body> ...?" garbled in its subject, if anything: a second
    auxiliary, sentence punctuation ("What does warning! do?"), an option glued to its
    description, or (in "What does X do?") two noun phrases run together."""
    plain = _CODE.sub(" ", _QUOTED.sub(" ", body))
    # "What does `require ExtUtils::MM_Unix;` do?", "What does `my @layers = PerlIO::get_layers($fh)`
    # do?": a line of code from the passage, which its passage does not explain (a usage line
    # over its entry's description is asked of as the entry: passages.signatures)
    if any(_STATEMENT.match(c) for c in re.findall(r"`([^`]+)`", body)):
        return "a line of code as the question's subject"
    # "What does i'm glad about?": the statement's own pronoun and verb as the subject
    contracted = re.search(r"\b(?:i|we|you|they|he|she|it|there)'(?:m|re|ve|ll|d)\b", plain, re.I)
    if contracted:
        return f"a pronoun and its verb as the subject ({contracted.group(0)!r})"
    if _SECOND_AUX.search(plain):
        return f"'does' with a second auxiliary: {_SECOND_AUX.search(plain).group(0)!r}"
    if re.search(r"[!;]|:\s", plain):
        return "sentence punctuation inside the question's subject"
    if _OPTION_AND_TEXT.search(plain):
        return "the option's description copied into the question's subject"
    # "What does to emulate an array?", "What does If `cif` declare?": the statement's opening
    # clause copied in as a subject
    m = re.match(r"^\s*(?:to\s+[a-z]+|(?:If|When|While|Because|Although|Unless|Since|Once)\b)", body)
    if m:
        return f"the statement's opening clause as the question's subject ({m.group(0).strip()!r})"
    if _DO_PASSIVE.match(question):
        for d in _DETERMINER.finditer(f" {plain}"):
            before = f" {plain}"[:d.start()].split()
            w = before[-1].lower().strip("\"'`,") if before else ""
            if w and w not in _PHRASE_OPENERS and not w.endswith(("ing", "'s")):
                return f"two noun phrases run together in the question's subject ({w!r} {d.group(0)!r})"
    return None


def ungrammatical_question(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """A question the small generator garbled while turning the answer's opening statement
    into a question: "What does X <verb> <object>?" keeps the object that "what" stands for
    ("What does a fine-tuning project have a life cycle?"), so its last word is no verb of
    the statement; "What does X determine?" of "X is determined by" turns the voice; "Which
    must ..." has no subject. Checked only for answers copied from the chunk (answer-first),
    whose opening is the statement the question was written from."""
    opening = _copied_opening(pair, src)
    if opening is None:
        return None  # not a copied passage: the rule knows nothing of how it was written
    statement = " ".join(opening[:2]).lower()
    q = pair.instruction.strip()
    if re.match(r"^\s*which\s+(?:must|can|could|should|is|are|was|were|does|do|did|has|have)\b", q, re.I):
        return "ungrammatical_question", "'which' with no noun before its verb"
    m = _WHAT_DOES.match(q)
    if not m:
        return None
    body = m.group(1)
    if re.search(r"\b(?:not|never)\b|n't\b", body, re.I):
        return "ungrammatical_question", "'what does ... not ...'"
    garbled = _garbled_subject(body, q)
    if garbled:
        return "ungrammatical_question", garbled
    words = [w.lower() for w in re.findall(r"[\w'-]+", body)]
    last = words[-1]
    if last in ("be", "is", "are"):
        return "ungrammatical_question", "'what does ... be?'"
    if last in ("seem", "appear", "sound", "feel", "look"):
        # "What does OAuth often seem?" of "OAuth often seems complicated": what such a verb
        # takes is an adjective, which "what" cannot stand for
        return "ungrammatical_question", f"'what does ... {last}?' (it takes an adjective, not an object)"
    aux = re.match(r"^\s*\w+\s+(\w+)", q).group(1).lower()
    plain = re.findall(r"(?<![\w.`])[A-Za-z]+(?![\w.`(])", _CODE.sub(" ", body))  # names of code aside
    # ("the number of epochs do": the plural after a preposition is not the subject)
    if aux == "does" and len(plain) >= 2 and plain[-1].lower() == last and _plural(plain[-2]) \
            and not (len(plain) >= 3 and plain[-3].lower() in _PREPOSITION):
        return "ungrammatical_question", f"'does' with the plural {plain[-2]!r}"
    # "What does names refer to?" of "Names refer to objects": the statement's own plural
    # subject and verb, with "does"
    said = re.findall(r"[\w'-]+", statement)
    if aux == "does" and len(words) >= 2 and len(said) >= 2 and _plural(words[0]) \
            and body.split()[0].islower() and said[:2] == words[:2]:
        return "ungrammatical_question", f"'does' with the plural {words[0]!r} the answer's verb agrees with"
    if last in _PREPOSITION:
        return None
    if last == "mean":  # "What does X mean?" of "X is the loss of ...": a definition answers it
        x = _stem4(" ".join(words[:-1]))
        head = statement.split()
        at = next((i for i, w in enumerate(head[:len(x) + 4]) if w in ("is", "are", "means", "refers")), None)
        if x and at is not None and all(w in _stem4(" ".join(head[:at])) for w in x) \
                and (head[at] in ("means", "refers") or head[at + 1:at + 2] and head[at + 1] in
                     ("a", "an", "the", "one", "how", "what", "when", "where", "any")):
            return None
        return "ungrammatical_question", "asks what X means of an opening that does not define it"
    # "What does X say about Y?": the verb stands before the last preposition
    if last in _GENERAL_VERBS or any(w in _GENERAL_VERBS and nxt in _PREPOSITION
                                     for w, nxt in zip(words, words[1:])):
        return None
    subject = {w[:4] for w in words[:-1]}
    # the statement's verb is its first occurrence, in any form (a set's order would make the
    # verdict depend on the process's hash seed: "removes" after "dropuser", or "can remove"
    # after "privilege")
    hits = sorted(((hit, form) for form in _third_person_and_past(last)
                   for hit in re.finditer(rf"\b{re.escape(form)}\b", statement)),
                  key=lambda h: (h[0].start(), -len(h[1])))
    for hit, form in hits:
        passive = form.endswith("d") and re.search(
            r"\b(?:is|are|was|were|be|been|being)\s+(?:\w+ly\s+)?$", statement[:hit.start()])
        # the plain form is the verb only after a modal ("should follow") or a plural subject
        # ("Repetition filters detect ..."); elsewhere it is a noun ("waste training compute")
        before = re.findall(r"[\w'-]+", statement[:hit.start()])
        plain_ok = form != last or (before and (
            before[-1] in ("can", "could", "should", "must", "may", "might", "will", "would", "to")
            or _plural(before[-1])))
        if not passive and plain_ok:
            after = statement[hit.end():].lstrip()
            nxt = (re.findall(r"[\w'-]+", after)[:1] or [""])[0]
            if nxt in ("is", "are", "was", "were", "can", "must", "should", "will", "have", "has"):
                continue  # "Length filters are ...": a noun, not the verb
            if not after or after[0] in ".,;:!?)" or re.match(
                    r"(?:\w+ly|when|if|because|and|but|or|so|as|unless|until)\b", after):
                return "ungrammatical_question", (f"{form!r} has no object in the answer's opening: "
                                                  f"'what does ... {last}?' asks for none")
            if nxt in _PREPOSITION:
                return "ungrammatical_question", (f"the answer says what it {form} {nxt}; "
                                                  f"'what does ... {last}?' drops the {nxt!r}")
            if nxt in ("this", "these", "those", "such"):  # ("that" is mostly a conjunction)
                return "question_needs_context", (f"the answer's opening {form} {nxt} ..., "
                                                  "which points back to text the pair lacks")
            doer = _doer(statement[:hit.start()])
            if doer and doer[:4] not in subject:
                return "reversed_question", (f"the answer says {doer!r} {form}s, the question asks "
                                             f"what {' '.join(words[:-1])!r} {last}s")
            return None
    return "ungrammatical_question", f"{last!r} is no verb of the answer's opening statement"


_NOT_A_DOER = frozenset("""can could should must may might will would to not also then only usually often
always never currently generally normally typically first just still already really a an the""".split())


_PRONOUNS = frozenset("it they this that these those which who he she we you one".split())



def _doer(before: str) -> str | None:
    """The word that does the statement's verb: the nearest word before it that is no modal,
    adverb or article; None for a pronoun (it could stand for the question's subject)."""
    for w in reversed(re.findall(r"[\w'-]+", before.lower())):
        if w in _NOT_A_DOER or w.endswith("ly"):
            continue
        return None if w in _PRONOUNS else w
    return None


_COPULA = re.compile(r"\s(?:is|are|was|were)\s", re.I)


_WHICH = re.compile(r"^\s*which\s+([\w-]+)(?:\s+([\w-]+))?\s+(.+?)\?\s*$", re.I)


# an opening whose subject is a described, unnamed thing: "The library ...", "Other useful rules ..."
_UNNAMING = re.compile(r"^\W*(?:the|this|that|these|those|other|such)\s+((?:[\w-]+\s+){0,2}[\w-]+)", re.I)



def _norm(text: str) -> str:
    return " ".join(w for w in re.findall(r"[\w'-]+", text.lower()) if w not in ("a", "an", "the"))



def reversed_question(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """A question that turns the answer's opening statement around: "What is <the
    predicate>?" or "Which method is low-rank adaptation?" of "Low-rank adaptation is a ...
    method", or "Which library exposes X?" of "The library exposes X" (the answer never names
    what is asked for). Checked for answers copied from the chunk, like ungrammatical_question."""
    sents = _copied_opening(pair, src)
    if sents is None:
        return None
    opening = sents[0]
    q = pair.instruction.strip()
    cop = _COPULA.search(opening)
    subject, predicate = (_norm(opening[:cop.start()]), _norm(opening[cop.end():])) if cop else ("", "")
    m = re.match(r"^\s*what\s+(?:is|are)\s+(.+?)\?\s*$", q, re.I)
    if m and predicate and len(_norm(m.group(1)).split()) >= 2 and predicate.startswith(_norm(m.group(1))) \
            and not subject.startswith(_norm(m.group(1))):
        return "reversed_question", f"asks for {m.group(1)!r}, which the answer says something else is"
    m = _WHICH.match(q)
    if not m:
        return None
    noun, rest = m.group(1).lower(), m.group(3)
    m2 = re.match(r"^(?:is|are|was|were)\s+(.+)$", f"{m.group(2) or ''} {rest}".strip(), re.I)
    if m2 and subject and _norm(m2.group(1)) and subject.startswith(_norm(m2.group(1))):
        return "reversed_question", f"asks which {noun} {m2.group(1)!r} is, the answer's subject"
    lead = _UNNAMING.match(opening)
    if lead and any(w.startswith(noun[:4]) for w in lead.group(1).lower().split()):
        return "reversed_question", f"the answer's subject is {lead.group(0).strip()!r}, not a name"
    # "Which actions limit the maximum sequence length?" of "The maximum sequence length limits ..."
    obj = _norm(" ".join(f"{m.group(2) or ''} {rest}".split()[1:]))
    if len(obj.split()) >= 2 and _norm(opening).startswith(obj):
        return "reversed_question", f"asks what acts on {obj!r}, the answer's subject"
    return None


_HOW_DO_YOU = re.compile(r"^\s*how\s+(?:do|can|should|would|could)\s+(?:you|i|we|one)\s+([a-z]+)\b", re.I)
_WHICH_NOUN = re.compile(r"^\s*which\s+(?:(?:one|two|three|four|five|several|some|many)\s+)?([\w-]+)", re.I)


_WHAT_IS = re.compile(r"^\s*what\s+(?:is|are)\s+((?:[\w'\"`().-]+\s*){1,6})\?\s*$", re.I)


_DEFINES = r"(?:is|are|was|were|has|have|means|mean|refers|stands|denotes|describes|defines|consists)"


# (a module's own function is asked of in it: "What does last_error() do in Params::Check?")
_DO_PASSIVE = re.compile(r"^\s*what\s+(?:does|do)\s+(.+?)\s+do(?:\s+in\s+[A-Za-z_]\w*(?:::\w+)*)?\?\s*$", re.I)



def _stem4(text: str) -> list[str]:
    return [w[:4] for w in re.findall(r"[^\W\d_]{3,}", text.lower()) if w not in ("the", "and")]



# an opening that is a note or a question of its own ("If ..." openings are often fine:
# "If you access a method through an instance, you get a bound method")
_NOTE_OR_QUESTION = re.compile(r"^\W*(?:note\b\W|(?:can|could|should|do|does|is|are)\b[^.!]*\?)", re.I)


_ASIDE = r"\b(?:see|refer to|documentation (?:for|of)|described in|defined in|due to|because of|caused by|owing to)\b"


_NEGATED = (r"(?:\w+ly\s+)?(?:does\s+not|doesn't|doesn’t|do\s+not|don't|cannot|can't|can\s+not|will\s+not|"
            r"won't|never|is\s+not|isn't|are\s+not|aren't)\b")
# the questions generate.option_entries and generate.signature_entries build for an item of
# a manual's option list and for an API reference's entry
_OPTION_SUBJECT = re.compile(r"^the (.+) option of [\w.+-]+$")
_SIGNATURE_SUBJECT = re.compile(r"^(?:\$\w+->)?[A-Za-z_][\w.:]*\s?\(.*\)$")
_DEFINITION_LINE = re.compile(r"^\s*[-*+]\s+(?:Function|Macro|Special Form|Command|Variable|User Option|Method):")


def _listed_signature(signature: str, chunk: str) -> bool:
    """Whether a line of the chunk is that signature (or a heading that is), or a texinfo
    definition of it (which may wrap onto the next line): their marks, escapes and spaces
    aside."""
    def bare(text: str) -> str:  # (a definition list's item: "- countries( [CONTINENTS] )")
        return re.sub(r"[`*#\\\s]", "", re.sub(r"^\s*[-*+]\s+", "", text))
    want = bare(signature)
    lines = chunk.splitlines()
    # (a usage line the entry was built from: "my $pkg = blessed( $ref );")
    return any(re.sub(r"^(?:my|our|local)?[$@%][\w:]+=", "", bare(line)).startswith(want) or (_DEFINITION_LINE.match(line) and want in bare(" ".join(lines[i:i + 2])))
               for i, line in enumerate(lines))


def asks_about_a_listed_entry(question: str, chunk: str, where: str = "") -> bool:
    """"What does the --print0 option of lslogins do?" where the chunk lists that option, or
    "What does str.ljust(width[, fillchar]) do?" where a line of the chunk is that signature:
    the questions the product builds from an option list's item and an API entry, whose
    answer is the entry's own description ("Delimit user entries with a nul character",
    "Return the string left justified ..."), which never repeats the name. The checks of how a
    question fits its answer's words leave them alone. `where` is the chunk's heading path
    ("... > Class: `Console` > `console.clear()`"): a chunk that starts a section whose
    heading is the signature does not repeat it."""
    m = _DO_PASSIVE.match(question)
    if not m:
        return False
    o = _OPTION_SUBJECT.match(m.group(1))
    if o:
        return o.group(1) in chunk
    return bool(_SIGNATURE_SUBJECT.match(m.group(1))) and _listed_signature(
        m.group(1), "\n".join([chunk, *where.split(" > ")[1:]]))


def question_not_in_opening(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """For answers copied from the chunk, whose opening statement the question was written
    from: "Which <noun> ...?" whose noun the opening never says (what would name the answer?),
    "What is X?" of an opening that does not say what X is, "What does X do?" of an opening
    that says what is done to X ("X can be applied to ...")."""
    sents = _copied_opening(pair, src)
    if sents is None:
        return None
    opening, head = sents[0], " ".join(sents[:2])
    q = pair.instruction
    m = _WHICH_NOUN.match(q)
    if m:
        noun = m.group(1).lower()[:4]
        # "Two hyperparameters control LoRA. The rank ..." lists them; "The learning rate is the
        # most important hyperparameter" names one; anything else leaves "which?" unanswered
        listed = re.match(rf"^\W*(?:one|two|three|four|five|several|some|many|both|a few)\s+(?:[\w-]+\s+)?{noun}",
                          opening, re.I)
        cop = _COPULA.search(opening)
        named = cop and noun in _stem4(opening[cop.end():]) and _stem4(opening[:cop.start()]) \
            and noun not in _stem4(opening[:cop.start()])
        if not (listed or named):
            return "answer_off_question", f"asks which {m.group(1)!r}; the answer's opening names none"
    m = _HOW_DO_YOU.match(q)
    first = re.findall(r"[A-Za-z]+", opening)[:1]
    if m and first and first[0].lower() in _third_person_and_past(m.group(1).lower()) | {m.group(1).lower()}:
        # "How do you compile your program with -g ...?" of "Compile your program with -g so
        # that ...", "How do you increase indentation?" of (console.group's) "Increases
        # indentation of subsequent lines": the answer says to do what was asked, not how
        return "answer_off_question", (f"asks how to {m.group(1)} ...; the answer's opening only "
                                       "says to do it (or that something does it), not how")
    m = _WHAT_IS.match(q)
    if m and not _ASKS_PURPOSE.search(q):
        x = [w for w in _stem4(m.group(1))]
        low = opening.lower()
        # X is the subject and the verb right after it defines: "The learning rate is ...",
        # "Naive packing has a flaw: ..." for "What is the flaw of naive packing?"
        at = re.search(rf"\b{_DEFINES}\b", low)
        lead = _stem4(" ".join(low[:at.end()].split() + low[at.end():].split()[:3])) \
            if at and len(low[:at.start()].split()) <= len(x) + 3 else []
        defined = x and all(w in lead for w in x)
        named = re.search(r"\b(?:known as|called|named|stands for|, or)\b", low) and all(w in _stem4(low) for w in x)
        if not (defined or named):
            return "answer_off_question", f"asks what {m.group(1).strip()!r} is; the answer's opening does not say"
    m = _WHAT_DOES.match(q)
    head_word = m and next((w for w in re.findall(r"[\w-]+", _CODE.sub(" ", _QUOTED.sub(" ", m.group(1))))
                            if w.lower() not in ("the", "a", "an")), None)
    if head_word and len(head_word) >= 4:
        said = [w.lower() for w in re.findall(r"[\w-]+", opening)]
        at = [i for i, w in enumerate(said) if w[:5] == head_word.lower()[:5]]
        # the subject only as a pointer or a cause: "refer to the documentation for the
        # gettext module", "... due to rounding": the answer is about something else
        if at and all(re.search(_ASIDE, " ".join(said[max(0, i - 5):i])) for i in at):
            return "answer_off_question", (f"asks about {head_word!r}; the answer's opening names it "
                                           "only in a pointer or as a cause")
    m = _DO_PASSIVE.match(q)
    x = m and re.escape(m.group(1).strip("`\"'"))
    if m and re.match(rf"^\W*(?:the\s+|a\s+|an\s+)?[`\"']?{x}[`\"']?\s+{_NEGATED}", opening, re.I) \
            and not re.search(r"\s(?:—|--)\s", opening):
        # "What does fsck do?" of "fsck normally does not check whether ...": one thing it
        # does not do ("del x doesn't call x.__del__() -- the former decrements ..." goes on)
        return "answer_off_question", f"asks what {m.group(1)!r} does; the answer says what it does not do"
    about = m and re.sub(r"^(?:the\s+)?[`\"']?|[`\"']?(?:\s+(?:command|program|utility|tool))?$", "",
                         m.group(1)).lower()
    title, _, section = src.where.partition(" > ")
    page = program(title)
    manual = _MANUAL_PAGE.match(title)
    if about and manual and about == manual.group(2).split(":")[0].strip().lower() \
            and not _OVERVIEW.match(manual.group(1)):
        # "What does `libffi` do?" of its manual's "Structures" page ("libffi is perfectly
        # happy passing structures back and forth"): what the manual's subject does is in its
        # introduction; any other page tells one thing about it
        return "answer_off_question", (f"asks what {manual.group(2).split(':')[0]} does; the answer is "
                                       f"from its manual's {manual.group(1)!r} page, not its introduction")
    if about and page and about == page.lower() and section \
            and not re.match(r"^(?:name|description|synopsis|overview)\b", section, re.I):
        # "What does unzipsfx do?" of its LIMITATIONS ("unzipsfx has no knowledge of the
        # user's PATH"), "What does xxd do?" of an example: what the program is for is in the
        # page's description; any other section tells one thing about it
        return "answer_off_question", (f"asks what {page} does; the answer is from its "
                                       f"{section.split(' > ')[0]!r} section, not its description")
    if m and _NOTE_OR_QUESTION.match(opening):
        # "What does perlbug do?" of "Can you use perlbug to submit a thank-you note? Yes,
        # ...", "What does the kernel do?" of "Note: ... from the kernel ..."
        return "answer_off_question", (f"asks what {m.group(1)!r} does; the answer opens with a "
                                       "note or a question of its own")
    if m and re.match(r"^\W*(?:\S+\s+){1,3}also\b", opening, re.I) \
            and _stem4(m.group(1))[:1] and _stem4(m.group(1))[0] in _stem4(opening.split(" also ")[0]):
        # "`libffi` also provides a way to ...": one more thing it does, not what it does
        return "answer_off_question", f"asks what {m.group(1)!r} does; the answer adds one thing it also does"
    if m and not _NAMES_CODE.search(m.group(1)) and _stem4(m.group(1))[:1] \
            and _stem4(m.group(1))[0] not in _stem4(f"{head} {src.where}"):
        # an API reference describes a function without naming it: its section does
        return "answer_off_question", f"asks what {m.group(1)!r} does; the answer's opening never names it"
    if m and not _NAMES_CODE.search(m.group(1)) \
            and not _opens_with(m.group(1), opening if len(opening.split()) >= 6 else head):
        # "What does the split of instructions do?" of "Preference data is also split ..., and
        # the split must follow the split of the instructions"; "What does sftp do?" of "If no
        # path is specified, ..., sftp will log in to ...": X is named but the statement is about
        # something else, or about X only in a situation the question leaves out. (Not for a
        # name in code: an API's docstring says what it does without naming it.)
        return "answer_off_question", (f"asks what {m.group(1)!r} does; the answer's opening is "
                                       "not about it (it opens with something else)")
    main = m and _main_clause(opening, m.group(1))
    if m and _stem4(m.group(1))[:1] and _stem4(m.group(1))[0] in _stem4(" ".join(main.split()[:3])) and re.search(r"\b(?:can|may|must|should|will)?\s*(?:be|is|are)\s+(?:\w+ly\s+)?(?!used\b)(?:\w+ed|less|more|not)\b",
                       " ".join(main.lower().split()[:len(m.group(1).split()) + (4 if main == opening else 6)])):
        return "answer_off_question", f"asks what {m.group(1)!r} does; the answer says what is done with it"
    return None


# a page of an HTML manual titled as texinfo writes it, "Structures (libffi: the portable
# foreign function interface library)"; not a page named with its acronym, "Direct
# preference optimisation (DPO)", which is about what it names
_MANUAL_PAGE = re.compile(r"^(.+?)\s+\(([^():]+:[^()]+)\)\s*$")
_OVERVIEW = re.compile(r"^(?:introduction|overview|top|about|description|getting started)\b", re.I)


# a label before a statement: "**Programmer's note:** ...", "New in version 3.3: ...", "Note: ..."
_STATEMENT_LABEL = re.compile(r"^(?:\*\*[^*]{1,40}\*\*\s*|(?:new|changed|deprecated) in version [\d.]+:\s*"
                              r"|[A-Z][\w ]{0,30}:\s+)", re.I)


def _opens_with(subject: str, opening: str) -> bool:
    """Whether `subject` ("an embedding model, such as ...", articles aside, words compared by
    their first five letters) is what a sentence of `opening` starts with: its first words, a
    few modifiers allowed ("The quality of a fine-tuned model depends ...")."""
    def stems(text: str) -> list[str]:
        return [w[:5] if len(w) > 5 else w.rstrip("s") for w in re.findall(r"[\w-]+", text.lower())
                if w not in ("a", "an", "the")]
    x = stems(subject.split(",")[0])
    return any(all(w in stems(_main_clause(_STATEMENT_LABEL.sub("", s), subject))[:len(x) + 4] for w in x)
               for s in re.split(r"(?<=[.!?:;])\s+", opening))


def _main_clause(sentence: str, subject: str) -> str:
    """A sentence that opens with a clause is about what its main clause starts with: "When a
    scheduled run fails, the on-call engineer reads ..." is about the engineer; "When the X
    server has finished using 'pixmap', it will send ..." is not about the X server."""
    if not _SUBORDINATE.match(sentence) or _SUBORDINATE.match(subject):
        return sentence
    # the clause ends at its first comma that no example list is around: "If you are using a
    # non-reparenting window manager, such as ratpoison, awesome or dwm, some Java ..."
    parts = sentence.split(",")
    for n in range(1, len(parts)):
        if not (_EXAMPLES.match(parts[n]) or _EXAMPLES.search(parts[n - 1])):
            return ",".join(parts[n:]).strip()
    return ""


_EXAMPLES = re.compile(r"^\s*(?:such as|e\.g\.|i\.e\.|including|for example|like)\b|\b(?:such as|e\.g\.|including|for example)\s", re.I)


_SUBORDINATE = re.compile(r"^\W*(?:if|when|whenever|unless|although|though|while|once|after|before|since|"
                          r"because|until)\b", re.I)


_SELF_COMPARISON = re.compile(r"\bbetween (?:the |a |an )?(.{3,60}?) and (?:the |a |an )?\1\b", re.I)



def compares_with_itself(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """"What is the difference between X and X?": a garbled question."""
    m = _SELF_COMPARISON.search(pair.instruction)
    return ("garbled_question", f"compares {m.group(1)!r} with itself") if m else None


# verbs that cannot end a "How does X V?" question: "how" is no object, so one is missing
# ("How does the order of attributes affect?"); "How does X work/change/grow?" need none
_TRANSITIVE = ("affect|influence|determine|require|include|contain|need|provide|describe|mention|"
               "specify|define|indicate|represent|modify|impact|replace|produce|use|take|create|"
               "set|give|allow|cause|control|support")
_HOW_WITHOUT_OBJECT = re.compile(
    rf"^\W*how\s+(?:does|do|did|can|could|should|will|would)\s+.+?\s({_TRANSITIVE})\s*\?\s*$", re.I)


def verb_without_object(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """"How does X affect?": a verb that needs an object ends a how-question without one."""
    m = _HOW_WITHOUT_OBJECT.search(_CODE.sub(" x_code ", pair.instruction))
    return ("garbled_question", f"{m.group(1)!r} has no object") if m else None



def topical_terms(question: str) -> set[str]:
    """The question's words that name what it asks about (stems of 5 letters, as
    text.content_stems), generic question words left out."""
    words = {w.lower() for w in _Q_WORD.findall(_QUOTED.sub(" ", question))} | {
        w.lower() for span in re.findall(r"`([^`]+)`|\"([^\"]+)\"", question) for w in span if w}
    return content_stems(" ".join(w for w in words if w not in _GENERIC))



def _covered(term: str, words: set[str]) -> bool:
    """A question's word is in the answer when an answer word shares its first 4 letters
    ("apply" / "applied"): lenient on purpose, a drop needs the word to be clearly absent."""
    return any(w.startswith(term[:4]) for w in words)



def repeats_earlier_question(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """A follow-up that asks again what an earlier turn of its conversation asked (every
    topical word of it is in that question): trained on, the model learns to answer the same
    question two ways. Read by hand on a real multi-turn run ("What does a context manager
    do?" then "What does the context manager do?", answered with another passage)."""
    terms = topical_terms(pair.instruction)
    for k, (earlier, _) in enumerate(pair.history):
        if terms and terms <= topical_terms(earlier):
            return "repeats_earlier_question", f"asks what turn {k + 1} asked: {earlier!r}"
    return None


def relevance(question: str, answer: str, where: str, cosine: float, p: GroundingParams) -> Verdict:
    """Does the answer address what was asked? Dropped when too few of the question's topical
    words are in the answer or in where it comes from (title > section: a manual's section
    answers for the program it is in), or when the two embed far apart: a question on
    `try`/`finally` answered about `break` fails, and so does a question that asks about
    something the answer never mentions ("How do you apply LoRA to a high-dimensional
    dataset?" of a passage on which layers LoRA targets)."""
    terms = topical_terms(question)
    words = {w.lower() for w in re.findall(r"[^\W\d_]{3,}", f"{answer}\n{where}")}
    shared = sum(_covered(t, words) for t in terms) / len(terms) if terms else 1.0
    if shared < p.min_question_terms_in_answer:
        missing = sorted(t for t in terms if not _covered(t, words))
        return "answer_off_question", (f"{shared:.2f} of the question's words in the answer or its "
                                       f"section < {p.min_question_terms_in_answer}; missing "
                                       + ", ".join(missing[:5]))
    if cosine < p.min_question_answer_cosine:
        return "answer_off_question", (f"question-answer cosine {cosine:.3f} < "
                                       f"{p.min_question_answer_cosine}")
    return None


_ASKS_PURPOSE = re.compile(r"\b(?:purpose|the point of|used for|what is the use|best way|benefits?|advantages?)\b", re.I)


_STATES_PURPOSE = re.compile(
    r"\b(?:purpose|used (?:to|for)|use (?:it|them|this)|so that|in order to|lets?|allows?|helps?|enables?|"
    r"makes? it possible|useful|benefits?|advantages?|avoids?|prevents?|should|best|"
    r"recommend\w*|designed (?:to|for)|serves?|aims?)\b", re.I)


# an answer that opens with what the thing does ("Return the indices of ...", "Test whether ...",
# the way API references describe a function) states its purpose
_ACTION_OPENING = re.compile(
    r"^\W*(?:returns?|tests?|computes?|calculates?|creates?|constructs?|gets?|sets?|draws?|makes?|"
    r"converts?|applies|apply|builds?|performs?|evaluates?|checks?|finds?|counts?|removes?|adds?|"
    r"inserts?|generates?|reads?|writes?|loads?|saves?|opens?|closes?|splits?|joins?|replaces?|"
    r"encodes?|decodes?|raises?|yields?|calls?|updates?|copies|copy|sorts?|reverses?|rounds?|"
    r"formats?|parses?|prints?|deletes?|fills?|selects?|drops?|casts?|wraps?|maps?|transforms?|"
    r"estimates?|fits?|solves?|minimi[sz]es?|maximi[sz]es?|determines?|produces?|provides?|"
    r"defines?|represents?|specifies|specify|implements?|resolves?|tells?|indicates?)\b", re.I)


# (a version number is no name of code: "GLib 2.6")
_NAMES_CODE = re.compile(r"`|[^\W\d]\.\w|\w\.[^\W\d]|\w_\w|\w\(\)")



def purpose_unstated(question: str, answer: str) -> Verdict:
    """"What is the purpose of X?" (or its best way, benefits) of a passage that only
    describes X: the question asks for what the opening of the answer does not say. Small
    generators fall back on this form for any passage."""
    if not _ASKS_PURPOSE.search(question) or _NAMES_CODE.search(question):
        return None  # an API's description is its purpose, however it opens
    head = " ".join(re.split(r"(?<=[.!?])\s+", " ".join(answer.split()), maxsplit=2)[:2])
    if _ACTION_OPENING.match(head):
        return None
    asked = re.search(r"\b(?:purpose|use|point|benefits?|advantages?|way to \w+)\s+(?:of\s+)?(?:the\s+|a\s+|an\s+)?(.+?)\?",
                      question, re.I)
    thing = _stem4(asked.group(1))[:1] if asked else []
    if _STATES_PURPOSE.search(head) and (not thing or thing[0] in _stem4(" ".join(head.split()[:5]))):
        return None
    return "answer_off_question", "asks for a purpose, a benefit or the best way; the answer's opening states none"
