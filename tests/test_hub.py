import pytest

from tests.hub_endpoint import HubRecorder
from tuneline.ship import cards, hub
from tuneline.train.adapters import combine_adapters

BASE = "bundled:smollm2-135m-instruct"
IDS = [[1, 504, 3458, 282, 253, 1345, 28, 2]]
RECORD = {
    "base_model": "bundled:smollm2-135m-instruct", "model": "support-bot", "version": 3,
    "run": "retrain-2026_11_23",
    "datasets": {"train_pairs": {"version": "7", "rows": 30, "content_hash": "ab" * 32},
                 "test_pairs": {"version": "7", "rows": 7, "content_hash": "cd" * 32}},
    "hyperparameters": {"sft": {"learning_rate": 2e-4, "lora": {"r": 16, "alpha": 16}},
                        "dpo": {"beta": 0.1}},
    "eval_metrics": {"eval_loss": 2.651, "judge_score": 2.98, "examples": 7},
    "base_eval_metrics": {"eval_loss": 2.761, "judge_score": 3.03, "examples": 7},
    "promotion": {"stage": "production", "reason": "eval_loss 2.6510 beats the base model 2.7610"},
}


def test_hub_ids_of_base_models(tmp_path):
    assert cards.hub_id("bundled:smollm2-135m-instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert cards.hub_id("meta-llama/Llama-3.1-8B") == "meta-llama/Llama-3.1-8B"
    assert cards.hub_id(str(tmp_path)) is None  # a local folder has no Hub id


def test_model_card_has_data_hashes_hyperparameters_and_eval_table():
    card = cards.model_card("acme/bot", RECORD, "merged", "Answer support questions.", "apache-2.0")
    front = card.split("---")[1]
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in front
    assert "license: apache-2.0" in front and "library_name: transformers" in front
    assert f"| train_pairs | 7 | 30 | `{'ab' * 32}` |" in card
    assert "| lora.r | 16 |" in card and "| beta | 0.1 |" in card
    assert "| eval_loss | 2.7610 | 2.6510 |" in card and "(7 examples" in card
    assert "Answer support questions." in card and "support-bot` version 3" in card
    assert 'AutoModelForCausalLM.from_pretrained("acme/bot")' in card
    adapter_card = cards.model_card("acme/bot", RECORD, "adapter", "x")
    assert "library_name: peft" in adapter_card and "AutoPeftModelForCausalLM" in adapter_card


def test_missing_token_names_the_variable(monkeypatch):
    monkeypatch.delenv("MY_HF_TOKEN", raising=False)
    with pytest.raises(PermissionError, match="MY_HF_TOKEN"):
        hub.read_token("MY_HF_TOKEN")


def test_upload_commits_every_file_to_the_endpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a configured push still goes out
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n# card\n")
    (tmp_path / "weights.bin").write_bytes(bytes(range(256)) * 40)
    with HubRecorder() as rec:
        out = hub.upload(tmp_path, "acme/bot", "hf_secret", True, rec.url, "tuneline: v1")
    assert rec.lfs["weights.bin"]["path"].read_bytes() == bytes(range(256)) * 40  # via Git LFS
    assert rec.files["README.md"].startswith(b"---\nlicense: mit")
    assert rec.repos["acme/bot"]["visibility"] == "private"
    assert rec.commits[0]["summary"] == "tuneline: v1" and out["commit"] == rec.commits[0]["oid"]
    # the token goes to the Hub's API, never to the storage URL the LFS bytes are PUT to
    assert all(r["headers"]["authorization"] == "Bearer hf_secret"
               for r in rec.requests if r["method"] != "PUT")
    assert [r for r in rec.requests if r["method"] == "PUT"]
    assert not any("authorization" in r["headers"] for r in rec.requests if r["method"] == "PUT")
    assert "hf_secret" not in str(out)


@pytest.fixture(scope="module")
def two_adapters(tmp_path_factory):
    """Two random LoRA adapters (different ranks, alphas, scalings) on the bundled SmolLM2."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tuneline import models

    tmp = tmp_path_factory.mktemp("adapters")
    paths = []
    for i, (r, alpha, rslora) in enumerate([(8, 16, True), (4, 4, False)]):
        torch.manual_seed(i)
        m = AutoModelForCausalLM.from_pretrained(models.resolve(BASE))
        # init_lora_weights=False: random B too, so each adapter really changes the model
        peft = get_peft_model(m, LoraConfig(r=r, lora_alpha=alpha, target_modules="all-linear",
                                            use_rslora=rslora, init_lora_weights=False))
        for n, p in peft.named_parameters():
            if "lora_B" in n:
                p.data *= 0.05
        peft.save_pretrained(tmp / f"a{i}")
        paths.append(tmp / f"a{i}")
    return paths


def _logits(model):
    import torch

    with torch.no_grad():
        return model(torch.tensor(IDS)).logits.float()


@pytest.mark.slow  # merges adapters into the bundled model
def test_combined_adapter_equals_applying_the_adapters_in_order(two_adapters, tmp_path):
    """The one adapter pushed in `adapter` mode must be the model that was evaluated."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from tuneline import models
    from tuneline.train import trl_backend

    combine_adapters(BASE, two_adapters, tmp_path / "combined", "HuggingFaceTB/SmolLM2-135M-Instruct")
    sequential, _ = trl_backend.load_model(BASE, two_adapters)
    combined = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(models.resolve(BASE)), str(tmp_path / "combined"))
    plain, _ = trl_backend.load_model(BASE, [])
    want, got, before = _logits(sequential), _logits(combined), _logits(plain)
    assert (want - before).abs().max() > 0.1  # the adapters matter...
    assert torch.allclose(got, want, atol=2e-3, rtol=0)  # ...and the combination is exact


