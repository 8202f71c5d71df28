"""Knowledge search at scale on SQLite and PostgreSQL: latency and retrieval quality, and learning.

Builds a throw-away database per backend (PostgreSQL: owned by an ordinary role, so row-level
security applies to what is measured) with ``--articles`` published articles across ``--tenants``
tenants in Spanish and English. Titles combine an action, a product, a variant and a situation
("Bloquear la tarjeta de crédito Oro en el extranjero"), bodies are a few sentences around them,
so many articles share most of their words and the right one must be told apart. Rows are written
with the product's own index code (``postings_of``, ``vocabulary``), in bulk.

The labelled query set: for sampled articles, questions a customer would type — the title's
parts reworded (synonyms of the action, plurals, the product named differently), accents dropped,
and a typo in one word — each with exactly one right answer. Two independent questions per
article: one to teach with, one to test with.

Measured, as the application runs a request (a tenant-scoped session per search):

- latency p50/p95/p99 of every search of the test questions;
- recall@5 and MRR of the test questions, before any use;
- then the teaching questions are searched and a simulated customer clicks the right article if
  it is in the first ten and votes it helpful (and votes the wrong first result down);
- recall@5 and MRR again: on the held-out test questions (only the articles' use scores can help)
  and on the teaching questions themselves (the per-question click memory helps too).

Prints one JSON object. ``--quick`` runs a small size. ``--explain`` prints PostgreSQL's plan of one
search as the application role to standard error.

    .venv/bin/python bench/knowledge.py [--articles 100000] [--tenants 10] [--queries 300]
        [--backends sqlite,postgresql] [--quick] [--explain]
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import insert, text

from centralita.db import migrate
from centralita.db.base import new_id, utcnow
from centralita.db.engine import Database, open_database
from centralita.knowledge import index
from centralita.knowledge.models import (
    Article,
    ArticleState,
    EventKind,
    Posting,
    Visibility,
    WordGram,
)
from centralita.knowledge.render import render_markdown
from centralita.knowledge.search import Filters, search
from centralita.knowledge.signals import record_event, record_search
from centralita.knowledge.text import trigrams
from centralita.tenancy.models import Tenant

ADMIN_DSN = os.environ.get(
    "CENTRALITA_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
APP_ROLE = "centralita_bench"
CHUNK = 2_000

# (title words, paraphrases a customer uses) per locale.
ACTIONS = {
    "es": [
        ("Bloquear", ["bloqueo", "bloquear"]),
        ("Activar", ["activacion", "activar"]),
        ("Cancelar", ["cancelacion", "dar de baja"]),
        ("Renovar", ["renovacion", "renovar"]),
        ("Pagar", ["pago", "pagar"]),
        ("Solicitar", ["pedir", "solicitud"]),
        ("Cambiar", ["cambio", "modificar"]),
        ("Recuperar", ["recuperacion", "recuperar"]),
        ("Consultar", ["consulta", "ver"]),
        ("Devolver", ["devolucion", "devolver"]),
    ],
    "en": [
        ("Block", ["blocking", "block"]),
        ("Activate", ["activation", "activate"]),
        ("Cancel", ["cancellation", "cancel"]),
        ("Renew", ["renewal", "renew"]),
        ("Pay", ["payment", "pay"]),
        ("Request", ["ask for", "request"]),
        ("Change", ["changing", "modify"]),
        ("Recover", ["recovery", "recover"]),
        ("Check", ["checking", "see"]),
        ("Return", ["returning", "return"]),
    ],
}
PRODUCTS = {
    "es": [
        ("la tarjeta de crédito", ["tarjetas de credito", "tarjeta credito"]),
        ("la factura", ["facturas", "factura"]),
        ("la contraseña", ["contrasena", "clave"]),
        ("el seguro de hogar", ["seguros hogar", "seguro casa"]),
        ("la transferencia", ["transferencias", "envio de dinero"]),
        ("el roaming", ["roaming", "itinerancia"]),
        ("el pedido", ["pedidos", "compra"]),
        ("la suscripción", ["suscripciones", "suscripcion"]),
        ("la hipoteca", ["hipotecas", "prestamo hipotecario"]),
        ("el préstamo personal", ["prestamos personales", "credito personal"]),
        ("la línea móvil", ["lineas moviles", "linea de movil"]),
        ("la cuenta corriente", ["cuentas corrientes", "cuenta"]),
    ],
    "en": [
        ("the credit card", ["credit cards", "card"]),
        ("the invoice", ["invoices", "bill"]),
        ("the password", ["passwords", "login"]),
        ("the home insurance", ["home insurances", "house insurance"]),
        ("the transfer", ["transfers", "wire"]),
        ("roaming", ["roaming", "abroad data"]),
        ("the order", ["orders", "purchase"]),
        ("the subscription", ["subscriptions", "plan"]),
        ("the mortgage", ["mortgages", "home loan"]),
        ("the personal loan", ["personal loans", "loan"]),
        ("the mobile line", ["mobile lines", "phone line"]),
        ("the current account", ["current accounts", "account"]),
    ],
}
VARIANTS = ["Oro", "Joven", "Plus", "Empresa", "Básica", "Premium", "Familia", "Digital"]
SITUATIONS = {
    "es": [
        "en el extranjero",
        "desde la aplicación",
        "por teléfono",
        "en una oficina",
        "sin coste",
        "con urgencia",
        "para un familiar",
        "tras un robo",
        "en festivo",
        "por internet",
        "con el DNI caducado",
        "siendo menor de edad",
    ],
    "en": [
        "abroad",
        "from the app",
        "by phone",
        "at a branch",
        "free of charge",
        "urgently",
        "for a relative",
        "after a theft",
        "on a holiday",
        "online",
        "with an expired ID",
        "as a minor",
    ],
}
FILLER = {
    "es": "Nuestro equipo revisa cada caso y te avisa por correo cuando termina el proceso. "
    "Ten a mano tu documento de identidad y el número de cliente.",
    "en": "Our team reviews every case and emails you when the process is complete. "
    "Keep your ID document and customer number at hand.",
}


def _strip_accents(text: str) -> str:
    table = str.maketrans("áéíóúüñÁÉÍÓÚÑ", "aeiouunAEIOUN")
    return text.translate(table)


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 6:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("drop", "swap", "double"))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "swap":
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


@dataclass(frozen=True)
class Spec:
    tenant: int
    locale: str
    action: int
    product: int
    variant: int
    situation: int

    def title(self) -> str:
        action = ACTIONS[self.locale][self.action][0]
        product = PRODUCTS[self.locale][self.product][0]
        return (
            f"{action} {product} {VARIANTS[self.variant]} {SITUATIONS[self.locale][self.situation]}"
        )

    def question(self, rng: random.Random) -> str:
        action = rng.choice(ACTIONS[self.locale][self.action][1])
        product = rng.choice(PRODUCTS[self.locale][self.product][1])
        words = [
            action,
            product,
            VARIANTS[self.variant].lower(),
            _strip_accents(SITUATIONS[self.locale][self.situation]),
        ]
        rng.shuffle(words)
        text_words = " ".join(words).split()
        long_words = [i for i, w in enumerate(text_words) if len(w) >= 6]
        if long_words:
            i = rng.choice(long_words)
            text_words[i] = _typo(text_words[i], rng)
        return " ".join(text_words)


def _specs(articles: int, tenants: int, rng: random.Random) -> list[Spec]:
    per = articles // (tenants * 2)
    specs: list[Spec] = []
    for tenant in range(tenants):
        for locale in ("es", "en"):
            combos = [
                (a, p, v, s)
                for a in range(len(ACTIONS[locale]))
                for p in range(len(PRODUCTS[locale]))
                for v in range(len(VARIANTS))
                for s in range(len(SITUATIONS[locale]))
            ]
            specs.extend(
                Spec(tenant, locale, *c) for c in rng.sample(combos, min(per, len(combos)))
            )
    return specs


def _article(spec: Spec, tenant_id: uuid.UUID) -> Article:
    title = spec.title()
    body = f"{title}. {FILLER[spec.locale]} **{VARIANTS[spec.variant]}**."
    now = utcnow()
    return Article(
        tenant_id=tenant_id,
        id=new_id(),
        translation_group_id=new_id(),
        locale=spec.locale,
        title=title,
        summary="",
        body_markdown=body,
        body_html=render_markdown(body),
        state=ArticleState.PUBLISHED,
        visibility=Visibility.PUBLIC,
        category_id=None,
        tags=[],
        attachments=[],
        version=1,
        published_at=now,
        author_user_id=None,
        views=0,
        helpful_votes=0,
        unhelpful_votes=0,
        signal_score=0.0,
        signal_at=now,
        created_at=now,
        updated_at=now,
    )


_ARTICLE_COLUMNS = [c.name for c in Article.__table__.columns]


async def _seed(
    db: Database, specs: list[Spec], tenants: int
) -> tuple[list[uuid.UUID], dict[Spec, uuid.UUID]]:
    tenant_ids = []
    async with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('centralita.bypass_rls', 'on', true)"))
        for n in range(tenants):
            tenant_id = new_id()
            tenant_ids.append(tenant_id)
            await conn.execute(
                insert(Tenant),
                [
                    {
                        "id": tenant_id,
                        "slug": f"bench-{n}-{secrets.token_hex(3)}",
                        "name": f"Bench {n}",
                        "default_locale": "es",
                        "time_zone": "Europe/Madrid",
                        "country": "ES",
                        "subdivision": None,
                        "is_active": True,
                        "created_at": utcnow(),
                        "updated_at": utcnow(),
                    }
                ],
            )
        ids: dict[Spec, uuid.UUID] = {}
        words: dict[uuid.UUID, set[str]] = {t: set() for t in tenant_ids}
        for start in range(0, len(specs), CHUNK):
            batch = [(s, _article(s, tenant_ids[s.tenant])) for s in specs[start : start + CHUNK]]
            await conn.execute(
                insert(Article),
                [{c: getattr(a, c) for c in _ARTICLE_COLUMNS} for _, a in batch],
            )
            postings = [row for _, a in batch for row in index.postings_of(a)]
            for i in range(0, len(postings), CHUNK * 4):
                await conn.execute(insert(Posting), postings[i : i + CHUNK * 4])
            for spec, article in batch:
                ids[spec] = article.id
                words[article.tenant_id] |= index.vocabulary(article)
        grams = [
            {"tenant_id": t, "gram": g, "word": w}
            for t, ws in words.items()
            for w in ws
            for g in trigrams(w)
        ]
        for i in range(0, len(grams), CHUNK * 4):
            await conn.execute(insert(WordGram), grams[i : i + CHUNK * 4])
    if db.engine.dialect.name == "postgresql":
        await _vacuum(db)
    return tenant_ids, ids


async def _vacuum(db: Database) -> None:
    """What autovacuum does to a live table (this development server runs with it off): the
    statistics, and the visibility map without which PostgreSQL cannot answer from the postings'
    index alone."""
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(
            text("VACUUM ANALYZE knowledge_articles, knowledge_postings, knowledge_word_grams")
        )


async def _server_cpu_s(db: Database) -> float | None:
    """CPU seconds used so far by this database's server processes, when the server runs on
    this machine (its processes are in /proc); None otherwise."""
    if db.engine.dialect.name != "postgresql":
        return None
    async with db.engine.connect() as conn:
        query = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        pids = list((await conn.execute(query)).scalars())
    return _cpu_seconds(pids)


def _cpu_seconds(pids: list[int]) -> float | None:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # utime and stime, the 14th and 15th fields of proc(5), counted after the name.
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _quality(ranks: list[int | None]) -> dict[str, float]:
    return {
        "recall_at_5": round(sum(1 for r in ranks if r is not None and r <= 5) / len(ranks), 4),
        "mrr": round(sum(1 / r for r in ranks if r is not None) / len(ranks), 4),
    }


CPU_MS: list[float] = []


async def _ask(
    db: Database, tenant_id: uuid.UUID, locale: str, q: str
) -> tuple[list[uuid.UUID], float, str]:
    started, cpu = time.perf_counter(), time.process_time()
    async with db.tenant_session(tenant_id) as session:
        found = await search(session, q, Filters(locale=locale), limit=10)
    elapsed = (time.perf_counter() - started) * 1000
    CPU_MS.append((time.process_time() - cpu) * 1000)
    return [h.article.id for h in found.hits], elapsed, found.query_key


def _rank(ids: list[uuid.UUID], wanted: uuid.UUID) -> int | None:
    return ids.index(wanted) + 1 if wanted in ids else None


async def _evaluate(db, tenant_ids, ids, questions) -> tuple[list[int | None], list[float]]:
    ranks, latencies = [], []
    for spec, q in questions:
        found, ms, _ = await _ask(db, tenant_ids[spec.tenant], spec.locale, q)
        ranks.append(_rank(found, ids[spec]))
        latencies.append(ms)
    return ranks, latencies


async def _teach(db, tenant_ids, ids, questions) -> None:
    """A customer per question: clicks and praises the right article if they see it, and votes
    down a wrong first result they opened."""
    for spec, q in questions:
        tenant_id = tenant_ids[spec.tenant]
        found, _, key = await _ask(db, tenant_id, spec.locale, q)
        async with db.tenant_session(tenant_id) as session:
            logged = record_search(
                session,
                tenant_id,
                query=q,
                key=key,
                locale=spec.locale,
                source="bench",
                result_count=len(found),
            )
            await session.flush()
            if found and found[0] != ids[spec]:
                await record_event(session, tenant_id, EventKind.UNHELPFUL, article_id=found[0])
            if ids[spec] in found:
                await record_event(
                    session, tenant_id, EventKind.CLICK, article_id=ids[spec], search_id=logged.id
                )
                await record_event(session, tenant_id, EventKind.HELPFUL, article_id=ids[spec])
            await session.commit()


def _percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100)
    return {
        "p50_ms": round(statistics.median(values), 2),
        "p95_ms": round(cuts[94], 2),
        "p99_ms": round(cuts[98], 2),
    }


async def _explain(db: Database, tenant_id: uuid.UUID) -> None:
    async with db.tenant_session(tenant_id) as session:
        conn = await session.connection()
        plan = await conn.execute(
            text(
                "EXPLAIN ANALYZE SELECT article_id, sum(weight) FROM knowledge_postings "
                "WHERE tenant_id = :t AND term IN ('bloque', 'tarjet', 'credit') AND locale = 'es' "
                "GROUP BY article_id ORDER BY 2 DESC LIMIT 50"
            ),
            {"t": tenant_id},
        )
        print("\n".join(row[0] for row in plan), file=sys.stderr)


async def _bench(url: str, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    db = open_database(url, 5)
    try:
        specs = _specs(args.articles, args.tenants, rng)
        started = time.perf_counter()
        tenant_ids, ids = await _seed(db, specs, args.tenants)
        seed_s = time.perf_counter() - started
        if args.explain and url.startswith("postgresql"):
            await _explain(db, tenant_ids[0])
        sample = rng.sample(specs, min(args.queries, len(specs)))
        teach = [(s, s.question(rng)) for s in sample]
        test = [(s, s.question(rng)) for s in sample]
        await _evaluate(db, tenant_ids, ids, test[:20])  # warm caches and connections
        CPU_MS.clear()
        load_before, server_before = os.getloadavg(), await _server_cpu_s(db)
        before, latencies = await _evaluate(db, tenant_ids, ids, test)
        server_after = await _server_cpu_s(db)
        cpu = list(CPU_MS)
        await _teach(db, tenant_ids, ids, teach)
        after_held_out, more = await _evaluate(db, tenant_ids, ids, test)
        after_taught, _ = await _evaluate(db, tenant_ids, ids, teach)
        return {
            "articles": len(specs),
            "seed_seconds": round(seed_s, 1),
            "searches": len(latencies) + len(more),
            **_percentiles(latencies + more),
            # This process's CPU per search (SQLite runs in it; PostgreSQL's server does not).
            "client_cpu_p50_ms": round(statistics.median(cpu), 2),
            "client_cpu_mean_ms": round(statistics.mean(cpu), 2),
            # PostgreSQL's server processes' CPU per search (the first pass over the questions).
            "server_cpu_mean_ms": (
                round((server_after - server_before) * 1000 / len(latencies), 2)
                if server_before is not None and server_after is not None
                else None
            ),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "before": _quality(before),
            "after_held_out": _quality(after_held_out),
            "after_taught_questions": _quality(after_taught),
        }
    finally:
        await db.dispose()


async def _pg_database(name: str, create: bool) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        if not create:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APP_ROLE):
            await conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        await conn.execute(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}')
    finally:
        await conn.close()


def _run(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
            migrate.upgrade(url)
            return asyncio.run(_bench(url, args))
    name = f"centralita_bench_kb_{secrets.token_hex(3)}"
    asyncio.run(_pg_database(name, create=True))
    try:
        url = f"postgresql+asyncpg://{APP_ROLE}@127.0.0.1:5432/{name}"
        migrate.upgrade(url)
        return asyncio.run(_bench(url, args))
    finally:
        asyncio.run(_pg_database(name, create=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2,000 articles, 100 questions")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.articles, args.queries = 2_000, 100
    results = {backend: _run(backend, args) for backend in args.backends.split(",")}
    print(
        json.dumps(
            {
                "benchmark": "knowledge",
                "tenants": args.tenants,
                "locales": 2,
                "questions": args.queries,
                **results,
            }
        )
    )


if __name__ == "__main__":
    main()
