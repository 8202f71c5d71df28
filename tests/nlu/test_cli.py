"""``centralita nlu train | evaluate | benchmark``, run as a person runs them."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from centralita.nlu.classifier import OOS
from centralita.nlu.demo import BANK, demo_examples
from tests.conftest import TenantFixture

BENCHMARK_KEYS = {
    "n_train",
    "n_test",
    "accuracy",
    "macro_f1",
    "in_scope_accuracy",
    "oos_recall",
    "oos_precision",
    "train_seconds",
    "predict_p50_ms",
    "predict_p99_ms",
}
HELD_OUT = [
    ("me robaron la tarjeta en el metro", "lost_card"),
    ("quiero subir el limite de credito", "card_limit"),
    ("cuanto dinero me queda", "balance"),
    ("what is the weather in Paris", OOS),
]


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "intent"])
        writer.writerows(rows)
    return path


def _centralita(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"CENTRALITA_DATABASE_URL": database_url}
    return subprocess.run(  # noqa: S603 - our own command, with arguments we chose
        [sys.executable, "-m", "centralita", "nlu", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_train_then_evaluate_a_tenants_model(
    tenant_a: TenantFixture, database_url: str, tmp_path: Path
) -> None:
    train = _write(tmp_path / "train.csv", [(e.text, e.intent) for e in demo_examples(BANK)])
    test = _write(tmp_path / "test.csv", HELD_OUT)

    trained = _centralita(
        database_url,
        "train",
        "--tenant",
        tenant_a.slug,
        "--file",
        str(train),
        "--threshold",
        "0.3",
        "--no-embeddings",
    )
    evaluated = _centralita(
        database_url, "evaluate", "--tenant", tenant_a.slug, "--file", str(test), "--json"
    )

    assert trained.returncode == 0, trained.stderr
    assert f"Model version 1 trained for {tenant_a.slug}." in trained.stdout
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout)
    assert result["model_version"] == 1
    assert result["threshold"] == 0.3
    assert result["n"] == len(HELD_OUT)
    assert result["in_scope_accuracy"] == 1.0
    assert result["oos_recall"] == 1.0
    assert [p["threshold"] for p in result["threshold_curve"]][:2] == [0.1, 0.2]


def test_a_bad_file_or_tenant_is_an_error_that_says_where(
    tenant_a: TenantFixture, database_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,intent\nhola,greet\n,greet\n", encoding="utf-8")
    good = _write(tmp_path / "good.csv", HELD_OUT)

    refused = _centralita(database_url, "train", "--tenant", tenant_a.slug, "--file", str(bad))
    nobody = _centralita(database_url, "train", "--tenant", "no-such", "--file", str(good))
    untrained = _centralita(
        database_url, "evaluate", "--tenant", tenant_a.slug, "--file", str(good), "--json"
    )

    assert refused.returncode == 2
    assert f"{bad}:3: the text is empty" in refused.stderr
    assert nobody.returncode == 1
    assert "no tenant 'no-such'" in nobody.stderr
    assert untrained.returncode == 1
    assert "has no trained model" in untrained.stderr


def test_benchmark_prints_one_json_object_with_the_contracts_keys(tmp_path: Path) -> None:
    train = _write(tmp_path / "train.csv", [(e.text, e.intent) for e in demo_examples(BANK)])
    test = _write(tmp_path / "test.csv", HELD_OUT)

    unused = f"sqlite+aiosqlite:///{tmp_path / 'never-opened.sqlite3'}"
    run = _centralita(
        unused,
        "benchmark",
        "--train",
        str(train),
        "--test",
        str(test),
        "--json",
        "--threshold",
        "0.3",
        "--no-embeddings",
    )

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert set(result) >= BENCHMARK_KEYS
    assert (result["n_train"], result["n_test"]) == (len(demo_examples(BANK)), len(HELD_OUT))
    assert result["in_scope_accuracy"] == 1.0
    assert result["oos_recall"] == 1.0
    assert result["predict_p99_ms"] >= result["predict_p50_ms"] > 0
