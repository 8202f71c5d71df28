"""Multinomial logistic regression over a sparse n-gram block and a dense embedding block, fitted
by SciPy's L-BFGS-B.

Why not ``sklearn.linear_model.LogisticRegression``: on CLINC150 (15,100 rows, ~53,000 n-gram
columns, 151 classes: 8 million weights) it needs one sparse matrix holding the 384 embedding
columns as well, and multiplies them through sparse code. Here the loss and gradient are our own,
with the embedding block multiplied by dense BLAS; only the minimisation is SciPy's, called
through ``scipy.optimize.minimize`` directly because scikit-learn's wrapper around the same
solver takes no such block split. The objective is the one scikit-learn minimises (mean
cross-entropy plus ``||W||² / (2 C n)``), so ``C`` means the same, and so do the stopping
settings.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, sparse

FloatArray = NDArray[np.float64]
# Pairs of steps and gradient changes the L-BFGS direction remembers: each pair is two vectors
# of 8 million weights, and every iteration passes over all of them.
MEMORY = 7


@dataclass
class SoftmaxModel:
    """What prediction needs: the classes and one weight row per class (n-grams, then
    embeddings)."""

    classes_: NDArray[np.str_]
    coef_: NDArray[np.float32]
    intercept_: FloatArray
    n_iter_: int = 0


def fit(
    words: sparse.csr_matrix,
    dense: FloatArray | None,
    labels: list[str],
    *,
    c: float,
    max_iter: int,
    tol: float = 1e-4,
) -> SoftmaxModel:
    """Weights minimising the regularised cross-entropy of ``labels`` given the features, until
    the largest gradient component is at most ``tol`` or after ``max_iter`` iterations."""
    classes, y = np.unique(np.asarray(labels), return_inverse=True)
    n, n_words = words.shape
    embedded = np.zeros((n, 0)) if dense is None else dense
    n_dense = embedded.shape[1]
    k = len(classes)
    rows = np.arange(n)
    words_t = words.T.tocsr()
    reg = 1.0 / (c * n)
    n_weights = (n_words + n_dense) * k

    def loss_and_gradient(theta: FloatArray) -> tuple[float, FloatArray]:
        weights = theta[:n_weights].reshape(n_words + n_dense, k)
        by_word, by_dense = weights[:n_words], weights[n_words:]
        logits = np.asarray(words @ by_word) + embedded @ by_dense + theta[n_weights:]
        top = logits.max(axis=1, keepdims=True)
        exp = np.exp(logits - top)
        total = exp.sum(axis=1, keepdims=True)
        log_norm = np.log(total[:, 0]) + top[:, 0]
        loss = float((log_norm - logits[rows, y]).mean()) + 0.5 * reg * float(
            np.vdot(weights, weights)
        )
        residual = exp / total
        residual[rows, y] -= 1.0
        residual /= n
        gradient = np.empty_like(theta)
        grad_weights = gradient[:n_weights].reshape(n_words + n_dense, k)
        grad_weights[:n_words] = words_t @ residual
        grad_weights[n_words:] = embedded.T @ residual
        grad_weights += reg * weights
        gradient[n_weights:] = residual.sum(axis=0)
        return loss, gradient

    result = optimize.minimize(
        loss_and_gradient,
        np.zeros(n_weights + k),
        method="L-BFGS-B",
        jac=True,
        # As scikit-learn's lbfgs solver: stop on the gradient, hardly ever on a flat loss.
        options={
            "maxiter": max_iter,
            "maxcor": MEMORY,
            "gtol": tol,
            "ftol": 64 * np.finfo(float).eps,
            "maxls": 50,
        },
    )
    theta = result.x
    coef = theta[:n_weights].reshape(n_words + n_dense, k).T.astype(np.float32)
    return SoftmaxModel(classes, coef, theta[n_weights:].copy(), int(result.nit))