@pytest.mark.slow  # merges adapters into the bundled model
def test_merged_folder_is_a_standalone_bf16_model_with_the_card(two_adapters, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuneline.train import trl_backend

    out = hub.build_folder(tmp_path / "up", BASE, two_adapters, "merged", "---\n---\n# card\n")
    names = {p.name for p in out.iterdir()}
    assert {"README.md", "config.json", "model.safetensors", "tokenizer.json"} <= names
    assert (out / "README.md").read_text() == "---\n---\n# card\n"
    merged = AutoModelForCausalLM.from_pretrained(str(out))
    assert merged.dtype == torch.bfloat16
    AutoTokenizer.from_pretrained(str(out))
    want = _logits(trl_backend.load_model(BASE, two_adapters)[0])
    assert (_logits(merged) - want).abs().max() < 0.1 * want.abs().max()  # bf16 rounding only


def test_dataset_folder_loads_by_its_card_configs_and_the_card_names_sources_and_drops(tmp_path):
    import datasets

    from tuneline.records import Pair, Preference

    pairs = [Pair(f"p{i}", "c", "guide.md", f"What does step {i} do?", f"Step {i} checks the data.", 4.0)
             for i in range(3)]
    splits = {"train_pairs": pairs[:2], "test_pairs": pairs[2:], "test_preferences": [],
              "train_preferences": [Preference("p0", pairs[0].instruction, pairs[0].answer, "No.", 4.0, 1.5)]}
    curation = {"funnel": [["raw files", 1], ["train pairs", 2]],
                "dropped": {"filter": {"refusal": 2}, "grounding": {"unsupported_by_source": 1}}}
    card = cards.dataset_card("acme/qa", splits, [{"path": "guide.md", "size": 120, "sha256": "ef" * 32}],
                            curation, {"filter_pairs.filtering": {"min_answer_words": 3}},
                            {"name": "run-1", "id": "0" * 8, "pipeline": "dataset_pipeline"},
                            None, "Pairs about the guide.", None)
    folder = hub.dataset_folder(tmp_path / "repo", splits, card)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*.parquet")) == [
        "preferences/train.parquet", "sft/test.parquet", "sft/train.parquet"]  # no empty split
    cache = str(tmp_path / "hf-datasets-cache")  # not ~/.cache: it is keyed by folder name
    sft = datasets.load_dataset(str(folder), "sft", cache_dir=cache)
    assert sft["train"]["instruction"] == [p.instruction for p in pairs[:2]] and len(sft["test"]) == 1
    prefs = datasets.load_dataset(str(folder), "preferences", cache_dir=cache)["train"][0]
    assert prefs["rejected"] == [{"role": "assistant", "content": "No."}] and prefs["rejected_score"] == 1.5
    assert "license: unknown" in card and f"| guide.md | 120 | `{'ef' * 32}` |" in card
    assert "| filter | refusal | 2 |" in card and "| grounding | unsupported_by_source | 1 |" in card
    assert "| min_answer_words | 3 |" in card and "| preferences | test | 0 |" in card
