"""The rules every tenant starts with: rescue callbacks and abandoned-call follow-ups.

They are ordinary rules, seeded once per tenant, which the tenant may edit or switch off; the
abandoned-call policy is chosen by which of them are active (callback for valued customers by
default; the SMS follow-up for the others is offered switched off).
"""

from centralita.automation.schemas import (
    Condition,
    CreateCallback,
    RuleDefinition,
    SendMessage,
    SendSurvey,
)

VALUED = ["gold", "platinum"]
# Callers who hung up sooner had barely waited: nothing to follow up.
SHORT_ABANDON_SECONDS = 10

DEFAULT_RULES: dict[str, RuleDefinition] = {
    "survey_after_contact": RuleDefinition(
        name="Survey after each contact",
        trigger="interaction.completed",
        actions=[SendSurvey(type="send_survey")],
        position=10,
    ),
    "rescue_low_survey": RuleDefinition(
        name="Rescue callback: low survey answer from a valued customer",
        trigger="survey.answered",
        conditions=[
            Condition(field="event.low", op="eq", value=True),
            Condition(field="customer.value_tier", op="in", value=VALUED),
        ],
        actions=[
            CreateCallback(
                type="create_callback",
                queue="rescue",
                priority=8,
                reason="Rescue: low survey answer",
                expires_in_hours=72,
            )
        ],
        position=10,
    ),
    "abandoned_valued_callback": RuleDefinition(
        name="Abandoned call: call back valued customers",
        trigger="interaction.abandoned",
        conditions=[
            Condition(field="event.channel", op="eq", value="voice"),
            Condition(field="event.waited_seconds", op="ge", value=SHORT_ABANDON_SECONDS),
            Condition(field="customer.value_tier", op="in", value=["silver", *VALUED]),
        ],
        actions=[
            CreateCallback(
                type="create_callback",
                priority=6,
                reason="Abandoned call",
                expires_in_hours=24,
            )
        ],
        position=10,
        stop_processing=True,
    ),
    "abandoned_sms": RuleDefinition(
        name="Abandoned call: SMS to the other callers",
        trigger="interaction.abandoned",
        conditions=[
            Condition(field="event.channel", op="eq", value="voice"),
            Condition(field="event.waited_seconds", op="ge", value=SHORT_ABANDON_SECONDS),
        ],
        actions=[
            SendMessage(
                type="send_message",
                channel="sms",
                text={
                    "es": "Sentimos no haber podido atenderle. Le llamaremos en cuanto podamos "
                    "o puede volver a llamarnos.",
                    "en": "Sorry we could not take your call. We will call you back as soon as "
                    "we can, or you can call us again.",
                },
            )
        ],
        position=20,
        active=False,
    ),
}
