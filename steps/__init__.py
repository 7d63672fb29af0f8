"""ZenML steps: thin wrappers that call the core in `tuneline`, log metadata and return artifacts."""

import tuneline.zenml_ext.materializers  # noqa: F401  (registers the hashed DataFrame materializer)
