"""glasswatch.drift: batch drift of production windows against the registered reference, and
concept drift from delayed labels. Pure but for the Evidently call; MLflow is reached through the
:class:`~glasswatch.drift.reference.ReferenceStore` Protocol (implemented in ``training/``)."""
