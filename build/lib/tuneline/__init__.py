"""tuneline: raw text to a fine-tuned, aligned, registered LLM, as ZenML pipelines.

The `tuneline` package is the pure core: it never imports zenml, except in
`tuneline.zenml_ext`, the one subpackage that adapts ZenML; neither imports `steps`,
`pipelines` or the application layer (`tuneline_app`: the CLI, the config checker, `serve`).
tests/test_layers.py keeps it so.
"""

__version__ = "0.1.0"
