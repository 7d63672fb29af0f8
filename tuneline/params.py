"""Parameter groups. Each knob is declared once, here, with its default and unit.

Steps take these groups as parameters, so YAML `steps.<name>.parameters.<group>` and
pipeline `parameters:` validate against them; an unknown key is an error (extra="forbid").
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# where a model runs: auto = the step's GPU when it has one, else the CPU
DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"

DataShape = Literal["auto", "text", "alpaca", "sharegpt", "openai", "preference"]


class DatasetSource(Params):
    """A Hugging Face dataset read as a source (tuneline/documents/hfdata.py)."""

    path: str = Field(description="a save_to_disk folder, parquet/JSON/CSV file(s) or a Hub id")
    split: str = "train"
    name: str | None = Field(None, description="Hub datasets: the configuration")
    revision: str | None = Field(None, description="Hub datasets: a commit, tag or branch")
    text_field: str | None = Field(None, description="documents' field; None = ingest.jsonl_text_field")
    format: DataShape = Field("auto", description="row shape; auto = decided from the first row")


class IngestParams(Params):
    extensions: list[str] = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx",
                             ".jsonl", ".json"]
    jsonl_text_field: str = "text"
    data_format: DataShape = Field("auto", description=(
        "shape of .jsonl/.json rows: text documents, or alpaca | sharegpt | openai | preference "
        "instruction data; auto = decided per file from its first row"))
    datasets: list[DatasetSource] = Field([], description="Hugging Face datasets read as sources")
    chunk_words: int = Field(180, gt=0, description="target words per chunk")
    min_chunk_words: int = Field(40, ge=0, description="shorter trailing chunks merge backwards")
    max_file_mb: float = Field(20.0, gt=0, description="larger files are quarantined, not read")
    exclude: list[str] = Field([], description=(
        "paths in the raw folder left out (glob patterns, e.g. drafts/* or notes.md): the run's "
        "dataset then holds nothing derived from them; each is listed in the scan's rejects"))


class LLMParams(Params):
    # One dispatch point (tuneline.llm.make_llm) chooses the backend by this value.
    backend: Literal["transformers", "openai"] = "transformers"
    model: str = Field("bundled:smollm2-135m-instruct",
                       description="transformers: bundled:NAME, path or hub id; openai: served model name")
    batch_size: int = Field(8, gt=0, description="transformers: prompts per forward pass")
    device: str = Field("auto", pattern=DEVICE_PATTERN, description="transformers: auto | cpu | cuda | cuda:N")
    threads: int | None = Field(None, description="transformers: CPU threads; None = torch default")
    dtype: Literal["auto", "float32", "bfloat16"] = Field("auto", description=(
        "transformers: auto = bfloat16 on CUDA and on CPUs with native bf16 (AVX512-BF16, AMX), "
        "else float32"))
    seed: int = 0
    cache: bool = Field(True, description="persistent call cache (resume after a crash, no repaid calls)")
    shared_cache: str | None = Field("artifact_store", description=(
        "calls also kept where every machine of the stack reads them, so steps in fresh "
        "containers reuse them: artifact_store (a folder in the stack's artifact store), a "
        "folder or URL the artifact store's filesystem can write, or null (this disk only)"))
    # openai: any OpenAI-compatible server (OpenAI, vLLM, Ollama, TGI, llama.cpp)
    base_url: str | None = Field(None, description="openai: e.g. http://127.0.0.1:8080/v1")
    api_key_env: str = Field("OPENAI_API_KEY", description="openai: NAME of the env var with the key")
    concurrency: int = Field(8, gt=0, description="openai: requests in flight")
    timeout_s: float = Field(60.0, gt=0, description="openai: per request")
    max_retries: int = Field(5, ge=0, description="openai: on 408/409/429/5xx/timeouts, backoff+jitter")
    price_input_per_mtok: float | None = Field(None, description="USD per 1M prompt tokens")
    price_output_per_mtok: float | None = Field(None, description="USD per 1M completion tokens")


class GenerateParams(Params):
    mode: Literal["answer_first", "two_pass"] = Field("answer_first", description=(
        "answer_first: the answer is a passage of the chunk and the model writes only the question "
        "it answers (grounded by construction; the default for small models); two_pass: the model "
        "writes a question, then answers it with the chunk in view (for capable models)"))
    questions_per_chunk: int = Field(1, ge=1, description=(
        "two_pass: sampled questions per chunk; answer_first: passages per chunk (at most)"))
    turns: int = Field(1, ge=1, description=(
        "answer_first: exchanges per generated conversation; above 1, each follow-up asks about "
        "a further passage of the same chunk, in document order (questions_per_chunk "
        "conversations per chunk)"))
    passage_min_words: int = Field(15, ge=1, description="answer_first: shortest answer passage")
    passage_max_words: int = Field(120, ge=10, description="answer_first: longest answer passage")
    option_min_words: int = Field(5, ge=1, description=(
        "answer_first: shortest option description in a manual's option list, or API entry's "
        "description under its signature, that becomes a pair (its question built from the option "
        "and the program, or from the signature; no model call)"))
    api_pages_entries_only: bool = Field(True, description=(
        "answer_first: a page that documents an API (a chunk of it gives an entry under a "
        "signature) gives only its entries; the model writes no questions of its own there (read "
        "by hand on five runs, the model's questions on such pages were usable 35 of 103 times, "
        "their entries nearly always); false lets it ask of their prose too"))
    question_max_tokens: int = 48
    question_no_repeat: int | None = Field(4, ge=2, description=(
        "a question repeats no run of this many of its own tokens (transformers backend): greedy "
        "decoding of a small model otherwise loops ('--no-module-caching-caching-...'), a reply "
        "with no question in it; None to turn it off"))
    answer_max_tokens: int = 160
    temperature: float = Field(0.0, ge=0, description=(
        "0 = greedy: answer_first turns a statement into its question, where sampling only adds "
        "garbled forms (read on the quickstart: 43% usable at 0.5); two_pass wants 0.3-0.7"))
    top_p: float = 0.9


class FilterParams(Params):
    """Rule-filter thresholds. Each default is set from the rule's measured precision on the
    real answers of the dev set (benchmarks/curation_quality.py); every rule names itself
    when it drops."""

    min_instruction_words: int = 4
    max_instruction_words: int = 60
    max_instruction_chars: int = 600
    # real one-line docstring summaries run 3 words ("Bartlett window function.")
    min_answer_words: int = 3
    max_answer_words: int = 400
    max_answer_chars: int = 4000
    min_alpha_ratio: float = Field(0.35, description="share of letters among non-space characters, code aside")
    max_copy_ratio: float = Field(0.9, description="answer words found in the instruction")
    max_duplicate_line_ratio: float = Field(0.3, description="Gopher: duplicate lines / lines")
    max_markup_tags: int = Field(2, ge=1, description="HTML tags + entities outside code that drop an answer")
    max_mojibake: int = Field(2, ge=1, description="mis-decoded UTF-8 sequences that drop a pair")
    loop_ngram: int = Field(10, ge=2, description="looping: n of the repeated word n-grams")
    max_loop_ratio: float = Field(0.5, gt=0, le=1, description=(
        "looping: characters in repeated n-grams / all characters"))
    loop_min_words: int = Field(12, ge=1, description="looping applies from this many words")
    gopher_repetition: bool = Field(False, description=(
        "Gopher's top/duplicate n-gram rules (web-page thresholds; opt-in)"))
    # Gopher: chars in the most frequent n-gram / all chars, for n = 2, 3, 4
    max_top_ngram_char_ratio: dict[int, float] = {2: 0.20, 3: 0.18, 4: 0.16}
    # Gopher: chars in repeated n-grams / all chars, for n = 5..10
    max_dup_ngram_char_ratio: dict[int, float] = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11,
                                                  10: 0.10}
    repetition_min_words: int = Field(50, description="Gopher n-gram rules apply from here")
    refusal_phrases: list[str] = [
        "as an ai language model", "as an ai assistant", "i'm sorry, but i cannot",
        "i cannot answer", "i'm not able to", "i am not able to", "i don't have access",
        "i do not have access", "i cannot provide", "my knowledge cutoff",
    ]
    profanity: list[str] = ["fuck", "fucking", "shit", "bullshit", "asshole", "bitch", "cunt",
                            "dickhead", "motherfucker", "bastard"]
    spam_patterns: list[str] = [
        r"\bclick here\b", r"\bbuy now\b", r"\bsubscribe (?:to|now)\b", r"\bfollow us\b",
        r"\blimited[- ]time offer\b", r"\bfree trial\b", r"\bcasino\b", r"\bviagra\b",
    ]
    template_markers: list[str] = [
        r"<\|(?:im_start|im_end|endoftext|eot_id|start_header_id|end_header_id|assistant|user|system)\|>",
        r"\[/?INST\]", r"<</?SYS>>", r"(?m:^\s*###\s*(?:Instruction|Response|Input)\s*:)",
        r"(?m:^\s*(?:Human|Assistant)\s*:)", r"<start_of_turn>|<end_of_turn>",
    ]
    source_reference_patterns: list[str] = [
        r"\baccording to the (?:given |provided |above )?(?:text|passage|context|document|excerpt)\b",
        # "the given text" is also how API docs name a string argument: text stays out of this one
        r"\b(?:the|this) (?:provided|given|above) (?:passage|context|excerpt)\b",
        r"\b(?:as|is) (?:mentioned|stated|described|explained) in the (?:text|passage|context|excerpt)\b",
        r"\b(?:based on|from) the (?:text|passage|context|excerpt)(?: (?:provided|above|given))?,",
        r"\bthe (?:text|passage|excerpt) (?:says|states|mentions|does not (?:say|mention))\b",
    ]
    placeholder_patterns: list[str] = [
        r"\blorem ipsum\b", r"\[insert [^\]]{1,40}\]", r"\byour answer (?:goes )?here\b",
        r"\[(?:answer|placeholder|todo)\]",
    ]
    max_url_share: float = Field(0.5, gt=0, le=1, description="answer characters inside URLs")
    junk_turn: Literal["drop", "truncate"] = Field("drop", description=(
        "a conversation with a turn that breaks a rule: drop it whole, or keep the turns "
        "before that one (the opening turn breaking a rule drops it either way)"))
    workers: int | None = Field(None, ge=1, description=(
        "processes checking the rules on large inputs; None = one per core"))


class EmbeddingParams(Params):
    """The sentence-embedding model of the paraphrase dedup and the grounding check."""

    model: str = Field("bundled:all-minilm-l6-v2", description="bundled:NAME, path or hub id")
    batch_size: int = Field(64, gt=0, description="texts per forward pass")
    device: str = Field("auto", pattern=DEVICE_PATTERN, description="auto | cpu | cuda | cuda:N")


class DedupParams(Params):
    """Pair-level dedup (see tuneline/curation/dedup.py): both the instructions and the answers must be
    similar; defaults measured on the labelled dev set of benchmarks/curation_quality.py."""

    minhash_threshold: float = Field(0.5, gt=0, le=1, description=(
        "estimated Jaccard of the answers that makes two pairs LSH candidates"))
    near_instruction_jaccard: float = Field(0.5, gt=0, le=1, description=(
        "near duplicate: estimated Jaccard of the two instructions"))
    near_answer_jaccard: float = Field(0.5, gt=0, le=1, description=(
        "near duplicate: estimated Jaccard of the two answers"))
    num_perm: int = Field(128, gt=0, description="MinHash signature size")
    workers: int | None = Field(None, ge=1, description=(
        "cores used: processes for exact keys, threads for signatures; None = one per core"))
    ann_min_records: int = Field(50_000, ge=2, description=(
        "embedding search over this many records uses an approximate index (FAISS IVF), "
        "below it exact tiles (benchmarks/curation_scale.py measures both)"))
    ann_nprobe: int = Field(16, ge=1, description=(
        "approximate index: cells searched per query (more: higher recall, slower)"))
    shingle_chars: int = Field(5, gt=0, description="character shingle size (instructions, short answers)")
    shingle_words: int = Field(3, gt=0, description="word n-gram size (answers of long_text_words+)")
    long_text_words: int = Field(30, gt=0, description="answers with this many words use word n-grams")
    embedding_instruction_threshold: float = Field(0.75, gt=0, le=1, description=(
        "paraphrase: cosine of the two instructions"))
    embedding_answer_threshold: float = Field(0.8, gt=0, le=1, description=(
        "paraphrase: cosine of the two answers (or the overlap below)"))
    answer_overlap_threshold: float = Field(0.7, gt=0, le=1, description=(
        "paraphrase: Jaccard of the answers' content words, in any order (or the cosine above)"))
    entity_check: bool = Field(True, description=(
        "an identifier, number or name in one instruction that the other pair never "
        "mentions makes them distinct"))


class GroundingParams(Params):
    """The source checks (tuneline/curation/source_checks/): rules that read each pair against its
    chunk, question-answer relevance, and the embedding faithfulness check
    (tuneline/curation/grounding.py: an answer is dropped when another chunk fits it better, or when
    both signals against its own chunk are below their minimum). Defaults measured on the dev
    set (benchmarks/curation_quality.py)."""

    skip_checks: list[str] = Field([], description=(
        "source-check rules switched off, by name (e.g. unsupported_sentence, relevance)"))
    min_repeated_words: int = Field(3, ge=2, description=(
        "looping_text: a run of this many words followed at once by itself"))
    min_unsupported_terms: int = Field(1, ge=1, description=(
        "term_not_in_source: key terms of the answer absent from chunk, title and question"))
    copied_sentence_ratio: float = Field(0.75, gt=0, le=1, description=(
        "altered copy: word-sequence similarity from which an answer sentence counts as copied"))
    unsupported_sentence_min_words: int = Field(4, ge=1, description=(
        "sentence_not_in_source: content words a sentence needs before it is checked"))
    min_sentence_support: float = Field(0.34, ge=0, le=1, description=(
        "sentence_not_in_source: share of a sentence's content words found in the chunk"))
    min_question_terms_in_answer: float = Field(0.5, ge=0, le=1, description=(
        "answer_off_question: share of the question's topical words found in the answer or in "
        "its chunk's title and section"))
    min_question_answer_cosine: float = Field(0.0, ge=-1, le=1, description=(
        "answer_off_question: question-answer cosine below which the answer is off the question"))
    other_chunk_margin: float = Field(0.2, gt=0, le=2, description=(
        "drop when another chunk's cosine with the answer beats its own chunk's by this much"))
    key_term_check: bool = Field(True, description=(
        "also drop when another chunk fits at least as well and the answer names a key term "
        "(identifier, acronym, number, name) that only that chunk mentions"))
    min_cosine: float = Field(0.55, ge=-1, le=1, description="answer vs its chunk, cosine")
    min_overlap: float = Field(0.6, ge=0, le=1, description=(
        "share of the answer's content words found in its chunk"))


class JudgeParams(Params):
    min_score: float = Field(2.5, ge=1, le=5, description="judge score (1-5) needed to keep a pair")
    # logprobs: expected score from P("1".."5") (needs token probabilities: local models);
    # text: parse "Score: N" / {"score": N} from the reply, for any chat endpoint.
    method: Literal["logprobs", "text"] = "logprobs"
    retries: int = Field(1, ge=0, description="text method: re-asks for an unparseable reply")
    jury: list[LLMParams] = Field([], description="extra judges; scores are then aggregated")
    aggregate: Literal["mean", "majority"] = "mean"
    separation_probes: int = Field(16, ge=0, description=(
        "pairs whose question is also scored with another pair's answer: the judge must score "
        "its own answer higher (AUROC); 0 = no probe"))
    min_separation: float = Field(0.75, ge=0.5, le=1, description=(
        "probe AUROC below which the judge cannot tell a fitting answer from another question's: "
        "its scores are recorded, not used to drop pairs, and the run summary says so"))


class PreferenceParams(Params):
    chosen: Literal["source", "judged"] = Field("source", description=(
        "source: a kept answer copied from its chunk (answer-first) is chosen and the sampled "
        "answer written without the chunk rejected, scores recorded; judged: the judge's "
        "ranking decides (answers the model wrote: two-pass, imported data)"))
    extra_candidates: int = Field(1, ge=1, description="answers sampled besides the kept one")
    candidate_temperature: float = Field(0.9, gt=0, description="diverse candidates need sampling")
    min_margin: float = Field(0.2, ge=0, description="chosen - rejected judge score")


class SplitParams(Params):
    test_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = 42


class DecontamParams(Params):
    ngram: int = Field(8, ge=3, description="words in a shared n-gram that marks contamination")
    benchmark_files: list[str] = Field([], description="JSONL files whose string fields are held out")


class LoRAParams(Params):
    # Unsloth's SFT guide: r=16, alpha=16, rsLoRA, every linear projection, no dropout
    r: int = 16
    alpha: int = 16
    rslora: bool = Field(True, description="scale by alpha/sqrt(r) instead of alpha/r")
    dropout: float = 0.0
    target_modules: str | list[str] = "all-linear"


class DistributedParams(Params):
    """Training on several processes (one per GPU) launched by torchrun; the default, one
    process on one node, trains inside the step's own process."""

    nproc_per_node: int | Literal["auto"] = Field(
        1, description="processes per node, one per GPU; auto = every visible GPU (1 on CPU)")
    nnodes: int = Field(1, ge=1, description="machines; above 1 the rendezvous comes from the "
                                             "environment (see docs/distributed.md)")
    strategy: Literal["ddp", "fsdp"] = Field(
        "ddp", description="ddp: a full copy per GPU; fsdp: parameters, gradients and optimizer "
                           "state sharded across GPUs (trl backend)")
    fsdp_cpu_offload: bool = Field(False, description="fsdp: parameters and gradients in CPU memory")
    fsdp_sharding: Literal["full_shard", "shard_grad_op"] = Field(
        "full_shard", description="fsdp: full_shard frees each layer's gathered parameters after "
                                  "its forward (least memory); shard_grad_op keeps them to backward")
    timeout_s: int = Field(1800, gt=0, description="a collective waiting longer fails the run")

    @model_validator(mode="after")
    def _positive(self):
        if self.nproc_per_node != "auto" and self.nproc_per_node < 1:
            raise ValueError("nproc_per_node must be >= 1 or 'auto'")
        return self


