"""Intents of the demo tenants, with a small labelled set in Spanish and English each, trained
during ``centralita demo`` (n-grams only: it takes well under a second a tenant)."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from centralita.nlu import training
from centralita.nlu.classifier import OOS, Example
from centralita.nlu.service import set_intent_route


@dataclass(frozen=True)
class DemoIntent:
    name: str
    queue: str | None
    self_service: str | None
    keywords: tuple[str, ...]
    examples: tuple[str, ...]


def _intent(
    name: str, queue: str | None, keywords: str, *examples: str, self_service: str | None = None
) -> DemoIntent:
    return DemoIntent(name, queue, self_service, tuple(keywords.split("|")), examples)


BANK = (
    _intent(
        "card_limit",
        "tarjetas",
        "límite|limite|limit",
        "Quisiera aumentar el límite de mi tarjeta",
        "¿Puedo subir el límite de crédito?",
        "Necesito más límite en la tarjeta de crédito",
        "Quiero ampliar el tope de gasto",
        "Reducir el límite de mi tarjeta",
        "I want to raise my credit card limit",
        "Can you increase my card limit?",
        "How do I change my spending limit",
    ),
    _intent(
        "lost_card",
        "tarjetas",
        "perdido|robado|robaron|lost|stolen",
        "He perdido mi tarjeta",
        "Me han robado la cartera con la tarjeta",
        "Bloquear la tarjeta porque la perdí",
        "No encuentro mi tarjeta de débito",
        "Quiero cancelar mi tarjeta robada",
        "I lost my card",
        "My card was stolen",
        "Please block my missing debit card",
    ),
    _intent(
        "fraud",
        "fraude",
        "fraude|no reconozco|fraud",
        "Tengo un cargo que no reconozco",
        "Hay un movimiento extraño en mi cuenta",
        "Me han cobrado algo que no he comprado",
        "Creo que han usado mi tarjeta sin permiso",
        "Quiero denunciar un fraude",
        "There is a charge I don't recognise",
        "Someone used my card without permission",
        "I want to report a fraudulent payment",
    ),
    _intent(
        "balance",
        None,
        "saldo|balance",
        "¿Cuál es mi saldo?",
        "Quiero saber cuánto dinero tengo en la cuenta",
        "Consultar el saldo de la cuenta corriente",
        "Dime el saldo disponible",
        "¿Cuánto me queda en la cuenta?",
        "What is my balance?",
        "How much money do I have in my account",
        "Check my account balance",
        self_service="balance",
    ),
    _intent(
        "mortgage",
        "hipotecas",
        "hipoteca|mortgage",
        "¿Qué documentación necesito para la hipoteca?",
        "Quiero información sobre hipotecas",
        "¿Qué interés tiene la hipoteca fija?",
        "Me gustaría pedir una hipoteca",
        "Amortizar parte de mi préstamo hipotecario",
        "I would like to apply for a mortgage",
        "What are your mortgage rates",
        "Documents needed for a home loan",
    ),
    _intent(
        "transfer_status",
        "general",
        "transferencia|transfer",
        "Mi transferencia no ha llegado",
        "¿Cuándo llega una transferencia internacional?",
        "Hice una transferencia ayer y no aparece",
        "La transferencia está retenida",
        "Quiero saber el estado de mi transferencia",
        "My transfer has not arrived",
        "Where is the money I sent yesterday",
        "How long does a bank transfer take",
    ),
    _intent(
        "ticket_status",
        None,
        "incidencia|reclamación|ticket",
        "¿Cómo va mi reclamación?",
        "Quiero saber el estado de mi incidencia",
        "Abrí una queja la semana pasada y no sé nada",
        "Consultar mi número de incidencia",
        "¿Han resuelto ya mi reclamación?",
        "What is the status of my ticket?",
        "Any news on my complaint",
        "Check my case number",
        self_service="ticket_status",
    ),
    _intent(
        "change_address",
        "general",
        "dirección|direccion|domicilio|address",
        "Me he mudado y quiero cambiar mi dirección",
        "Actualizar mi domicilio",
        "Tengo una dirección nueva",
        "Cambiar la dirección postal de la cuenta",
        "Quiero modificar mis datos de contacto",
        "I moved and need to update my address",
        "Change my postal address",
        "Update my home address please",
    ),
)
TELECOM = (
    _intent(
        "no_internet",
        "soporte",
        "internet|conexión|wifi",
        "No tengo internet en casa",
        "Se me cae la conexión todo el rato",
        "El wifi no funciona desde ayer",
        "El módem tiene una luz roja",
        "Internet va muy lento",
        "My internet is down",
        "The wifi keeps dropping",
        "No connection since yesterday",
    ),
    _intent(
        "bill_query",
        "facturacion",
        "factura|cobro|bill",
        "Mi factura viene más alta este mes",
        "No entiendo un cargo de mi factura",
        "¿Por qué me cobraron de más?",
        "Quiero una copia de mi factura",
        "Me han cobrado dos veces",
        "My bill is higher than usual",
        "Why was I charged twice",
        "I need a copy of my invoice",
    ),
    _intent(
        "port_number",
        "ventas",
        "portabilidad|portar|port",
        "Quiero traer mi número de otra compañía",
        "¿Cómo hago la portabilidad?",
        "Cambiarme a ustedes sin perder mi número",
        "Portar mi línea a Movilia",
        "¿Cuánto tarda la portabilidad?",
        "I want to keep my number when switching",
        "How do I port my number",
        "Move my line from another carrier",
    ),
    _intent(
        "change_plan",
        "ventas",
        "plan|datos|megas",
        "¿Puedo pasar a un plan con más datos?",
        "Quiero cambiar de plan",
        "Me quedo sin megas cada mes",
        "¿Qué planes tienen con llamadas ilimitadas?",
        "Bajar a un plan más barato",
        "I want a plan with more data",
        "Upgrade my plan",
        "Switch to a cheaper plan",
    ),
    _intent(
        "pay_bill",
        None,
        "pagar|pago|pay",
        "Quiero pagar mi factura",
        "¿Dónde puedo pagar?",
        "Pagar con tarjeta el recibo",
        "Hacer un pago de mi saldo pendiente",
        "¿Cómo pago la mensualidad?",
        "I want to pay my bill",
        "How can I pay",
        "Make a payment",
        self_service="pay_bill",
    ),
)
FLOWERS = (
    _intent(
        "order_status",
        "orders",
        "where|arrived|tracking|pedido",
        "Where is my order?",
        "My bouquet hasn't arrived",
        "Track my delivery",
        "When will my flowers arrive",
        "The order was due this morning",
        "¿Dónde está mi pedido?",
        "Mis flores no han llegado",
        "Seguimiento de mi envío",
    ),
    _intent(
        "change_delivery",
        "orders",
        "change|move|reschedule|cambiar",
        "Can I move my delivery to Saturday?",
        "Change the delivery date",
        "I need to reschedule my order",
        "Deliver to a different address",
        "Can the flowers come tomorrow instead",
        "Quiero cambiar la fecha de entrega",
        "Cambiar la dirección de entrega",
        "Entregar el sábado en vez del viernes",
    ),
    _intent(
        "damaged_flowers",
        "complaints",
        "damaged|wilted|broken|dañadas",
        "The roses arrived wilted",
        "My flowers came damaged",
        "The vase was broken",
        "The bouquet looks nothing like the picture",
        "Half the flowers are dead",
        "Las flores llegaron marchitas",
        "El jarrón llegó roto",
        "Quiero reclamar por mi ramo",
    ),
    _intent(
        "corporate",
        "sales",
        "office|corporate|weekly|empresa",
        "Do you offer weekly flowers for offices?",
        "Corporate subscription prices",
        "Flowers for our reception every Monday",
        "I want a business account",
        "Event flowers for a company dinner",
        "Flores para la oficina cada semana",
        "Suscripción para empresas",
        "Presupuesto de flores para un evento de empresa",
    ),
)
# Requests no demo tenant handles: they teach every model what out of scope looks like.
OUT_OF_SCOPE = (
    "¿Qué tiempo hace mañana?",
    "Cuéntame un chiste",
    "Pon música",
    "¿Quién ganó el partido?",
    "What's the weather like",
    "Tell me a joke",
    "Play some music",
    "Who won the game last night",
    "Recomiéndame una receta",
    "Set an alarm for 7am",
)
DEMO_INTENTS: dict[str, tuple[DemoIntent, ...]] = {
    "banco-horizonte": BANK,
    "movilia": TELECOM,
    "bloom-flowers": FLOWERS,
}


def demo_examples(intents: tuple[DemoIntent, ...]) -> list[Example]:
    examples = [Example(text, i.name) for i in intents for text in i.examples]
    return examples + [Example(text, OOS) for text in OUT_OF_SCOPE]


async def seed_intents(session: AsyncSession, tenant_id: uuid.UUID, slug: str) -> int:
    """Routes, examples and a first model for a demo tenant (the session scoped to it); the
    number of intents."""
    intents = DEMO_INTENTS.get(slug, ())
    for intent in intents:
        await set_intent_route(
            session,
            tenant_id,
            intent.name,
            queue=intent.queue,
            self_service=intent.self_service,
            keywords=list(intent.keywords),
        )
    if intents:
        examples = demo_examples(intents)
        await training.store_examples(session, tenant_id, examples, replace=True)
        await training.train(
            session, tenant_id, threshold=DEMO_THRESHOLD, use_embeddings=False, examples=examples
        )
    return len(intents)


DEMO_THRESHOLD = 0.3
