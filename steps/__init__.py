"""ZenML steps: thin wrappers that call the core in `tuneline`, log metadata and return artifacts."""
