"""Training as a durable job: queued by the API, done by the trainer with its progress, trained
again when the process that held it died."""

from datetime import timedelta

from sqlalchemy import delete, select

from centralita.db.base import utcnow
from centralita.identity.permissions import Role
from centralita.jobs.models import Job, JobKind
from centralita.jobs.service import schedule
from centralita.nlu.demo import BANK
from centralita.nlu.models import TrainingExample, TrainingRun
from centralita.nlu.trainer import LEASE
from tests.conftest import TenantFixture
from tests.nlu.test_routes import _csv, finish_training


async def _queued(tenant: TenantFixture) -> str:
    http = await tenant.client(Role.ADMIN)
    uploaded = await http.post(
        tenant.url("/nlu/examples"), files={"file": ("train.csv", _csv(BANK), "text/csv")}
    )
    assert uploaded.status_code == 200, uploaded.text
    queued = await http.post(tenant.url("/nlu/train"), json={"embeddings": False})
    assert queued.status_code == 202, queued.text
    location: str = queued.headers["location"]
    return location


async def test_the_run_reports_its_steps_until_the_version_is_stored(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.ADMIN)
    run_url = await _queued(tenant_a)
    queued = (await http.get(run_url)).json()

    done = await finish_training(tenant_a, run_url)
    listed = (await http.get(tenant_a.url("/nlu/training"))).json()
    other = await (await tenant_b.client()).get(tenant_b.url(f"/nlu/training/{done['id']}"))
    models = (await http.get(tenant_a.url("/nlu/models"))).json()

    assert (queued["state"], queued["percent"], queued["model_version"]) == ("queued", 0, None)
    assert done["state"] == "succeeded", done
    assert (done["step"], done["percent"]) == ("model", 100)
    assert done["done"] == done["total"] == 1
    assert done["model_version"] == 1
    assert done["finished_at"] is not None
    assert [m["version"] for m in models] == [1]
    assert listed[0]["id"] == done["id"]
    assert other.status_code == 404


async def test_a_run_lost_with_its_process_is_trained_again(tenant_a: TenantFixture) -> None:
    run_url = await _queued(tenant_a)
    run_id = run_url.rsplit("/", 1)[1]
    # As if a trainer had claimed it and died: running, a stale heartbeat, its lease check due.
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        run = (await session.execute(select(TrainingRun))).scalar_one()
        run.state, run.attempts, run.heartbeat_at = "running", 1, utcnow() - 2 * LEASE
        await session.execute(
            delete(Job).where(Job.kind == JobKind.NLU_TRAINING, Job.ref_id == run.id)
        )
        schedule(session, JobKind.NLU_TRAINING, ref_id=run.id, due_at=utcnow() - timedelta(1))
        await session.commit()

    done = await finish_training(tenant_a, run_url)

    assert done["state"] == "succeeded", done
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        run = (await session.execute(select(TrainingRun))).scalar_one()
        left = await session.scalar(select(Job.id).where(Job.ref_id == run.id))
    assert str(run.id) == run_id
    assert run.attempts == 2
    assert left is None, "the lease check of a finished run is removed"


async def test_examples_removed_before_training_fail_the_run_with_a_reason(
    tenant_a: TenantFixture,
) -> None:
    run_url = await _queued(tenant_a)
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        await session.execute(delete(TrainingExample))
        await session.commit()

    done = await finish_training(tenant_a, run_url)

    assert done["state"] == "failed"
    assert done["error"] == "Cannot train: at least two intents with examples are needed"
    assert done["model_version"] is None
