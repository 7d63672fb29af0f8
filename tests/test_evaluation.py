"""Evaluation: the general-ability check, the batched answer loss, the side-by-side view."""

import json
import math
import re
import socket

import pytest

from tests.conftest import make_pair
from tuneline.ship import comparison, general_check

BASE = "bundled:smollm2-135m-instruct"


def test_the_bundled_general_prompts_are_all_checkable_offline():
    prompts, left_out = general_check.load_prompts()
    assert len(prompts) == 50 and left_out == []
    assert sum(len(p["instruction_id_list"]) for p in prompts) == 61
    used = {i for p in prompts for i in p["instruction_id_list"]}
    assert not used & set(general_check.NEEDS_NLTK_DATA)  # none needs a download
    assert len({p["key"] for p in prompts}) == 50


@pytest.mark.parametrize("key, reply, followed", [
    ("general-001", "please water the plants on monday. thank you!", 1),
    ("general-001", "Please water the plants.", 0),
    ("general-003", "* Oil the chain.\n* Check the tyres.\n* Keep it dry.", 1),
    ("general-003", "* Oil the chain.\n* Check the tyres.", 0),
    ("general-008", '```json\n{"colours": ["red", "orange"]}\n```', 1),
    ("general-010", "Take an umbrella. Is there anything else I can help with?", 1),
    ("general-023", "sorry i was late because the bus broke down", 2),
    ("general-023", "Sorry, I was late.", 0),
    ("general-001", "", 0),
])
def test_verifiers_count_the_constraints_a_reply_follows(key, reply, followed):
    item = next(p for p in general_check.load_prompts()[0] if p["key"] == key)
    v = general_check.verify(item, reply)
    assert v["followed"] == followed
    assert len(v["missed"]) == v["instructions"] - followed


