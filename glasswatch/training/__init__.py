"""Training-side tooling: the example pipeline, its quality gate and the lineage checklist."""
