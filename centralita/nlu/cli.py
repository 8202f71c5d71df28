"""``centralita nlu ...``: train and evaluate a tenant's model, benchmark on any labelled set."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from centralita.config import get_settings
from centralita.db.engine import Database, open_database
from centralita.nlu import benchmark as bench
from centralita.nlu import training
from centralita.nlu.classifier import (
    DEFAULT_THRESHOLD,
    Example,
    decide,
    score,
    threshold_curve,
)
from centralita.nlu.data import BadTrainingFile, read_examples
from centralita.tenancy import service as tenancy

app = typer.Typer(help="Intent recognition: train, evaluate, benchmark.", no_args_is_help=True)
T = TypeVar("T")

TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant slug")]
FileOption = Annotated[
    Path, typer.Option("--file", exists=True, dir_okay=False, help="CSV: text,intent[,locale]")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object")]
ThresholdOption = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="Confidence below which a request is oos")
]
NoEmbeddings = Annotated[
    bool, typer.Option("--no-embeddings", help="N-grams only, even if embeddings are installed")
]


def _examples(path: Path) -> list[Example]:
    try:
        return read_examples(path.read_text(encoding="utf-8"))
    except BadTrainingFile as exc:
        for error in exc.errors:
            typer.echo(f"error: {path}:{error.line}: {error.message}", err=True)
        raise typer.Exit(2) from None
    except UnicodeDecodeError:
        typer.echo(f"error: {path} is not UTF-8 text", err=True)
        raise typer.Exit(2) from None


def _in_tenant(slug: str, work: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Run ``work(session, tenant)`` in a session scoped to the tenant, committing after it."""

    async def _run() -> T:
        db: Database = open_database(get_settings().database_url, 1)
        try:
            async with db.system_session() as session:
                tenant = await tenancy.get_tenant_by_slug(session, slug)
            if tenant is None:
                typer.echo(f"error: no tenant {slug!r}", err=True)
                raise typer.Exit(1)
            async with db.tenant_session(tenant.id) as session:
                result = await work(session, tenant)
                await session.commit()
                return result
        finally:
            await db.dispose()

    return asyncio.run(_run())


def _echo(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result))
        return
    for key, value in result.items():
        if key != "threshold_curve":
            typer.echo(f"{key:<18} {value}")
    for point in result.get("threshold_curve", []):
        typer.echo(
            f"  threshold {point['threshold']:.2f}: in-scope accuracy "
            f"{point['in_scope_accuracy']:.3f}, oos recall {point['oos_recall']:.3f}"
        )


@app.command()
def train(
    tenant: TenantOption,
    file: FileOption,
    threshold: ThresholdOption = DEFAULT_THRESHOLD,
    no_embeddings: NoEmbeddings = False,
) -> None:
    """Replace the tenant's examples with the file's and train a new model version."""
    examples = _examples(file)

    async def _train(session: Any, found: Any) -> dict[str, Any]:
        await training.store_examples(session, found.id, examples, replace=True)
        version = await training.train(
            session,
            found.id,
            threshold=threshold,
            use_embeddings=not no_embeddings,
            examples=examples,
            progress=True,
        )
        held_out = {k: v for k, v in version.metrics.items() if k != "threshold_curve"}
        return {"version": version.version, "examples": version.n_examples, **held_out}

    result = _in_tenant(tenant, _train)
    typer.echo(f"Model version {result['version']} trained for {tenant}.")
    _echo(result, as_json=False)


@app.command()
def evaluate(
    tenant: TenantOption,
    file: FileOption,
    as_json: JsonOption = False,
    threshold: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Instead of the model's own")
    ] = None,
) -> None:
    """Measure the tenant's current model on a labelled file."""
    examples = _examples(file)

    async def _evaluate(session: Any, found: Any) -> dict[str, Any]:
        current = await training.current_classifier(session, found.id)
        if current is None:
            typer.echo(f"error: {tenant} has no trained model", err=True)
            raise typer.Exit(1)
        version, classifier = current
        texts = [e.text for e in examples]
        names, confidence = await asyncio.to_thread(classifier.best_in_scope, texts)
        truth = [e.intent for e in examples]
        used = classifier.threshold if threshold is None else threshold
        metrics = score(truth, decide(names, confidence, used))
        curve = threshold_curve(truth, names, confidence, bench.CURVE)
        rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in vars(metrics).items()}
        return {
            "model_version": version.version,
            "threshold": used,
            **rounded,
            "threshold_curve": curve,
        }

    _echo(_in_tenant(tenant, _evaluate), as_json)


@app.command()
def benchmark(
    train_file: Annotated[Path, typer.Option("--train", exists=True, dir_okay=False)],
    test_file: Annotated[Path, typer.Option("--test", exists=True, dir_okay=False)],
    as_json: JsonOption = False,
    threshold: ThresholdOption = DEFAULT_THRESHOLD,
    no_embeddings: NoEmbeddings = False,
) -> None:
    """Train a throwaway model (no database) on one file, measure it on the other."""
    result = bench.run(
        _examples(train_file),
        _examples(test_file),
        threshold=threshold,
        use_embeddings=not no_embeddings,
        progress=True,
    )
    _echo(result, as_json)