class TrainParams(Params):
    """Hyperparameters shared by SFT and DPO; every one is passed to the trainer explicitly.

    `batch_size` x `grad_accum` examples make one optimizer step whatever the number of
    processes (so the schedule and a checkpoint mean the same on 1 or 8 GPUs); `batch_size`
    is also the most examples one process takes per forward pass (its memory)."""

    backend: Literal["auto", "trl", "unsloth"] = Field(
        "auto", description="auto: unsloth when CUDA and unsloth are available, else trl")
    learning_rate: float = 2e-4
    epochs: float = 1.0
    max_steps: int = Field(-1, description="-1 = run the full epochs")
    batch_size: int = Field(4, gt=0, description=(
        "most examples per forward pass of one process; batch_size x grad_accum per optimizer step"))
    grad_accum: int = Field(1, gt=0, description="with batch_size: the examples per optimizer step")
    max_length: int = Field(512, description="tokens; longer examples are truncated")
    warmup: float = Field(0.05, ge=0, description="steps, or a share of all steps when < 1")
    weight_decay: float = 0.0
    lr_scheduler: str = "linear"
    optimizer: str = "adamw_torch"
    seed: int = 42
    logging_steps: int = 1
    packing: bool = Field(False, description=(
        "padding-free batches (GPU throughput). SFT: several examples per row; DPO: the "
        "chosen and rejected sequences of a batch in one row, each pair's prompt once"))
    packing_strategy: Literal["bfd", "wrapped"] = Field(
        "bfd", description="SFT: bfd keeps each example whole and attending only to itself; "
                           "wrapped cuts fixed max_length chunks across examples (tokens attend "
                           "across example boundaries, answers split mid-way)")
    packed_attention: Literal["flex", "native"] = Field(
        "flex", description="padding-free attention: flex = one FlexAttention call per layer "
                            "with a per-example mask (on CPU: SDPA with that mask; DPO prompts "
                            "shared); native = the backend's own kernel, DPO prompts not shared")
    load_in_4bit: bool = Field(False, description="QLoRA: 4-bit base weights (unsloth, CUDA only)")
    gradient_checkpointing: Literal["auto", "on", "off"] | float = Field(
        "auto", description=(
            "recompute activations in backward (unsloth: its offloaded variant): on, off, a "
            "share of the layers, or auto = the fewest checkpointed layers whose measured peak "
            "fits max_memory_gib (every layer on CPU)"))
    max_memory_gib: float | None = Field(None, gt=0, description=(
        "GPU memory per process gradient_checkpointing auto plans for; default 90% of the GPU's"))
    checkpoint_every: int = Field(50, ge=0, description="optimizer steps between checkpoints a "
                                                       "re-run resumes from; 0 = none")
    lora: LoRAParams = LoRAParams()
    distributed: DistributedParams = DistributedParams()

    @field_validator("gradient_checkpointing", mode="before")
    @classmethod
    def _checkpointing(cls, value):
        if isinstance(value, bool):  # the old switch: true / false
            return "on" if value else "off"
        if isinstance(value, (int, float)) and not 0 <= value <= 1:
            raise ValueError(f"gradient_checkpointing {value} is not a share of the layers in "
                             "[0, 1]; or use auto, on, off")
        return value


