"""The one subpackage that extends ZenML (materializers; later the step operator and lineage)."""
