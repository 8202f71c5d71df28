"""The demo's knowledge bases: a few dozen articles per company, in Spanish and English.

Each entry is one article and its translation; most are published and public, a few are internal
notes for agents, one is still a draft. ``centralita demo`` calls :func:`seed_knowledge` for each
company inside its tenant scope.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from centralita.events.service import Actor
from centralita.knowledge import service
from centralita.knowledge.models import ArticleState, Visibility
from centralita.knowledge.schemas import ArticleCreate, CategoryIn, SynonymsIn


@dataclass(frozen=True)
class Entry:
    category: str
    es: tuple[str, str, str]
    en: tuple[str, str, str]
    visibility: Visibility = Visibility.PUBLIC
    state: ArticleState = ArticleState.PUBLISHED


V, S = Visibility, ArticleState

BANK = [
    Entry(
        "Tarjetas",
        (
            "Bloquear una tarjeta perdida o robada",
            "Bloquéala al momento y pide una nueva.",
            "1. Abre la app y entra en **Tarjetas**.\n2. Elige la tarjeta y pulsa *Bloquear*.\n"
            "3. Pide el duplicado: llega en 3 a 5 días laborables.\n\nTambién puedes llamar al "
            "900 100 200, las 24 horas.",
        ),
        (
            "Block a lost or stolen card",
            "Block it at once and order a new one.",
            "1. Open the app and go to **Cards**.\n2. Choose the card and tap *Block*.\n"
            "3. Order a replacement: it arrives in 3 to 5 working days.\n\nYou can also call "
            "900 100 200, day and night.",
        ),
    ),
    Entry(
        "Tarjetas",
        (
            "Cambiar el PIN de la tarjeta",
            "Desde cualquier cajero de la red o en la app.",
            "En el cajero, elige *Otras operaciones* → *Cambiar PIN*. En la app, **Tarjetas** → "
            "*Ver PIN* te lo muestra tras confirmar con tu huella.",
        ),
        (
            "Change your card PIN",
            "At any of our cash machines or in the app.",
            "At a cash machine choose *Other services* → *Change PIN*. In the app, **Cards** → "
            "*Show PIN* reveals it after you confirm with your fingerprint.",
        ),
    ),
    Entry(
        "Tarjetas",
        (
            "Aumentar el límite de la tarjeta de crédito",
            "Hasta el límite que te concedamos.",
            "Solicítalo en **Tarjetas** → *Límites*. La respuesta es inmediata para la mayoría de "
            "clientes; si necesitamos más datos te llamaremos en 48 horas.",
        ),
        (
            "Raise your credit card limit",
            "Up to the limit we can offer you.",
            "Ask for it in **Cards** → *Limits*. Most customers get an answer at once; if we "
            "need more information we will call you within 48 hours.",
        ),
    ),
    Entry(
        "Cuentas",
        (
            "Descargar un certificado de titularidad",
            "Un PDF firmado, al instante.",
            "Entra en **Cuentas**, elige la cuenta y pulsa *Certificados* → *Titularidad*. El "
            "documento lleva firma electrónica y vale para tu empresa o la administración.",
        ),
        (
            "Download a proof of account ownership",
            "A signed PDF, straight away.",
            "Go to **Accounts**, pick the account and tap *Certificates* → *Ownership*. The "
            "document is electronically signed and valid for employers and public offices.",
        ),
    ),
    Entry(
        "Cuentas",
        (
            "Comisiones de la cuenta corriente",
            "Sin comisiones con la nómina domiciliada.",
            "La cuenta no tiene comisiones si domicilias una nómina o pensión de al menos 600 €. "
            "Si no, el mantenimiento cuesta 5 € al mes.",
        ),
        (
            "Current account fees",
            "No fees when your salary is paid in.",
            "The account is free if a salary or pension of at least €600 is paid into it. "
            "Otherwise maintenance costs €5 a month.",
        ),
    ),
    Entry(
        "Transferencias",
        (
            "Hacer una transferencia inmediata",
            "Llega en segundos, también en festivo.",
            "En **Pagos** → *Transferencia* marca *Inmediata*. Es gratuita hasta 15.000 € por "
            "operación. Comprueba el IBAN: una transferencia inmediata no se puede anular.",
        ),
        (
            "Make an instant transfer",
            "It arrives in seconds, even on holidays.",
            "In **Payments** → *Transfer* tick *Instant*. It is free up to €15,000 per "
            "transfer. Check the IBAN: an instant transfer cannot be cancelled.",
        ),
    ),
    Entry(
        "Transferencias",
        (
            "Devolver un recibo domiciliado",
            "Tienes ocho semanas desde el cargo.",
            "En **Movimientos** abre el recibo y pulsa *Devolver*. Te abonamos el importe en el "
            "día; el emisor puede volver a cobrarlo si la deuda es real.",
        ),
        (
            "Return a direct debit",
            "You have eight weeks from the charge.",
            "In **Transactions** open the debit and tap *Return*. We refund it the same day; "
            "the company may charge again if the debt is genuine.",
        ),
    ),
    Entry(
        "Seguridad",
        (
            "Reconocer un fraude por SMS o correo",
            "Nunca te pediremos claves por mensaje.",
            "Desconfía de mensajes urgentes con enlaces. **Banco Horizonte nunca pide tu PIN ni "
            "tus claves**. Si has pulsado un enlace, bloquea tu tarjeta y llámanos.",
        ),
        (
            "Spot SMS and email fraud",
            "We will never ask for your codes in a message.",
            "Be wary of urgent messages with links. **Banco Horizonte never asks for your PIN "
            "or passwords**. If you tapped a link, block your card and call us.",
        ),
    ),
    Entry(
        "Seguridad",
        (
            "Recuperar la contraseña de la banca online",
            "Con tu DNI y un código por SMS.",
            "En la pantalla de acceso pulsa *¿Has olvidado tu contraseña?*, escribe tu DNI y el "
            "código que te enviamos al móvil. Elige una contraseña nueva de 8 caracteres.",
        ),
        (
            "Reset your online banking password",
            "With your ID and a code by SMS.",
            "On the sign-in screen tap *Forgot your password?*, enter your ID number and the code "
            "we text you. Choose a new password of 8 characters.",
        ),
    ),
    Entry(
        "Hipotecas",
        (
            "Amortizar parte de la hipoteca",
            "Reduce cuota o plazo, tú eliges.",
            "Puedes adelantar capital desde 1.000 €. En **Préstamos** → *Amortizar* eliges "
            "reducir la cuota o el plazo. La comisión es del 0,25 % en los primeros cinco años.",
        ),
        (
            "Pay off part of your mortgage",
            "Lower the instalment or the term, as you prefer.",
            "You can repay from €1,000. In **Loans** → *Repay* choose a lower instalment or a "
            "shorter term. The fee is 0.25% during the first five years.",
        ),
    ),
    Entry(
        "Procedimientos internos",
        (
            "Verificar la identidad antes de un cambio de datos",
            "Tres preguntas de seguridad.",
            "Antes de cambiar teléfono o correo: fecha de nacimiento, últimos movimientos y PIN "
            "telefónico. Si falla una, **no** hagas el cambio y ofrece cita en oficina.",
        ),
        (
            "Verify identity before changing contact details",
            "Three security questions.",
            "Before changing a phone or email: date of birth, recent transactions and phone "
            "PIN. If one fails, do **not** make the change; offer a branch appointment.",
        ),
        visibility=V.INTERNAL,
    ),
    Entry(
        "Procedimientos internos",
        (
            "Escalar una reclamación al servicio de atención al cliente",
            "Plazo: 48 horas.",
            "Crea un ticket de categoría *Reclamación*, adjunta la grabación y asígnalo al equipo "
            "de segundo nivel.",
        ),
        (
            "Escalate a complaint to customer care",
            "Deadline: 48 hours.",
            "Open a ticket in the *Complaint* category, attach the recording and assign it to "
            "the second-level team.",
        ),
        visibility=V.INTERNAL,
        state=S.DRAFT,
    ),
]

TELECOM = [
    Entry(
        "Facturación",
        (
            "Consultar y descargar tu factura",
            "Todas tus facturas de los últimos 24 meses.",
            "En **Mi Movilia** → *Facturación* verás cada factura con su detalle de consumo. "
            "Pulsa *Descargar PDF* para guardarla.",
        ),
        (
            "See and download your bill",
            "Every bill from the last 24 months.",
            "In **My Movilia** → *Billing* you see each bill with its usage detail. Tap "
            "*Download PDF* to save it.",
        ),
    ),
    Entry(
        "Facturación",
        (
            "Por qué mi factura es más alta este mes",
            "Prorrateos, consumos extra y promociones.",
            "Suele deberse a: el prorrateo de un cambio de plan, llamadas a números especiales, "
            "datos fuera de tu paquete o el fin de una promoción. Revisa *Detalle de consumo*.",
        ),
        (
            "Why my bill is higher this month",
            "Pro-rata, extra usage and promotions.",
            "Usually it is one of: a plan change charged pro rata, calls to premium numbers, data "
            "beyond your bundle or the end of a promotion. Check *Usage detail*.",
        ),
    ),
    Entry(
        "Facturación",
        (
            "Cambiar el método de pago",
            "Tarjeta o domiciliación bancaria.",
            "En **Mi Movilia** → *Pagos* añade una tarjeta o una CLABE. El cambio aplica a la "
            "siguiente factura.",
        ),
        (
            "Change your payment method",
            "Card or direct debit.",
            "In **My Movilia** → *Payments* add a card or a bank account. The change applies "
            "from your next bill.",
        ),
    ),
    Entry(
        "Roaming",
        (
            "Activar el roaming para viajar",
            "Estados Unidos y Canadá incluidos en tu plan.",
            "El roaming se activa desde **Mi Movilia** → *Servicios* → *Roaming*. En Estados "
            "Unidos y Canadá usas tus minutos y datos sin costo extra.",
        ),
        (
            "Turn on roaming to travel",
            "USA and Canada included in your plan.",
            "Turn roaming on in **My Movilia** → *Services* → *Roaming*. In the USA and Canada "
            "you use your minutes and data at no extra cost.",
        ),
    ),
    Entry(
        "Línea",
        (
            "Portar tu número a Movilia",
            "Conserva tu número; el cambio tarda 24 horas.",
            "Solicita la portabilidad con tu NIP, que te da tu compañía actual al marcar 051. "
            "Tu línea cambia en un día hábil.",
        ),
        (
            "Bring your number to Movilia",
            "Keep your number; it takes 24 hours.",
            "Request the port with your NIP, which your current provider gives you when you "
            "dial 051. Your line moves within one working day.",
        ),
    ),
    Entry(
        "Línea",
        (
            "Reportar un celular robado",
            "Suspendemos la línea y bloqueamos el equipo.",
            "Llama al *611 desde otro teléfono o entra en **Mi Movilia** → *Reportar robo*. "
            "Suspendemos la línea y bloqueamos el IMEI; tu chip nuevo cuesta 50 pesos.",
        ),
        (
            "Report a stolen phone",
            "We suspend the line and block the handset.",
            "Call *611 from another phone or go to **My Movilia** → *Report theft*. We suspend "
            "the line and block the IMEI; a new SIM costs 50 pesos.",
        ),
    ),
    Entry(
        "Internet en casa",
        (
            "El internet en casa va lento",
            "Reinicia el módem y prueba por cable.",
            "1. Reinicia el módem 30 segundos.\n2. Mide la velocidad conectado por cable.\n"
            "3. Si sigue por debajo del 70 % de lo contratado, abre una solicitud y haremos "
            "una prueba remota.",
        ),
        (
            "Home internet is slow",
            "Restart the modem and test over a cable.",
            "1. Restart the modem for 30 seconds.\n2. Test the speed over a cable.\n3. If it "
            "stays below 70% of your plan, open a request and we will run a remote test.",
        ),
    ),
    Entry(
        "Internet en casa",
        (
            "Cambiar la contraseña del wifi",
            "Desde la app o en 192.168.1.1.",
            "En la app **Movilia Hogar** → *Wifi* → *Contraseña*. También desde el navegador en "
            "192.168.1.1 con el usuario de la etiqueta del módem.",
        ),
        (
            "Change the wifi password",
            "From the app or at 192.168.1.1.",
            "In the **Movilia Home** app → *Wifi* → *Password*. Or in a browser at 192.168.1.1 "
            "with the user printed on the modem's label.",
        ),
    ),
    Entry(
        "Procedimientos internos",
        (
            "Ofrecer retención antes de una baja",
            "Descuento del 20 % durante seis meses.",
            "Antes de tramitar una baja, ofrece el plan de retención: 20 % de descuento seis "
            "meses o 10 GB extra. Registra la oferta en el ticket.",
        ),
        (
            "Offer a retention deal before a cancellation",
            "20% off for six months.",
            "Before processing a cancellation, offer the retention plan: 20% off for six months "
            "or 10 GB extra. Record the offer in the ticket.",
        ),
        visibility=V.INTERNAL,
    ),
]

FLOWERS = [
    Entry(
        "Delivery",
        (
            "Seguir tu pedido",
            "El repartidor te avisa una hora antes.",
            "Sigue tu pedido desde el enlace del correo de confirmación. El día de la entrega "
            "recibirás un SMS con la franja de una hora.",
        ),
        (
            "Track your order",
            "The driver lets you know an hour before.",
            "Follow your order from the link in your confirmation email. On delivery day you get "
            "a text with a one-hour slot.",
        ),
    ),
    Entry(
        "Delivery",
        (
            "Entrega el mismo día",
            "Pide antes de las 14:00, de lunes a sábado.",
            "Los pedidos hechos antes de las 14:00 llegan el mismo día en Londres, Manchester y "
            "Edimburgo, de lunes a sábado.",
        ),
        (
            "Same-day delivery",
            "Order before 2 pm, Monday to Saturday.",
            "Orders placed before 2 pm arrive the same day in London, Manchester and Edinburgh, "
            "Monday to Saturday.",
        ),
    ),
    Entry(
        "Delivery",
        (
            "Qué pasa si no hay nadie en casa",
            "Lo dejamos en lugar seguro o con un vecino.",
            "El repartidor deja las flores en un lugar seguro o con un vecino y te manda una "
            "foto. Si no es posible, las traemos de vuelta y te llamamos.",
        ),
        (
            "What if nobody is home",
            "We leave it somewhere safe or with a neighbour.",
            "The driver leaves the flowers somewhere safe or with a neighbour and sends you a "
            "photo. If neither is possible, we bring them back and call you.",
        ),
    ),
    Entry(
        "Orders",
        (
            "Cambiar el mensaje de la tarjeta",
            "Hasta las 20:00 del día anterior.",
            "En **Mis pedidos** pulsa *Editar mensaje*. Puedes cambiarlo hasta las 20:00 del día "
            "anterior a la entrega.",
        ),
        (
            "Change the gift card message",
            "Until 8 pm the day before.",
            "In **My orders** tap *Edit message*. You can change it until 8 pm the day before "
            "delivery.",
        ),
    ),
    Entry(
        "Orders",
        (
            "Cancelar un pedido",
            "Reembolso completo hasta 24 horas antes.",
            "Cancela desde **Mis pedidos** hasta 24 horas antes de la entrega y te devolvemos "
            "todo. Después, ofrecemos cambiar la fecha sin coste.",
        ),
        (
            "Cancel an order",
            "Full refund up to 24 hours before.",
            "Cancel from **My orders** up to 24 hours before delivery for a full refund. After "
            "that, we offer to change the date for free.",
        ),
    ),
    Entry(
        "Orders",
        (
            "Flores marchitas o dañadas",
            "Envíanos una foto y las reponemos.",
            "Si las flores llegan dañadas o se marchitan antes de cinco días, envíanos una foto "
            "desde **Mis pedidos** → *Reclamar* y te mandamos otro ramo o te devolvemos el "
            "dinero.",
        ),
        (
            "Wilted or damaged flowers",
            "Send us a photo and we will replace them.",
            "If the flowers arrive damaged or wilt within five days, send us a photo from **My "
            "orders** → *Claim* and we send a new bouquet or refund you.",
        ),
    ),
    Entry(
        "Subscriptions",
        (
            "Pausar la suscripción de flores",
            "Salta una entrega o pausa hasta tres meses.",
            "En **Suscripción** elige *Saltar la próxima* o *Pausar*. Puedes pausar hasta tres "
            "meses sin perder tu precio.",
        ),
        (
            "Pause your flower subscription",
            "Skip one delivery or pause up to three months.",
            "In **Subscription** choose *Skip next* or *Pause*. You can pause for up to three "
            "months and keep your price.",
        ),
    ),
    Entry(
        "Care",
        (
            "Cuidar tus flores para que duren más",
            "Agua fresca y tallos cortados en diagonal.",
            "Corta los tallos 2 cm en diagonal, cambia el agua cada dos días y aleja el jarrón "
            "del sol directo y de la fruta.",
        ),
        (
            "Care for your flowers so they last",
            "Fresh water and stems cut at an angle.",
            "Cut the stems 2 cm at an angle, change the water every two days and keep the vase "
            "away from direct sun and fruit.",
        ),
    ),
    Entry(
        "Internal",
        (
            "Reembolsos de más de 100 libras",
            "Necesitan la aprobación de un supervisor.",
            "Para reembolsos de más de 100 libras abre un ticket a *Supervisores* con la foto "
            "del cliente; no prometas plazo hasta que se apruebe.",
        ),
        (
            "Refunds over £100",
            "They need a supervisor's approval.",
            "For refunds over £100 open a ticket to *Supervisors* with the customer's photo; do "
            "not promise a date until it is approved.",
        ),
        visibility=V.INTERNAL,
    ),
]

KNOWLEDGE: dict[str, list[Entry]] = {
    "banco-horizonte": BANK,
    "movilia": TELECOM,
    "bloom-flowers": FLOWERS,
}
SYNONYMS: dict[str, list[tuple[str, list[str]]]] = {
    "banco-horizonte": [("es", ["clave", "contraseña", "password"]), ("es", ["recibo", "cargo"])],
    "movilia": [("es", ["celular", "móvil", "teléfono"]), ("es", ["chip", "sim"])],
    "bloom-flowers": [("en", ["bouquet", "flowers"]), ("en", ["refund", "money back"])],
}


async def seed_knowledge(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, slug: str, primary: str
) -> int:
    """The company's articles (the ``primary`` locale written first); how many were made."""
    entries = KNOWLEDGE.get(slug, [])
    categories: dict[str, uuid.UUID] = {}
    made = 0
    for entry in entries:
        if entry.category not in categories:
            category = await service.create_category(
                session, actor, tenant_id, CategoryIn(name=entry.category)
            )
            categories[entry.category] = category.id
        first_id = None
        for locale in (primary, "en" if primary == "es" else "es"):
            title, summary, body = entry.es if locale == "es" else entry.en
            article = await service.create_article(
                session,
                actor,
                tenant_id,
                ArticleCreate(
                    locale=locale,
                    title=title,
                    summary=summary,
                    body_markdown=body,
                    visibility=entry.visibility,
                    category_id=categories[entry.category],
                    translation_of=first_id,
                ),
            )
            first_id = first_id or article.id
            if entry.state != ArticleState.DRAFT:
                await service.change_state(session, actor, article.id, entry.state)
            made += 1
    for locale, terms in SYNONYMS.get(slug, []):
        await service.create_synonyms(
            session, actor, tenant_id, SynonymsIn(locale=locale, terms=terms)
        )
    # Written while the session is still this tenant's: the demo moves on to the next one.
    await session.flush()
    return made
