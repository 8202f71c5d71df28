"""The intent classifier on its own: no database, small self-made data."""

import pytest

from centralita.nlu import embeddings
from centralita.nlu.classifier import OOS, Example, IntentClassifier, NotEnoughExamples, score
from centralita.nlu.demo import BANK, FLOWERS, demo_examples

# Wordings that are not in the training set: other verbs, no accents, typos, both languages.
PARAPHRASES = [
    ("me robaron la tarjeta en el metro", "lost_card"),
    ("quiero subir el limite de credito de mi tarjeta", "card_limit"),
    ("cuanto dinero me queda en la cuenta corriente", "balance"),
    ("someone charged my card and it wasnt me", "fraud"),
    ("i have moved house, please update my address", "change_address"),
    ("how is my complaint going", "ticket_status"),
    ("la transferencia que hice el lunes no ha llegado", "transfer_status"),
    ("I'd like information about mortgage interest", "mortgage"),
]
OUT_OF_SCOPE = ["¿a qué hora juega el madrid?", "recommend me a good film", "buenas tardes"]


@pytest.fixture(scope="module")
def bank() -> IntentClassifier:
    return IntentClassifier.fit(demo_examples(BANK), use_embeddings=False, threshold=0.3)


def test_paraphrases_in_spanish_and_english_find_their_intent(bank: IntentClassifier) -> None:
    predictions = bank.predict_many([text for text, _ in PARAPHRASES])

    assert [p.best for p in predictions] == [intent for _, intent in PARAPHRASES]
    # Eight examples an intent, n-grams only: a rare paraphrase may still fall below the bar.
    assert sum(p.intent != OOS for p in predictions) >= 7


def test_requests_the_tenant_does_not_handle_are_out_of_scope(bank: IntentClassifier) -> None:
    predictions = bank.predict_many(OUT_OF_SCOPE)

    assert [p.intent for p in predictions] == [OOS] * len(OUT_OF_SCOPE)
    # The best guess is still told, with its (low) probability.
    assert all(p.best in bank.intents and p.confidence < 0.3 for p in predictions)


def test_the_threshold_trades_asking_again_against_misrouting(bank: IntentClassifier) -> None:
    text = PARAPHRASES[0][0]
    sure = bank.predict(text)

    assert bank.predict(text, threshold=0.0).intent == "lost_card"
    assert bank.predict(text, threshold=1.0).intent == OOS
    assert bank.predict(OUT_OF_SCOPE[1], threshold=0.0).intent != OOS
    assert 0.3 < sure.confidence <= 1.0


def test_an_intent_is_not_an_other_tenants_intent() -> None:
    flowers = IntentClassifier.fit(demo_examples(FLOWERS), use_embeddings=False)

    assert set(flowers.intents) == {i.name for i in FLOWERS}
    assert flowers.predict("where is my bouquet").intent == "order_status"
    assert flowers.predict("mis flores llegaron marchitas").intent == "damaged_flowers"


def test_training_needs_two_intents() -> None:
    with pytest.raises(NotEnoughExamples):
        IntentClassifier.fit([Example("hola", "greet"), Example("tiempo", OOS)])


def test_scores_count_out_of_scope_as_its_own_outcome() -> None:
    truth = ["a", "a", "b", OOS, OOS]
    predicted = ["a", OOS, "b", OOS, "a"]

    metrics = score(truth, predicted)

    assert metrics.accuracy == pytest.approx(3 / 5)
    assert metrics.in_scope_accuracy == pytest.approx(2 / 3)
    assert metrics.oos_recall == pytest.approx(1 / 2)
    assert metrics.oos_precision == pytest.approx(1 / 2)
    assert 0 < metrics.macro_f1 < 1


@pytest.mark.skipif(not embeddings.available(), reason="the embeddings extra is not installed")
def test_sentence_embeddings_join_the_n_grams_when_installed() -> None:
    model = IntentClassifier.fit(demo_examples(BANK), threshold=0.3)

    assert model.uses_embeddings
    # No word in common with the lost-card examples: only meaning links them.
    assert model.predict("somebody pinched my wallet with my bank card in it").best == "lost_card"
    assert [p.intent for p in model.predict_many(OUT_OF_SCOPE)] == [OOS] * len(OUT_OF_SCOPE)
