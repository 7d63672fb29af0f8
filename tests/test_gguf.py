"""The GGUF export's decisions: the Ollama template read off a model's chat template, and the
verdict on a quant from its measured numbers. The export itself, run in llama.cpp on the
trained model, is tested in tests/pipelines/test_end_to_end.py."""

import pytest
from pydantic import ValidationError

from tuneline.params import GGUFParams
from tuneline.ship import chat_template, gguf, quant_checks

SAMPLES = [
    [{"role": "user", "content": "What does `numpy.clip` do?"}],
    [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Why LoRA?"}],
    [{"role": "user", "content": "What is QLoRA?"}, {"role": "assistant", "content": "4-bit LoRA."},
     {"role": "user", "content": "And its memory?"}],
    [{"role": "system", "content": "Be exact."}, {"role": "user", "content": "Define DPO."},
     {"role": "assistant", "content": "Preference tuning."}, {"role": "user", "content": "Beta?"}],
]


def hf_renderer(template: str, bos: str = "", eos: str = ""):
    """The template as transformers renders it (what apply_chat_template does)."""
    from transformers.utils.chat_template_utils import render_jinja_template

    def render(messages, gen):
        return render_jinja_template([messages], chat_template=template, add_generation_prompt=gen,
                                     bos_token=bos, eos_token=eos)[0][0]
    return render


def real_templates():
    """Chat templates of real models, as shipped in installed packages (not typed here)."""
    from tuneline import models

    templates = {}
    try:
        from llama_cpp import llama_chat_format as f

        templates["chatml"] = (f.CHATML_CHAT_TEMPLATE, "", "<|im_end|>")
        templates["llama-3"] = (f.LLAMA3_INSTRUCT_CHAT_TEMPLATE, "<|begin_of_text|>", "<|eot_id|>")
        templates["mistral"] = (f.MISTRAL_INSTRUCT_CHAT_TEMPLATE, "<s>", "</s>")
    except ImportError:
        pass
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(models.resolve("bundled:smollm2-135m-instruct"))
    templates["smollm2"] = (tok.chat_template, "", "<|im_end|>")
    return templates


@pytest.fixture(scope="module")
def templates():
    return real_templates()


def test_ollama_template_renders_each_real_template_exactly(templates):
    for name in ("smollm2", "chatml", "llama-3"):
        if name not in templates:
            continue
        render = hf_renderer(*templates[name])
        parts = chat_template.chat_parts(render)
        for messages in SAMPLES:
            assert chat_template.render_parts(parts, messages) == render(messages, True), (name, messages)


def test_a_default_system_prompt_becomes_the_modelfile_system(templates):
    # SmolLM2's template adds "You are a helpful AI assistant named SmolLM..." when there is
    # no system message; Ollama does the same with SYSTEM
    render = hf_renderer(*templates["smollm2"])
    text, info = chat_template.modelfile("m-q4_k_m.gguf", render, SAMPLES, ["<|im_end|>"])
    assert info["template"] and info["conversations_checked"] == len(SAMPLES)
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM' in text
    assert text.startswith("FROM ./m-q4_k_m.gguf\n") and 'PARAMETER stop "<|im_end|>"' in text
    template = text.split('TEMPLATE """', 1)[1].split('"""', 1)[0]
    assert template.startswith("{{ range .Messages }}")
    assert '{{ else if eq .Role "assistant" }}<|im_start|>assistant\n{{ .Content }}<|im_end|>\n' in template
    assert template.endswith("{{ end }}{{ end }}<|im_start|>assistant\n")


def test_llama3_template_keeps_its_begin_of_text_head(templates):
    if "llama-3" not in templates:
        pytest.skip("llama-cpp-python (its template constants) is not installed")
    parts = chat_template.chat_parts(hf_renderer(*templates["llama-3"]))
    assert parts["head"] == "<|begin_of_text|>" and parts["default_system"] is None
    assert parts["user"] == ("<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>")


def test_a_template_that_refuses_system_turns_gets_no_template_line(templates):
    if "mistral" not in templates:
        pytest.skip("llama-cpp-python (its template constants) is not installed")
    text, info = chat_template.modelfile("m.gguf", hf_renderer(*templates["mistral"]), SAMPLES, ["</s>"])
    # its template raises on a system turn: Ollama keeps reading the GGUF's own template
    assert not info["template"] and info["reason"].startswith("TemplateError: Conversation roles")
    assert "TEMPLATE" not in text and 'PARAMETER stop "</s>"' in text


def test_literal_braces_in_a_template_are_quoted_for_go():
    assert chat_template._go_literal("a {{b}} c") == '{{ "a {{b}} c" }}'
    assert chat_template._go_literal("<|im_end|>\n") == "<|im_end|>\n"


# --- the verdict ------------------------------------------------------------------------------

def _ref(nll=(1.0, 2.0, 3.0), stop_nll=0.5):
    return {"prompt_ids": [[1, 5, 6], [1, 7]], "eos_ids": [2], "eos_texts": ["<|im_end|>"],
            # the second answer token is a near-tie for the merged model
            "answers": [{"nll": list(nll), "argmax": [4, 4, 2], "margin": [0.5, 0.05, 0.5]}],
            "replies": [{"nll": [0.3, stop_nll], "argmax": [9, 2]}]}


def _got(**over):
    got = {"chat_template": "{{ x }}", "prompt_ids": [[1, 5, 6], [1, 7]], "eog_ids": [0, 2],
           "eog_texts": ["<|endoftext|>", "<|im_end|>"],
           "answers": [{"nll": [1.0, 2.0, 3.0], "argmax": [4, 4, 2]}],
           "replies": [{"nll": [0.3, 0.5], "argmax": [9, 2]}],
           "generations": [{"finish_reason": "stop", "tokens": 3}]}
    return {**got, **over}


def _check(got, ref=None, ce=0.05, top1=0.8, stop=0.5):
    return quant_checks.check("q4_k_m", ref or _ref(), got, ce, top1, stop)


def test_a_quant_equal_to_the_merged_model_is_verified():
    v = _check(_got())
    assert v["verified"] and v["failures"] == [] and v["top1_agreement"] == 1.0
    assert v["template_prompts_matching"] == 2 and v["stops_matching"] == 1


def test_a_template_tokenizing_differently_fails_and_says_where():
    v = _check(_got(prompt_ids=[[1, 5, 6], [1, 8]]))
    assert not v["verified"] and "1 of 2 prompts" in v["failures"][0]
    assert "token 1 of prompt 1" in v["failures"][0]


def test_a_missing_or_failing_template_fails():
    assert "no chat template" in _check(_got(chat_template=None))["failures"][0]
    v = _check(_got(template_error="TemplateError: roles must alternate"))
    assert "fails to render" in v["failures"][0]


def test_an_eos_that_is_not_end_of_generation_fails():
    v = _check(_got(eog_ids=[0], eog_texts=["<|endoftext|>"]))
    assert "EOS ids [2] (<|im_end|>) are not end-of-generation" in v["failures"][0]


def test_a_quant_that_does_not_stop_where_the_merged_model_does_fails():
    # merged model: p(EOS) = e^-0.5 = 0.61 at the end of its reply; quant: e^-3 = 0.05
    v = _check(_got(replies=[{"nll": [0.3, 3.0], "argmax": [9, 4]}]))
    assert not v["verified"] and "does not stop where the merged model stops" in v["failures"][0]
    # a little less likely is not a failure
    assert _check(_got(replies=[{"nll": [0.3, 0.9], "argmax": [9, 2]}]))["verified"]


def test_cross_entropy_over_tolerance_fails_under_it_passes():
    worse = _got(answers=[{"nll": [1.1, 2.1, 3.2], "argmax": [4, 4, 2]}])  # +6.7 %
    v = _check(worse)
    assert not v["verified"] and "+6.7% over the merged model's 2.0000 (tolerance 5.0%)" in v["failures"][0]
    assert _check(worse, ce=0.08)["verified"]


def test_greedy_disagreement_where_the_merged_model_is_clear_fails():
    v = _check(_got(answers=[{"nll": [1.0, 2.0, 3.0], "argmax": [4, 7, 7]}]))
    assert "50.0% is below 80% (on the 2 answer tokens where its choice is clear)" in v["failures"][0]
    assert v["top1_agreement_all_tokens"] == pytest.approx(1 / 3)


def test_a_different_choice_at_a_near_tie_is_not_a_disagreement():
    v = _check(_got(answers=[{"nll": [1.0, 2.0, 3.0], "argmax": [4, 7, 2]}]))
    assert v["verified"] and v["top1_agreement"] == 1.0 and v["decided_tokens"] == 2


def test_a_crashed_probe_is_a_failed_quant_with_the_reason():
    v = _check({"error": "llama.cpp died running m.gguf (exit -6): unordered_map::at"})
    assert not v["verified"] and "unordered_map::at" in v["failures"][0]


def test_verified_lists_only_passing_quants():
    report = {"quants": [{"quant": "q8_0", "verified": True}, {"quant": "q2_k", "verified": False}]}
    assert [q["quant"] for q in gguf.verified(report)] == ["q8_0"]


def test_serve_picks_the_first_verified_quant_and_refuses_a_failed_or_missing_one():
    report = {"quants": [{"quant": "q2_k", "verified": False, "failures": ["CE +40%"]},
                         {"quant": "q4_k_m", "verified": True, "failures": []}]}
    assert gguf.pick(report, None, "m:1")["quant"] == "q4_k_m"
    assert gguf.pick(report, "q4_k_m", "m:1")["quant"] == "q4_k_m"
    with pytest.raises(LookupError, match="m:1 q2_k failed its checks, so it is not served: CE"):
        gguf.pick(report, "q2_k", "m:1")
    with pytest.raises(LookupError, match="has no q8_0 quant; it has q2_k, q4_k_m"):
        gguf.pick(report, "q8_0", "m:1")
    with pytest.raises(LookupError, match="no GGUF quant of m:1 passed its checks: q2_k: CE"):
        gguf.pick({"quants": report["quants"][:1]}, None, "m:1")
    with pytest.raises(LookupError, match="m:1 has no GGUF export"):
        gguf.pick({}, None, "m:1")


def test_gguf_params_reject_an_unknown_quant_and_a_quant_without_tolerances():
    with pytest.raises(ValidationError, match="q9_z"):
        GGUFParams(quants=["q9_z"])
    with pytest.raises(ValidationError, match="max_ce_increase has no entry for q6_k"):
        GGUFParams(quants=["q6_k"], max_ce_increase={"q8_0": 0.01})
    assert GGUFParams(quants=[]).quants == []


def test_missing_converter_names_where_it_looked_and_how_to_skip(monkeypatch, tmp_path):
    monkeypatch.setenv(gguf.CONVERTER_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"gguf.quants: \[\]"):
        gguf.converter_dir()


def test_a_gguf_template_that_drops_the_system_prompt_fails_on_the_configured_one():
    from transformers import AutoTokenizer

    from tuneline import models

    tok = AutoTokenizer.from_pretrained(models.resolve("bundled:smollm2-135m-instruct"))
    system = "Answer from the tar manual only."
    pairs = [{"prompt": [{"role": "system", "content": system},
                         {"role": "user", "content": f"What does tar -{flag} do?"}],
              "answer": f"It sets flag {flag}."} for flag in "cx"]
    convs = quant_checks.conversations(pairs, system)
    assert [c[0]["content"] for c in convs] == [system] * 3  # the configured prompt everywhere

    def ids(template):
        return [list(tok.apply_chat_template(c, add_generation_prompt=True, tokenize=True,
                                             return_dict=False, chat_template=template)) for c in convs]

    # the model's template with its system messages skipped, as a lossy conversion might ship it
    drops_system = tok.chat_template.replace("{{'<|im_start|>' + message['role']",
                                             "{% if message['role'] != 'system' %}{{'<|im_start|>' + message['role']") \
        .replace("'<|im_end|>' + '\n'}}", "'<|im_end|>' + '\n'}}{% endif %}")
    assert drops_system != tok.chat_template and system not in tok.decode(ids(drops_system)[0])
    ref = {**_ref(), "prompt_ids": ids(None)}
    v = _check(_got(prompt_ids=ids(drops_system)), ref)
    assert not v["verified"] and "3 of 3 prompts" in v["failures"][0]
    assert _check(_got(prompt_ids=ids(None)), ref)["verified"]