class SFTParams(TrainParams):
    pass


class DPOParams(TrainParams):
    learning_rate: float = 5e-5
    beta: float = Field(0.1, gt=0, description="KL penalty strength")
    fused_preference_loss: bool = Field(
        True, description="unsloth: score completions from hidden states in row chunks instead "
                          "of full logits (falls back to TRL's loss where it cannot); 1.24x pairs/s")


class HarnessTask(Params):
    """One lm-evaluation-harness task the evaluated models are scored on (tuneline/ship/harness.py)."""

    task: str = Field(description="a task name of lm-evaluation-harness: gsm8k, arc_easy, mmlu, ...")
    data_files: dict[str, str] | None = Field(None, description=(
        "split -> local JSON/JSONL/CSV/parquet file in the task's dataset format (e.g. "
        "{test: gsm8k/test.jsonl, train: gsm8k/train.jsonl}); None = the task's Hugging Face "
        "dataset (the Hub, or the local HF cache offline)"))
    limit: int | None = Field(200, gt=0, description="items scored per model; None = all")
    num_fewshot: int | None = Field(None, ge=0, description="None = the task's default")
    max_new_tokens: int = Field(256, gt=0, description="generation budget of generative tasks")
    metric: str | None = Field(None, description=(
        "METRIC[,FILTER] of the task's samples (e.g. exact_match,strict-match); None = its first"))


