"""The intent classifier: pure, no database. Word and character n-gram TF-IDF, optionally joined by
offline sentence embeddings, into a multinomial logistic regression whose probabilities are the
confidence; a request whose best in-scope intent is below the threshold is out of scope.

Character n-grams keep a Spanish and an English wording of one intent close (shared stems,
typos, missing accents), so one model serves a mixed-language tenant.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn import config_context
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from threadpoolctl import ThreadpoolController

from centralita.nlu import embeddings, softmax
from centralita.nlu.progress import Report, Steps

OOS = "oos"
DEFAULT_THRESHOLD = 0.5
# How much the 384 embedding dimensions weigh against the two unit-length TF-IDF blocks.
EMBEDDING_WEIGHT = 1.5
# One BLAS thread: on a busy machine, spinning worker threads made a fit of 74 examples take 9 s
# instead of 0.2 s, and a prediction is too small to share.
_threads = ThreadpoolController()


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    locale: str | None = None


@dataclass(frozen=True)
class Prediction:
    # OOS when no intent is likely enough.
    intent: str
    # Probability of the best in-scope intent (0..1), even when the request is out of scope.
    confidence: float
    best: str


class NotEnoughExamples(ValueError):
    """Training needs at least two in-scope intents, each with an example."""


def _vectorizers(n_texts: int) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    # Kept apart rather than in a FeatureUnion: its parallel dispatch cost more than the
    # transform itself on a single request.
    # One-letter words count too ("4G", "y"): a short request has few words to spare.
    single_letters = r"\b\w+\b"
    words = TfidfVectorizer(
        strip_accents="unicode", ngram_range=(1, 2), sublinear_tf=True, token_pattern=single_letters
    )
    chars = TfidfVectorizer(
        strip_accents="unicode",
        analyzer="char_wb",
        ngram_range=(2, 5),
        sublinear_tf=True,
        # A character sequence seen once in a large set is noise; a small set has few repeats.
        min_df=2 if n_texts >= 200 else 1,
        max_features=150_000,
    )
    return words, chars


class LinearModel(Protocol):
    """A fitted :class:`softmax.SoftmaxModel` (or, in models stored before it, scikit-learn's
    ``LogisticRegression``): one weight row per class."""

    classes_: NDArray[Any]
    coef_: NDArray[Any]
    intercept_: NDArray[np.float64]


@dataclass
class IntentClassifier:
    vectorizers: tuple[TfidfVectorizer, TfidfVectorizer]
    model: LinearModel
    uses_embeddings: bool
    threshold: float = DEFAULT_THRESHOLD
    train_seconds: float = 0.0
    _in_scope: NDArray[np.bool_] = field(init=False, repr=False)
    # One row per feature, C-ordered: a request gathers the rows of its few n-grams.
    _weights: NDArray[np.float32] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._prepare()

    def _prepare(self) -> None:
        self._in_scope = np.asarray(self.model.classes_) != OOS
        self._weights = np.ascontiguousarray(self.model.coef_.T, dtype=np.float32)

    def __getstate__(self) -> dict[str, Any]:
        # Derived from the model: not stored twice.
        return {k: v for k, v in vars(self).items() if k not in ("_in_scope", "_weights")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self._prepare()

    @property
    def intents(self) -> list[str]:
        return [str(c) for c in self.model.classes_ if c != OOS]

    def _logits(self, texts: Sequence[str]) -> NDArray[np.float64]:
        words = _ngrams(self.vectorizers, texts)
        n_words = words.shape[1]
        if len(texts) == 1:
            # One request: the weight rows of its few n-grams, not a product over all of them.
            row = self._weights[words.indices].T @ words.data
            logits = np.asarray(row, dtype=np.float64)[np.newaxis, :]
        else:
            logits = np.asarray(words @ self._weights[:n_words], dtype=np.float64)
        if self.uses_embeddings:
            dense = embeddings.encode(list(texts)) * EMBEDDING_WEIGHT
            logits += dense @ self._weights[n_words:]
        return logits + self.model.intercept_

    def best_in_scope(self, texts: Sequence[str]) -> tuple[list[str], NDArray[np.float64]]:
        """Each text's most likely in-scope intent and its probability."""
        # The inputs are strings this code passed in: sklearn's per-call checks only cost time.
        unchecked = config_context(assume_finite=True, skip_parameter_validation=True)
        with _threads.limit(limits=1), unchecked:
            probabilities = _softmax(self._logits(texts))
        in_scope = probabilities[:, self._in_scope]
        names = np.asarray(self.model.classes_)[self._in_scope]
        best = in_scope.argmax(axis=1)
        return [str(names[i]) for i in best], in_scope[np.arange(len(best)), best]

    def predict_many(
        self, texts: Sequence[str], threshold: float | None = None
    ) -> list[Prediction]:
        limit = self.threshold if threshold is None else threshold
        names, confidence = self.best_in_scope(texts)
        return [
            Prediction(name if p >= limit else OOS, float(p), name)
            for name, p in zip(names, confidence, strict=True)
        ]

    def predict(self, text: str, threshold: float | None = None) -> Prediction:
        return self.predict_many([text], threshold)[0]

    @classmethod
    def fit(
        cls,
        examples: Sequence[Example],
        *,
        use_embeddings: bool = True,
        threshold: float = DEFAULT_THRESHOLD,
        progress: bool = False,
        memo: dict[str, NDArray[np.float64]] | None = None,
        report: Report | None = None,
    ) -> "IntentClassifier":
        """Train on ``examples``; rows whose intent is ``oos`` teach what is out of scope.
        Embeddings are used when asked for and installed; ``memo`` keeps them across fits."""
        intents = {e.intent for e in examples if e.intent != OOS}
        if len(intents) < 2:
            raise NotEnoughExamples("at least two intents with examples are needed")
        started = perf_counter()
        with_embeddings = use_embeddings and embeddings.available()
        texts = [e.text for e in examples]
        with Steps(progress, report) as steps, _threads.limit(limits=1):
            steps.step("n-grams", 1)
            vectorizers = _vectorizers(len(texts))
            try:
                for vectorizer in vectorizers:
                    vectorizer.fit(texts)
            except ValueError:
                raise NotEnoughExamples("the examples hold no words") from None
            steps.advance()
            words = _ngrams(vectorizers, texts)
            dense = (
                embeddings.encode(texts, steps, memo) * EMBEDDING_WEIGHT
                if with_embeddings
                else None
            )
            steps.step("model", 1)
            model = softmax.fit(words, dense, [e.intent for e in examples], c=20.0, max_iter=300)
            steps.advance()
        trained = cls(vectorizers, model, with_embeddings, threshold=threshold)
        trained.train_seconds = perf_counter() - started
        return trained


