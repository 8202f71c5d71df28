"""The agent's controls on a live call: hold, resume, transfer, hang up, through the provider.

The provider is told to take the caller's leg somewhere else (Twilio's "modify a live call"): to
the hold loop, back to the agent's softphone, into a queue again, or to end. The routing state
changes in the same transaction; if the provider refuses, the whole change is refused.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels import service as addresses
from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.channels.voice.ivr import BASE
from centralita.channels.voice.provider import ACCOUNT_SID, Provider, ProviderError
from centralita.errors import Conflict
from centralita.events.service import Actor
from centralita.interactions.models import Channel, Interaction, InteractionState
from centralita.interactions.service import get_interaction
from centralita.routing import work


@dataclass(frozen=True)
class CallControls:
    """What the controls need: the provider's API and the base URL the provider calls back on."""

    provider: Provider
    public_base: str

    def url(self, path: str) -> str:
        return f"{self.public_base.rstrip('/')}{BASE}{path}"


@dataclass(frozen=True)
class LiveCall:
    interaction: Interaction
    sid: str
    address: ChannelAddress


async def _account_for(session: AsyncSession, interaction: Interaction) -> ChannelAddress:
    """The tenant's number whose provider account holds the call: the one that answers for the
    call's queue, else any of its numbers with an account (a tenant's numbers share one)."""
    numbers = [
        a
        for a in await addresses.list_addresses(session)
        if a.channel == AddressChannel.VOICE and a.settings.get(ACCOUNT_SID)
    ]
    chosen = next((a for a in numbers if a.queue == interaction.queue), None)
    chosen = chosen or next(iter(numbers), None)
    if chosen is None:
        raise Conflict("This company has no phone number with a provider account", "no-number")
    return chosen


async def _live_call(session: AsyncSession, actor: Actor, interaction_id: uuid.UUID) -> LiveCall:
    """The caller's call, if it is this agent's and still going on."""
    interaction = await get_interaction(session, interaction_id, for_update=True)
    if interaction.channel != Channel.VOICE or not interaction.external_ref:
        raise Conflict("This conversation is not a phone call", "not-a-call")
    if interaction.agent_user_id != actor.user_id:
        raise Conflict("This work is not yours", "not-your-work")
    if interaction.state != InteractionState.ACTIVE:
        raise Conflict("The call is no longer going on", "wrong-state")
    address = await _account_for(session, interaction)
    return LiveCall(interaction, interaction.external_ref, address)


def _refused(exc: ProviderError) -> Conflict:
    return Conflict(f"The provider did not take the request: {exc}", "provider-failed")


async def hold(
    session: AsyncSession, controls: CallControls, actor: Actor, interaction_id: uuid.UUID
) -> Interaction:
    call = await _live_call(session, actor, interaction_id)
    try:
        await controls.provider.redirect_call(call.address, call.sid, controls.url("/hold"))
    except ProviderError as exc:
        raise _refused(exc) from None
    return call.interaction


async def resume(
    session: AsyncSession, controls: CallControls, actor: Actor, interaction_id: uuid.UUID
) -> Interaction:
    """The caller comes back from hold, put through to the agent's softphone again."""
    call = await _live_call(session, actor, interaction_id)
    url = controls.url(f"/connect?agent={actor.user_id}")
    try:
        await controls.provider.redirect_call(call.address, call.sid, url)
    except ProviderError as exc:
        raise _refused(exc) from None
    return call.interaction


async def transfer(
    session: AsyncSession,
    controls: CallControls,
    actor: Actor,
    interaction_id: uuid.UUID,
    *,
    queue_id: uuid.UUID | None,
    agent_id: uuid.UUID | None,
    note: str | None,
    serves_tenant: bool,
) -> Interaction:
    """Routing hands the call on (to a queue, or offered to a colleague) and the caller waits in
    its queue until the next agent accepts; see :func:`centralita.routing.work.transfer`."""
    call = await _live_call(session, actor, interaction_id)
    interaction = await work.transfer(
        session,
        actor,
        interaction_id,
        queue_id=queue_id,
        agent_id=agent_id,
        note=note,
        serves_tenant=serves_tenant,
    )
    try:
        await controls.provider.redirect_call(call.address, call.sid, controls.url("/requeue"))
    except ProviderError as exc:
        raise _refused(exc) from None
    return interaction


async def hang_up(
    session: AsyncSession, controls: CallControls, actor: Actor, interaction_id: uuid.UUID
) -> Interaction:
    """The provider ends the call and the agent goes on to wrap-up (the provider's own status
    callback afterwards finds the call already over and changes nothing)."""
    call = await _live_call(session, actor, interaction_id)
    interaction = await work.end_conversation(session, actor, interaction_id)
    try:
        await controls.provider.hang_up(call.address, call.sid)
    except ProviderError as exc:
        raise _refused(exc) from None
    return interaction