class EvalParams(Params):
    max_examples: int = Field(64, gt=0, description="test pairs scored per model")
    device: str = Field("auto", pattern=DEVICE_PATTERN, description=(
        "where the evaluated models run: auto | cpu | cuda | cuda:N"))
    max_new_tokens: int = 128
    batch_size: int = Field(64, gt=0, description=(
        "prompts per batch of the evaluated models' generation (2 CPU cores, 135M model: 50 "
        "prompts in one batch 28 s, in batches of 16 48 s; H100, 8B: 64 gives 19.5 prompts/s, "
        "32 gives 10.1; benchmarks/eval_throughput.py)"))
    loss_batch_size: int | None = Field(None, gt=0, description=(
        "test pairs per forward of the answer loss; None = 16 on a GPU (H100, 8B: 9.2x one pair "
        "per forward), 1 on the CPU (2 cores, 135M: batches of 8 ran at 0.88x, padding costs "
        "more than it saves)"))
    general_prompts: int = Field(50, ge=0, description=(
        "general-ability check: how many out-of-domain prompts with verifiable constraints "
        "each model answers (instruction_following); 0 = off"))
    general_prompts_file: str | None = Field(None, description=(
        "IFEval-format JSONL (prompt, instruction_id_list, kwargs) to use instead of the 50 "
        "bundled prompts, e.g. a local copy of IFEval's input_data.jsonl"))
    general_max_new_tokens: int = Field(128, gt=0, description="reply budget of those prompts")
    benchmarks: list[HarnessTask] = Field([], description=(
        "standard benchmarks through lm-evaluation-harness (pip install 'tuneline[harness]'), "
        "pooled into the `benchmarks` metric; [] = none"))


