"""``centralita nlu benchmark``: a throwaway model from one CSV, measured on another."""

from collections.abc import Sequence
from pathlib import Path
from time import perf_counter, process_time
from typing import Any

from centralita.nlu.classifier import Example, IntentClassifier, decide, score, threshold_curve
from centralita.nlu.data import read_examples

CURVE = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
# Single requests timed, as the IVR or chat sends them: one at a time.
TIMED = 1000


def load(path: Path) -> list[Example]:
    return read_examples(path.read_text(encoding="utf-8"))


def run(
    train: Sequence[Example],
    test: Sequence[Example],
    *,
    threshold: float,
    use_embeddings: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    cpu_started = process_time()
    classifier = IntentClassifier.fit(
        train, use_embeddings=use_embeddings, threshold=threshold, progress=progress
    )
    # On a shared machine the wall clock also counts other people's work; this is the model's.
    train_cpu_seconds = process_time() - cpu_started
    names, confidence = classifier.best_in_scope([e.text for e in test])
    truth = [e.intent for e in test]
    metrics = score(truth, decide(names, confidence, threshold))
    timings, cpu_timings = [], []
    for example in test[:TIMED]:
        started, cpu_started = perf_counter(), process_time()
        classifier.predict(example.text)
        timings.append((perf_counter() - started) * 1000)
        cpu_timings.append((process_time() - cpu_started) * 1000)
    return {
        "n_train": len(train),
        "n_test": len(test),
        "accuracy": round(metrics.accuracy, 4),
        "macro_f1": round(metrics.macro_f1, 4),
        "in_scope_accuracy": round(metrics.in_scope_accuracy, 4),
        "oos_recall": round(metrics.oos_recall, 4),
        "oos_precision": round(metrics.oos_precision, 4),
        "train_seconds": round(classifier.train_seconds, 2),
        "train_cpu_seconds": round(train_cpu_seconds, 2),
        "predict_p50_ms": _percentile(timings, 0.5),
        "predict_p99_ms": _percentile(timings, 0.99),
        "predict_cpu_p50_ms": _percentile(cpu_timings, 0.5),
        "predict_cpu_p99_ms": _percentile(cpu_timings, 0.99),
        "threshold": threshold,
        "embeddings": classifier.uses_embeddings,
        "threshold_curve": threshold_curve(truth, names, confidence, CURVE),
    }


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[int(share * (len(ordered) - 1))], 2)
