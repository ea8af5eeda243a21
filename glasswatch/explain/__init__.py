"""Explanations: sampling, local SHAP explainers, attribution profiles and attribution drift.

Pure but for shap (and the scikit-learn models it explains): no Kafka, no MLflow. The explain
process (:mod:`glasswatch.agents.explain`) feeds it; training (:mod:`glasswatch.training.explain`)
computes the training-time profile with the same explainers, so the two are comparable.
"""

from __future__ import annotations

__all__: list[str] = []
