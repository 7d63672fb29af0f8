"""tuneline: raw text to a fine-tuned, aligned, registered LLM, as ZenML pipelines.

The `tuneline` package is the pure core: it never imports zenml, except in
`tuneline.zenml_ext`, the one subpackage that extends ZenML.
"""

__version__ = "0.1.0"