GateMetric = Literal["eval_loss", "judge_score", "instruction_following", "benchmarks"]


class PromotionParams(Params):
    """The promotion gate (tuneline/ship/promotion.py; docs/registry.md): every metric with a
    paired-bootstrap interval against the incumbent (production, else the base model)."""

    must_improve: dict[GateMetric, float] = Field({"eval_loss": 0.0}, description=(
        "metric -> margin: promoted only when the whole interval of the gain is above it"))
    must_not_regress: dict[GateMetric, float] = Field({"instruction_following": 0.15}, description=(
        "metric -> margin: promoted only when the whole interval of the gain is above minus it"))
    confidence: float = Field(0.9, gt=0.5, lt=1, description="two-sided interval level")
    min_examples: int = Field(20, ge=1, description=(
        "fewer items under a gated metric: undecided, whatever the interval says"))
    bootstrap_samples: int = Field(2000, ge=200)
    seed: int = 0

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data):
        if isinstance(data, dict) and ({"metric", "min_improvement"} & set(data)):
            raise ValueError(
                "promotion.metric and promotion.min_improvement were replaced by "
                "promotion.must_improve: {METRIC: MARGIN} (e.g. {eval_loss: 0.0}); see "
                "docs/registry.md")
        return data

    @model_validator(mode="after")
    def _a_gate_that_can_promote(self):
        if not self.must_improve:
            raise ValueError("promotion.must_improve names no metric: nothing could promote")
        both = set(self.must_improve) & set(self.must_not_regress)
        if both:
            raise ValueError(f"{sorted(both)} both in promotion.must_improve and "
                             "promotion.must_not_regress")
        if any(m < 0 for m in (*self.must_improve.values(), *self.must_not_regress.values())):
            raise ValueError("promotion margins are >= 0")
        return self