def _softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    if logits.shape[1] == 1:
        positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.column_stack([1.0 - positive, positive])
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    result: NDArray[np.float64] = exp / exp.sum(axis=1, keepdims=True)
    return result


def _ngrams(
    vectorizers: tuple[TfidfVectorizer, TfidfVectorizer], texts: Sequence[str]
) -> sparse.csr_matrix:
    return sparse.csr_matrix(sparse.hstack([v.transform(texts) for v in vectorizers]))


@dataclass(frozen=True)
class Metrics:
    n: int
    accuracy: float
    macro_f1: float
    in_scope_accuracy: float
    oos_recall: float
    oos_precision: float


def score(truth: Sequence[str], predicted: Sequence[str]) -> Metrics:
    """Accuracy over all rows, macro F1 over the labels present (``oos`` included), in-scope
    accuracy (an in-scope row predicted ``oos`` is wrong), and recall and precision of ``oos``."""
    pairs = list(zip(truth, predicted, strict=True))
    in_scope = [(t, p) for t, p in pairs if t != OOS]
    said_oos = [t for t, p in pairs if p == OOS]
    oos_rows = [p for t, p in pairs if t == OOS]
    labels = sorted(set(truth))
    return Metrics(
        n=len(pairs),
        accuracy=_share(t == p for t, p in pairs),
        macro_f1=_macro_f1(truth, predicted, labels) if pairs else 0.0,
        in_scope_accuracy=_share(t == p for t, p in in_scope),
        oos_recall=_share(p == OOS for p in oos_rows),
        oos_precision=_share(t == OOS for t in said_oos),
    )


def _macro_f1(truth: Sequence[str], predicted: Sequence[str], labels: list[str]) -> float:
    return float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0))


def _share(hits: Iterable[bool]) -> float:
    values = list(hits)
    return sum(values) / len(values) if values else 0.0


def decide(names: Sequence[str], confidence: Iterable[float], threshold: float) -> list[str]:
    """Best guesses (from :meth:`IntentClassifier.best_in_scope`) below the threshold become
    ``oos``."""
    return [n if p >= threshold else OOS for n, p in zip(names, confidence, strict=True)]


def threshold_curve(
    truth: Sequence[str],
    names: Sequence[str],
    confidence: NDArray[np.float64],
    thresholds: Iterable[float],
) -> list[dict[str, float]]:
    """In-scope accuracy against out-of-scope recall as the threshold moves, from one pass of the
    model: the threshold only decides which best guesses become ``oos``."""
    curve = []
    for limit in thresholds:
        m = score(truth, decide(names, confidence, limit))
        curve.append(
            {
                "threshold": round(limit, 3),
                "in_scope_accuracy": round(m.in_scope_accuracy, 4),
                "oos_recall": round(m.oos_recall, 4),
                "oos_precision": round(m.oos_precision, 4),
            }
        )
    return curve
