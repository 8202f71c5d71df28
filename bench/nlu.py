"""Intent recognition on CLINC150 (``../shared/data/intents/clinc150/data_full.json``): train on
``train`` + ``oos_train``, test on ``test`` + ``oos_test``, as ``centralita nlu benchmark`` does.

    .venv/bin/python bench/nlu.py [--threshold 0.5] [--no-embeddings] [--write-csv DIR]

``--write-csv DIR`` writes ``train.csv`` and ``test.csv`` there (for the CLI) and exits. Prints
one JSON object, with the in-scope accuracy / out-of-scope recall curve over thresholds.
"""

import argparse
import csv
import json
import sys
from pathlib import Path

from centralita.nlu import benchmark
from centralita.nlu.classifier import DEFAULT_THRESHOLD, Example

ROOT = Path(__file__).resolve().parents[1]


def shared_intents() -> Path:
    """``shared/data/intents`` beside the checkout (or beside its parent, for a git worktree)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared/data/intents").is_dir():
            return base / "shared/data/intents"
    return ROOT.parent / "shared/data/intents"


CLINC150 = shared_intents() / "clinc150/data_full.json"


def clinc150(path: Path = CLINC150) -> tuple[list[Example], list[Example]]:
    """(train, test): the standard split, out-of-scope rows labelled ``oos``."""
    splits = json.loads(path.read_text(encoding="utf-8"))

    def rows(*names: str) -> list[Example]:
        return [Example(text, intent) for name in names for text, intent in splits[name]]

    return rows("train", "oos_train"), rows("test", "oos_test")


def write_csv(examples: list[Example], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "intent"])
        writer.writerows((e.text, e.intent) for e in examples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--no-embeddings", action="store_true")
    parser.add_argument("--write-csv", type=Path)
    args = parser.parse_args()
    if not CLINC150.exists():
        sys.exit(f"{CLINC150} is absent")
    train, test = clinc150()
    if args.write_csv:
        args.write_csv.mkdir(parents=True, exist_ok=True)
        write_csv(train, args.write_csv / "train.csv")
        write_csv(test, args.write_csv / "test.csv")
        return
    result = benchmark.run(
        train, test, threshold=args.threshold, use_embeddings=not args.no_embeddings
    )
    print(json.dumps({"data": "clinc150 data_full", **result}))


if __name__ == "__main__":
    main()