# llama.cpp quant types a GGUF export can write (llama_model_quantize's file types). Each has
# a tolerance: the most answer cross-entropy it may add over the merged model (a share), and
# the least greedy agreement with it on the answer tokens where the merged model's choice is
# clear. Measured on the quickstart model (benchmarks/gguf_export.py, docs/gguf.md): q8_0
# +0.13% / 100%, q4_k_m +1.9% / 97.5%; llama.cpp's own tables put q8_0 at +0.0004 ppl and
# q4_k_m at +0.05 on 7B models. The margins leave room for a small test split.
QuantType = Literal["f16", "bf16", "q8_0", "q6_k", "q5_k_m", "q5_0", "q4_k_m", "q4_0",
                    "q3_k_m", "q2_k"]


class GGUFParams(Params):
    """GGUF export for llama.cpp / Ollama / LM Studio (tuneline/ship/gguf.py), and the checks a
    quant passes before it is published."""

    quants: list[QuantType] = Field(["q8_0", "q4_k_m"], description="[] = no export")
    max_ce_increase: dict[str, float] = Field(
        {"f16": 0.002, "bf16": 0.002, "q8_0": 0.01, "q6_k": 0.02, "q5_k_m": 0.03, "q5_0": 0.04,
         "q4_k_m": 0.05, "q4_0": 0.08, "q3_k_m": 0.12, "q2_k": 0.35},
        description="per quant: answer cross-entropy over the merged model's, as a share")
    min_top1_agreement: dict[str, float] = Field(
        {"f16": 0.99, "bf16": 0.99, "q8_0": 0.97, "q6_k": 0.95, "q5_k_m": 0.93, "q5_0": 0.93,
         "q4_k_m": 0.9, "q4_0": 0.85, "q3_k_m": 0.85, "q2_k": 0.7},
        description="per quant: share of answer tokens whose greedy choice equals the merged "
                    "model's, where its top choice leads by 0.1 probability or more")
    min_stop_ratio: float = Field(0.5, gt=0, le=1, description=(
        "at the merged model's stops: the quant's EOS probability over the merged model's"))
    check_examples: int = Field(8, gt=0, description="test pairs the checks run on")
    max_new_tokens: int = Field(256, gt=0, description="budget within which generation must stop")
    threads: int | None = Field(None, ge=1, description="llama.cpp threads; None = one per core")

    @model_validator(mode="after")
    def _every_quant_has_tolerances(self):
        for name in ("max_ce_increase", "min_top1_agreement"):
            missing = [q for q in self.quants if q not in getattr(self, name)]
            if missing:
                raise ValueError(f"gguf.{name} has no entry for {', '.join(missing)}")
        return self


