"""A step's cache key covers the core modules it runs, found by following imports."""

from tuneline.cachedeps import source_closure


def test_the_closure_follows_imports_at_module_top_and_inside_functions():
    grounding = source_closure("tuneline.grounding")
    # grounding -> dedup -> minhash, text, params, records
    assert {"tuneline.grounding", "tuneline.dedup", "tuneline.minhash", "tuneline.text",
            "tuneline.params", "tuneline.records"} <= set(grounding)
    # backends are imported where they are chosen, inside functions: both are covered
    assert {"tuneline.train.trl_backend", "tuneline.train.unsloth_backend",
            "tuneline.train.common"} <= set(source_closure("tuneline.train"))
    assert {"tuneline.llm.openai_backend", "tuneline.llm.transformers_backend",
            "tuneline.llm.cache"} <= set(source_closure("tuneline.llm"))


def test_the_closure_stays_in_the_core_and_accepts_modules():
    import tuneline.judge

    names = source_closure(tuneline.judge)
    assert names == sorted(names) and "tuneline.judge" in names
    assert all(n == "tuneline" or n.startswith("tuneline.") for n in names)
    assert not any(n.startswith("tuneline.zenml_ext") for n in names)
