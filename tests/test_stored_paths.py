"""What ZenML stores with an artifact are import paths: its materializer's and its data type's.
Artifacts written before a move of tuneline's modules load after it only while those paths
still import. tuneline's own materializer stays at the path every earlier version stored (the
move into stage folders left `tuneline/zenml_ext/` and the shared vocabulary where they were),
and no artifact holds a tuneline type: data frames, dicts, paths and HTML."""

import pandas as pd

# what every version since the content-hashed data frames stored with each data frame artifact
STORED_MATERIALIZER = "tuneline.zenml_ext.materializers.HashedDataFrameMaterializer"
STORED_DATA_TYPE = "pandas.DataFrame"


def test_an_artifact_stored_under_the_earlier_paths_loads_and_new_ones_store_the_same_paths():
    from zenml import load_artifact, save_artifact
    from zenml.client import Client
    from zenml.utils import source_utils

    from tuneline.zenml_ext.materializers import HashedDataFrameMaterializer

    frame = pd.DataFrame({"instruction": ["What does tar -x do?"], "answer": ["It extracts."]})
    saved = save_artifact(frame, name="stored-paths-probe", materializer=HashedDataFrameMaterializer)
    version = Client().get_artifact_version(saved.id)
    assert version.materializer.import_path == STORED_MATERIALIZER
    assert version.data_type.import_path == STORED_DATA_TYPE
    # what ZenML does with the stored strings when an old artifact is loaded
    assert source_utils.load(STORED_MATERIALIZER) is HashedDataFrameMaterializer
    assert source_utils.load(STORED_DATA_TYPE) is pd.DataFrame
    assert load_artifact(saved.id).equals(frame)


def test_every_step_output_is_a_frame_a_dict_a_path_or_html_not_a_tuneline_type():
    import typing
    from pathlib import Path

    from zenml.types import HTMLString

    from tuneline_steps import all_steps

    for name, step in all_steps().items():
        hints = typing.get_type_hints(step.entrypoint, include_extras=True)
        out = hints["return"]
        outs = typing.get_args(out) if typing.get_origin(out) is tuple else (out,)
        for o in outs:
            base = typing.get_args(o)[0] if typing.get_origin(o) is typing.Annotated else o
            if base is type(None):  # a step with no output stores nothing
                continue
            assert base in (pd.DataFrame, dict, Path, HTMLString), (name, base)
