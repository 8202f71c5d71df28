"""The SMS sender of ``channel.delivery``: an agent's reply goes out through the provider's REST.

Sent from the tenant's SMS number (its first, when it has several) to the customer's phone, with
the message id as idempotency key, so a repeat after a crash is recognised by providers that
support it.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.channels.outbound import Sender
from centralita.channels.voice.provider import Provider, ProviderError
from centralita.customers.models import CustomerIdentity, IdentityKind
from centralita.interactions.models import Interaction, Message


async def sending_number(session: AsyncSession) -> ChannelAddress | None:
    """The number the scoped tenant's SMS go out from: its first SMS number."""
    query = (
        select(ChannelAddress)
        .where(ChannelAddress.channel == AddressChannel.SMS)
        .order_by(ChannelAddress.created_at, ChannelAddress.id)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


def sms_sender(provider: Provider) -> Sender:
    async def send(
        session: AsyncSession,
        interaction: Interaction,
        message: Message,
        now: datetime,
        last_attempt: bool,
    ) -> None:
        # A text that never went leaves nothing to record: the provider's report would say.
        address = await sending_number(session)
        phone = await session.scalar(
            select(CustomerIdentity.value).where(
                CustomerIdentity.customer_id == interaction.customer_id,
                CustomerIdentity.kind == IdentityKind.PHONE,
            )
        )
        if address is None or phone is None:
            raise ProviderError("no SMS number for the company, or no phone for the customer")
        await provider.message(address, phone, message.text, key=str(message.id))

    return send
