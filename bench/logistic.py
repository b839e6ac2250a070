"""Logistic regression with sign bounds on its weights (the scorer's training; inference is rag.answering.scorer).

The objective is scikit-learn's (C times the weighted log-loss plus half the squared weights, intercept not
penalised), minimised by L-BFGS-B with each weight bounded to >= 0, <= 0 or free. Features are standardised and
clipped as the product does (`scorer.standardise`), so the weights fit what inference computes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.answering.scorer import LogisticModel, standardise


def fit_bounded(X: np.ndarray, y: np.ndarray, weights: np.ndarray, signs: Sequence[int], C: float) -> LogisticModel:
    """Fit P(y=1 | x); `signs[j]` is +1 (weight j >= 0), -1 (<= 0) or 0 (free)."""
    from scipy.optimize import minimize

    mean, scale = X.mean(0), X.std(0)
    scale[scale == 0] = 1.0
    Z = standardise(X, mean, scale)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef, intercept = theta[:-1], theta[-1]
        z = Z @ coef + intercept
        # log(1 + e^z) - y z, computed stably; its gradient is sigmoid(z) - y.
        value = float(C * np.sum(w * (np.logaddexp(0.0, z) - y * z)) + 0.5 * coef @ coef)
        residual = C * w * (1.0 / (1.0 + np.exp(-z)) - y)
        return value, np.append(Z.T @ residual + coef, residual.sum())

    bounds = [(0.0, None) if s > 0 else (None, 0.0) if s < 0 else (None, None) for s in signs] + [(None, None)]
    result = minimize(loss, np.zeros(Z.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 5000})
    return LogisticModel((), mean, scale, result.x[:-1], float(result.x[-1]))