class HubAccess(Params):
    """Where and how a push reaches the Hub (the model push and the dataset push share it)."""

    private: bool = True
    token_env: str = Field("HF_TOKEN", description="NAME of the env var holding the write token")
    endpoint: str | None = Field(None, description="None = HF_ENDPOINT or https://huggingface.co")
    license: str | None = Field(None, description="SPDX id for the card, e.g. apache-2.0")


class HubParams(HubAccess):
    repo_id: str | None = Field(None, description="e.g. my-org/support-bot; None = no push")
    gguf_repo_id: str | None = Field(None, description=(
        "e.g. my-org/support-bot-GGUF: the verified GGUF quants, Ollama Modelfiles and a card"))
    mode: Literal["merged", "adapter"] = Field(
        "merged", description="merged: full 16-bit weights; adapter: one LoRA adapter on the base")
    only_if_promoted: bool = Field(True, description="push only versions promoted to production")
    intended_use: str = Field(
        "Answering questions about the documents it was tuned on. Not evaluated for safety, "
        "factuality outside that corpus, or other languages.",
        description="the model card's intended-use paragraph")


class DatasetHubParams(HubAccess):
    repo_id: str | None = Field(None, description="e.g. my-org/support-qa; None = no push")
    pretty_name: str | None = Field(None, description="the card's title; None = the repo id")
    description: str = Field(
        "Instruction/answer pairs and preference pairs generated from a document corpus and "
        "curated by tuneline.", description="the card's opening paragraph")
