"""The classifier on the public data sets in ``../shared/data/intents`` (skipped where absent)."""

import csv
import random

import pytest

from bench.nlu import CLINC150, clinc150, shared_intents
from centralita.nlu.classifier import OOS, Example, IntentClassifier, score

TOP_ES = shared_intents() / "multilingual_top_es"


@pytest.mark.skipif(not CLINC150.exists(), reason="CLINC150 is not in ../shared")
def test_clinc150_subset_in_scope_and_out_of_scope() -> None:
    train, test = clinc150()
    kept = sorted({e.intent for e in train if e.intent != OOS})[:20]
    rng = random.Random(7)
    oos_test = rng.sample([e for e in test if e.intent == OOS], 200)
    model = IntentClassifier.fit(
        [e for e in train if e.intent in kept or e.intent == OOS], use_embeddings=False
    )
    rows = [e for e in test if e.intent in kept] + oos_test

    predicted = model.predict_many([e.text for e in rows], threshold=0.3)
    metrics = score([e.intent for e in rows], [p.intent for p in predicted])

    assert metrics.in_scope_accuracy >= 0.85
    assert metrics.oos_recall >= 0.5


def _top_es(name: str) -> list[Example]:
    with (TOP_ES / name).open(encoding="utf-8", newline="") as rows:
        return [
            Example(row[2].strip(), row[0], "es")
            for row in csv.reader(rows, delimiter="\t", quoting=csv.QUOTE_NONE)
        ]


@pytest.mark.skipif(not TOP_ES.exists(), reason="multilingual TOP (es) is not in ../shared")
def test_spanish_task_oriented_requests() -> None:
    model = IntentClassifier.fit(_top_es("train-es.tsv"), use_embeddings=False)
    test = _top_es("test-es.tsv")[:1000]

    predicted = model.predict_many([e.text for e in test], threshold=0.0)
    metrics = score([e.intent for e in test], [p.intent for p in predicted])

    assert metrics.accuracy >= 0.9
