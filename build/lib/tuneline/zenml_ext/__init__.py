"""The one subpackage that extends ZenML: materializers, config checks, registry and lineage queries, stack recipes, the GPU step operator, `tuneline serve`."""