def test_a_prompt_file_with_an_unknown_instruction_or_a_bad_line_names_the_line(tmp_path):
    good = {"prompt": "Say hi.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
    f = tmp_path / "prompts.jsonl"
    f.write_text(json.dumps(good) + "\n" + json.dumps({**good, "instruction_id_list": ["nope:x"]}))
    with pytest.raises(ValueError, match=r"prompts.jsonl:2: unknown IFEval instruction id"):
        general_check.load_prompts(f)
    f.write_text(json.dumps(good) + "\n{broken\n")
    with pytest.raises(ValueError, match=r"prompts.jsonl:2: not an IFEval prompt line"):
        general_check.load_prompts(f)


def test_instructions_that_need_missing_nltk_data_are_left_out_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(general_check, "_nltk_has", lambda resource: False)
    f = tmp_path / "ifeval.jsonl"
    rows = [{"key": 1, "prompt": "Two sentences.", "kwargs": [{"num_sentences": 2, "relation": "less than"}],
             "instruction_id_list": ["length_constraints:number_sentences"]},
            {"key": 2, "prompt": "No commas.", "instruction_id_list": ["punctuation:no_comma"],
             "kwargs": [{}]}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    usable, left_out = general_check.load_prompts(f)
    assert [p["key"] for p in usable] == ["2"]
    assert left_out[0]["key"] == "1" and "needs NLTK data not installed" in left_out[0]["reason"]


@pytest.fixture
def no_network(monkeypatch):
    """Any connection beyond this machine fails loudly."""
    real = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1")
                                          or host.startswith("/")):
            raise OSError(f"network access attempted: {address}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.slow
def test_the_general_check_runs_offline_and_gives_the_same_verdicts_twice(no_network):
    from tuneline.params import EvalParams, JudgeParams, LLMParams
    from tuneline.ship import evaluate

    params = EvalParams(general_prompts=6, general_max_new_tokens=48, max_new_tokens=16)
    general, _ = general_check.load_prompts(None, params.general_prompts)
    runs = []
    for _ in range(2):
        llm, model, tok = evaluate.model_loader({"base": BASE}, LLMParams(), params)("base", [])
        metrics, rows = evaluate.evaluate_model(llm, model, tok, [], general, llm, JudgeParams(), params,
                                                "base")
        runs.append((metrics, [(r["answer"], r["followed"]) for r in rows]))
    assert runs[0] == runs[1]
    metrics, replies = runs[0]
    assert metrics["general_prompts"] == 6 and 0 <= metrics["instruction_following"] <= 1
    assert all(answer.strip() for answer, _ in replies)


def test_the_batched_answer_loss_equals_one_pair_at_a_time():
    from tuneline.ship.evaluate import completion_losses
    from tuneline.train import trl_backend

    model, tok = trl_backend.load_model(BASE, [], "cpu")
    pairs = [make_pair(i, q, a) for i, (q, a) in enumerate([
        ("What is LoRA?", "A low-rank adapter trained beside frozen weights."),
        ("Why pack sequences?", "Packing fills each row with several examples, so fewer "
                                "tokens are padding and each step trains on more text."),
        ("What does DPO need?", "Pairs of a chosen and a rejected answer to the same prompt."),
    ])]
    batched = completion_losses(model, tok, pairs, batch_size=3)
    single = [completion_losses(model, tok, [p], batch_size=1)[0] for p in pairs]
    assert [n for _, n in batched] == [n for _, n in single]
    for (b, _), (s, _) in zip(batched, single):
        assert math.isclose(b, s, rel_tol=1e-4)
    # the answer tokens only: the count is the answer's tokens plus the end of turn
    answer_ids = tok(pairs[0].answer, add_special_tokens=False)["input_ids"]
    assert len(answer_ids) < batched[0][1] <= len(answer_ids) + 3


def _rows():
    out = []
    for i, (base_loss, tuned_loss) in enumerate([(2.0, 1.9), (2.0, 1.0), (2.0, 2.5)]):
        for model, loss in (("base", base_loss), ("tuned", tuned_loss)):
            out.append({"model": model, "suite": "test", "item_id": f"t{i}",
                        "instruction": f"Question {i} <b>?", "answer": f"{model} answer {i}",
                        "reference": f"reference {i}", "judge_score": 3.0, "loss_sum": loss * 10,
                        "tokens": 10})
    for i, (b, t) in enumerate([(1, 1), (1, 0)]):
        for model, f in (("base", b), ("tuned", t)):
            out.append({"model": model, "suite": "general", "item_id": f"g{i}",
                        "instruction": f"General {i}", "answer": f"{model} reply",
                        "followed": f, "instructions": 1, "missed": "" if f else "punctuation:no_comma"})
    return out


def test_the_side_by_side_view_holds_every_prompt_ordered_by_the_largest_change():
    page = comparison.render(_rows(), {"base": {"eval_loss": 2.0}, "tuned": {"eval_loss": 1.8}})
    test_rows = re.findall(r"<tr id='test-(t\d)'>", page)
    assert test_rows == ["t1", "t2", "t0"]  # |1.0|, |0.5|, |0.1| per token
    assert re.findall(r"<tr id='general-(g\d)'>", page) == ["g1", "g0"]
    assert "Question 1 &lt;b&gt;?" in page and "<script" not in page  # escaped, script-free
    assert "base answer 1" in page and "tuned answer 1" in page and "reference 1" in page
    assert "missed punctuation:no_comma" in page and "loss/token 1.000" in page


GSM8K_LIKE = [  # gsm8k's format: a question, a worked answer ending in "#### N"
    ("Tom has 3 apples and buys 4 more. How many apples does he have?", "3 + 4 = 7.\n#### 7"),
    ("A box holds 12 pencils. How many pencils are in 3 boxes?", "3 * 12 = 36.\n#### 36"),
    ("Sara reads 10 pages a day. How many pages does she read in a week?", "7 * 10 = 70.\n#### 70"),
    ("There are 25 students and 5 leave. How many remain?", "25 - 5 = 20.\n#### 20"),
    ("Ben runs 2 miles each morning and 3 each evening. How far is that a day?", "2 + 3 = 5.\n#### 5"),
    ("A cake is cut into 8 slices and 3 are eaten. How many are left?", "8 - 3 = 5.\n#### 5"),
]


def gsm8k_files(tmp_path):
    files = {}
    for split, rows in (("train", GSM8K_LIKE[:3]), ("test", GSM8K_LIKE[3:])):
        files[split] = tmp_path / f"{split}.jsonl"
        files[split].write_text("".join(json.dumps({"question": q, "answer": a}) + "\n"
                                        for q, a in rows))
    return {k: str(v) for k, v in files.items()}


@pytest.mark.slow
def test_a_benchmark_from_local_files_is_scored_item_by_item_through_lm_eval(tmp_path, no_network):
    from tuneline.params import EvalParams, HarnessTask, JudgeParams, LLMParams
    from tuneline.ship import evaluate, promotion

    task = HarnessTask(task="gsm8k", data_files=gsm8k_files(tmp_path), num_fewshot=2, limit=3,
                       max_new_tokens=48)
    params = EvalParams(general_prompts=0, batch_size=4, benchmarks=[task])
    llm, model, tok = evaluate.model_loader({"base": BASE}, LLMParams(), params)("base", [])
    metrics, rows = evaluate.evaluate_model(llm, model, tok, [], [], llm, JudgeParams(), params,
                                            "base")
    assert [r["item_id"] for r in rows] == ["gsm8k:0", "gsm8k:1", "gsm8k:2"]
    assert all(r["score"] in (0.0, 1.0) and r["suite"] == "benchmark" for r in rows)
    # the harness's own prompt: two solved examples from the train file, then the test question
    assert rows[0]["instruction"].count("Question:") == 3
    assert "There are 25 students and 5 leave" in rows[0]["instruction"]
    assert metrics["benchmarks"] == metrics["benchmark:gsm8k"] == round(
        sum(r["score"] for r in rows) / 3, 4) and metrics["benchmark_items"] == 3
    items = promotion.items_from_rows(rows)["benchmarks"]["base"]
    assert items == {r["item_id"]: (r["score"], 1.0) for r in rows}


@pytest.mark.slow  # lm-eval indexes its ~10k task files first (8 s)
def test_a_benchmark_whose_local_file_is_missing_or_task_unknown_is_an_error(tmp_path):
    from tuneline.params import HarnessTask
    from tuneline.ship import harness

    missing = HarnessTask(task="gsm8k", data_files={"test": str(tmp_path / "nope.jsonl")})
    with pytest.raises(FileNotFoundError, match=r"benchmarks\[gsm8k\].data_files.test: .*nope"):
        harness.run(None, None, [missing], 1)
    unknown = HarnessTask(task="no_such_task", data_files=gsm8k_files(tmp_path))
    with pytest.raises(ValueError, match="'no_such_task' is not a task of lm-evaluation-harness"):
        harness.run(None, None, [unknown], 1)
