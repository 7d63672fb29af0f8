from tuneline.llm import make_llm
from tuneline.llm.cache import CallCache, cached_calls, call_keys
from tuneline.params import LLMParams
from tuneline.train.formats import user_chat

ID = {"backend": "fake", "model": "m"}


def counting_run(chats, log):
    def run(todo):
        log.append(list(todo))
        for start in range(0, len(todo), 2):  # finishes in groups, as a backend would
            idx = todo[start:start + 2]
            yield idx, [f"reply to {chats[i][0]['content']}" for i in idx]
    return run


def test_second_run_pays_only_for_new_calls(tmp_path):
    cache = CallCache(tmp_path / "calls.sqlite")
    chats = [user_chat(q) for q in ("a", "b", "c")]
    log, usage = [], {}
    first = cached_calls(cache, ID, "generate", chats, {"t": 0}, counting_run(chats, log), usage)
    assert first == ["reply to a", "reply to b", "reply to c"] and log == [[0, 1, 2]]
    more = chats + [user_chat("d")]
    again = cached_calls(cache, ID, "generate", more, {"t": 0}, counting_run(more, log), usage)
    assert again[:3] == first and log[-1] == [3]
    assert usage == {"calls": 4, "cached_calls": 3}
    assert len(cache) == 4


def test_keys_separate_params_models_and_repeated_samples():
    chats = [user_chat("same"), user_chat("same")]
    k1, k2 = call_keys(ID, "generate", chats, {"temperature": 0.7})
    assert k1 != k2  # two samples of one prompt are two calls
    assert k1 != call_keys(ID, "generate", chats[:1], {"temperature": 0.0})[0]
    assert k1 != call_keys({"backend": "fake", "model": "other"}, "generate", chats[:1],
                           {"temperature": 0.7})[0]
    assert k1 == call_keys(ID, "generate", chats[:1], {"temperature": 0.7})[0]


def test_results_are_stored_as_they_finish(tmp_path):
    """A crash mid-run keeps the finished groups (what kill -9 relies on)."""
    cache = CallCache(tmp_path / "calls.sqlite")
    chats = [user_chat(str(i)) for i in range(6)]

    def dies_after_two_groups(todo):
        for n, start in enumerate(range(0, len(todo), 2)):
            if n == 2:
                raise KeyboardInterrupt
            yield todo[start:start + 2], ["ok", "ok"]

    try:
        cached_calls(cache, ID, "generate", chats, {}, dies_after_two_groups, {})
    except KeyboardInterrupt:
        pass
    assert len(cache) == 4


def test_real_model_regeneration_is_served_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNELINE_CALL_CACHE", str(tmp_path / "calls.sqlite"))
    llm = make_llm(LLMParams(batch_size=4))
    chats = [user_chat("Name a color."), user_chat("Name an animal.")]
    first = llm.generate(chats, max_new_tokens=8)
    again = make_llm(LLMParams(batch_size=4))
    assert again.generate(chats, max_new_tokens=8) == first
    assert again.usage == {"calls": 0, "cached_calls": 2}
    assert llm.usage["calls"] == 2 and llm.usage["completion_tokens"] > 0


def test_a_machine_with_an_empty_local_cache_reuses_calls_through_the_shared_folder(tmp_path):
    from tuneline.llm.shared import FolderStore, Tiered

    shared = FolderStore(str(tmp_path / "artifact-store" / "llm-calls"))
    chats = [user_chat(q) for q in ("a", "b", "c")]
    log, usage = [], {}
    first_machine = Tiered(CallCache(tmp_path / "one.sqlite"), shared)
    first = cached_calls(first_machine, ID, "generate", chats, {"t": 0}, counting_run(chats, log), usage)
    # a fresh container: nothing on its disk, the stack's folder as it was left
    second_machine = Tiered(CallCache(tmp_path / "two.sqlite"), shared)
    usage2 = {}
    again = cached_calls(second_machine, ID, "generate", chats, {"t": 0},
                         counting_run(chats, log), usage2)
    assert again == first and usage2 == {"calls": 0, "cached_calls": 3} and len(log) == 1
    assert len(second_machine.local) == 3  # copied to the local tier on the way
    assert len(list((tmp_path / "artifact-store" / "llm-calls").rglob("*.json"))) == 3


def test_a_cut_short_shared_entry_is_computed_again_not_an_error(tmp_path):
    from tuneline.llm.shared import FolderStore

    shared = FolderStore(str(tmp_path / "calls"))
    key = call_keys(ID, "generate", [user_chat("a")], {})[0]
    shared.put_many({key: "reply"})
    assert shared.get_many([key]) == {key: "reply"}
    path = tmp_path / "calls" / key[:2] / f"{key}.json"
    path.write_text(path.read_text()[:10])  # a writer that died mid-file on a store without renames
    assert shared.get_many([key]) == {}
    assert not list((tmp_path / "calls").rglob("*.tmp"))
