"""What use teaches the ranking: signals with weights, decayed by age, blended with relevance.

Each article carries one use score, decayed exponentially (``HALF_LIFE``) and stored with the
moment it was last brought up to date, so a signal is one row update and ranking reads no history.
Clicks are also remembered per question (the query's key), so an article people pick for one
question rises for that question without rising for every other.
"""

import math
from datetime import datetime, timedelta

from sqlalchemy import Subquery, case, func, select

from centralita.knowledge.models import Article, EventKind, KnowledgeEvent

HALF_LIFE = timedelta(days=30)
# What each signal says about an article: a vote or a resolution says more than a click.
WEIGHTS: dict[EventKind, float] = {
    EventKind.CLICK: 1.0,
    EventKind.HELPFUL: 3.0,
    EventKind.UNHELPFUL: -3.0,
    EventKind.INSERTION: 2.0,
    EventKind.RESOLUTION: 4.0,
}
# How far use may move an article: relevance (0..1) stays the larger part of the score.
USE_WEIGHT = 0.25
QUESTION_WEIGHT = 0.35
# Scores at which the boosts are three quarters of their maximum.
USE_SCALE = 4.0
QUESTION_SCALE = 2.0
QUESTION_MEMORY = timedelta(days=180)


def decayed(score: float, since: datetime, now: datetime) -> float:
    age = max((now - since).total_seconds(), 0.0)
    return float(score * 0.5 ** (age / HALF_LIFE.total_seconds()))


def add_signal(article: Article, kind: EventKind, now: datetime) -> None:
    """Bring the article's use score up to ``now`` and add the signal's weight to it."""
    weight = WEIGHTS.get(kind)
    if weight is None:
        return
    article.signal_score = decayed(article.signal_score, article.signal_at, now) + weight
    article.signal_at = now


def blend(relevance: float, article: Article, question_clicks: int, now: datetime) -> float:
    use = math.tanh(decayed(article.signal_score, article.signal_at, now) / USE_SCALE)
    question = math.tanh(question_clicks / QUESTION_SCALE)
    return relevance + USE_WEIGHT * use + QUESTION_WEIGHT * question


def question_clicks(key: str, now: datetime) -> Subquery:
    """How often each article was picked, recently, from a search for the same question
    (``article_id``, ``clicks``).

    The age is counted rather than filtered on, and the grouping is by an expression, so the only
    index that fits is the question's: SQLite, without statistics, would otherwise read every
    recent click, or every event, of the tenant."""
    recent = case((KnowledgeEvent.created_at >= now - QUESTION_MEMORY, 1), else_=0)
    article = func.coalesce(KnowledgeEvent.article_id, KnowledgeEvent.article_id)
    return (
        select(article.label("article_id"), func.sum(recent).label("clicks"))
        .where(KnowledgeEvent.query_key == key, KnowledgeEvent.kind == EventKind.CLICK)
        .group_by(article)
        .subquery()
    )
