"""LoCoMo recall@10: does the memory store find the turns that answer a question?

Each of LoCoMo's conversations is one user's (a uid of its own). Every turn
is remembered as a `conversation` memory at its session's date (the store's
clock is simulated: each turn 30 s after the one before, from the session's
date). Then, for each question, the store recalls its top 10 and it is a hit
when an evidence turn is among them; a survivor of consolidation's merging
also stands for the turns merged into it (its provenance).

- baseline: plain cosine over the same embeddings of the same turns (no
  scoring, no tiers, nothing forgotten), top 10 per conversation;
- noos: the store as the service runs it: consolidating before each session
  starts and once before the questions, as its periodic job would have by
  then, so what decayed below the prune threshold over the months a LoCoMo
  conversation spans is forgotten. Each question is asked of a fresh copy of
  that state: a recall promotes what it returns (recency 1, importance up),
  which would change the ranking of the questions after it;
- noos, asked in a row: the same, all questions on one store, as a user
  asking them one after another would;
- noos, never consolidated: the store's scoring alone (relevance, recency,
  importance), to tell which part of the store moves the figure;
- noos, relevance only: never consolidated and scoring by cosine alone, a
  check of this harness: it must match the baseline (the turns of one
  conversation all fit the hot tier, searched exactly).

Questions are asked one hour after a conversation's last turn, in the
dataset's order. Category 5 (adversarial: the answer is not in the
conversation) is reported apart and left out of the overall figure, as
published tables do.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from noosd.memory.core.config import MemoryConfig, ScoreWeights
from noosd.memory.store import MemoryStore
from tests.bench.support import locomo
from tests.bench.support.embedding import CachingEmbedder, Vectors, cached_embedder
from tests.bench.support.tables import print_table, verdict

LIMIT = 10
UID_BASE = 70_000
ASKED_AFTER_S = 3600.0
TEMPORAL = 2

T = TypeVar("T")


@dataclass
class Tally:
    """Hits per category."""

    hits: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    asked: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, category: int, hit: bool) -> None:
        self.asked[category] += 1
        self.hits[category] += hit

    def rate(self, categories: Sequence[int]) -> float:
        asked = sum(self.asked[c] for c in categories)
        return sum(self.hits[c] for c in categories) / asked if asked else float("nan")


@dataclass
class StoreRun:
    """Hits with each question on a fresh copy of the remembered state, and asked in a row."""

    isolated: Tally = field(default_factory=Tally)
    in_a_row: Tally = field(default_factory=Tally)
    forgotten: int = 0
    merged: int = 0


def cosine_baseline(conversations: list[locomo.Conversation], embedder: CachingEmbedder) -> Tally:
    tally = Tally()
    for conversation in conversations:
        turns: Vectors = embedder.embed([turn.text for turn in conversation.turns])
        questions = embedder.embed([question.text for question in conversation.questions])
        top = np.argsort(-(questions @ turns.T), axis=1)[:, :LIMIT]
        for question, rows in zip(conversation.questions, top, strict=True):
            found = {conversation.turns[row].dia_id for row in rows}
            tally.add(question.category, bool(found & question.evidence))
    return tally


def remember(
    state: Path,
    uid: int,
    conversation: locomo.Conversation,
    embedder: CachingEmbedder,
    config: MemoryConfig | None,
    consolidating: bool,
    run: StoreRun,
) -> dict[str, str]:
    """Every turn of a conversation into a store at `state`; the dia_id of each memory id."""
    clock = [0.0]
    store = MemoryStore(state, embedder, config, clock=lambda: clock[0])

    def consolidate() -> None:
        report = store.consolidate()
        run.forgotten += report.pruned
        run.merged += report.merged

    dia_of: dict[str, str] = {}
    session = None
    for turn in conversation.turns:
        this_session = turn.dia_id.split(":")[0]
        clock[0] = turn.said_at
        if consolidating and this_session != session:
            consolidate()  # the periodic job, run before the session starts
        session = this_session
        metadata = {"dia_id": turn.dia_id, "speaker": turn.speaker}
        dia_of[store.remember(uid, turn.text, "conversation", metadata).id] = turn.dia_id
    clock[0] = asked_at(conversation)
    if consolidating:
        consolidate()
    store.close()
    return dia_of


def asked_at(conversation: locomo.Conversation) -> float:
    return conversation.turns[-1].said_at + ASKED_AFTER_S


def answered(
    store: MemoryStore, uid: int, question: locomo.Question, dia_of: dict[str, str]
) -> bool:
    """Whether an evidence turn is among the top 10, or merged into one of them."""
    found = {
        dia_of.get(memory_id, "")
        for hit in store.recall(uid, question.text, LIMIT)
        for memory_id in (hit.memory.id, *hit.memory.provenance)
    }
    return bool(found & question.evidence)


def store_run(
    conversations: list[locomo.Conversation],
    embedder: CachingEmbedder,
    consolidating: bool,
    config: MemoryConfig | None = None,
    isolated: bool = True,
    in_a_row: bool = False,
) -> StoreRun:
    """The questions asked of the store: each on a fresh copy of the remembered state
    (a recall promotes what it returns, so it would change the next one's ranking),
    and, if asked, in a row on one store as a user would."""
    run = StoreRun()
    for n, conversation in enumerate(conversations):
        uid = UID_BASE + n
        with tempfile.TemporaryDirectory(prefix="noos-locomo-") as scratch:
            state = Path(scratch) / "state"
            dia_of = remember(state, uid, conversation, embedder, config, consolidating, run)

            def clock(conversation: locomo.Conversation = conversation) -> float:
                return asked_at(conversation)

            probe = Path(scratch) / "probe"
            for question in conversation.questions if isolated else ():
                shutil.copytree(state, probe)
                store = MemoryStore(probe, embedder, config, clock=clock)
                run.isolated.add(question.category, answered(store, uid, question, dia_of))
                store.close()
                shutil.rmtree(probe)
            if in_a_row:
                store = MemoryStore(state, embedder, config, clock=clock)
                for question in conversation.questions:
                    run.in_a_row.add(question.category, answered(store, uid, question, dia_of))
                store.close()
    return run


def timed(label: str, work: Callable[[], T]) -> T:
    start = time.monotonic()
    result = work()
    print(f"  {label}: {time.monotonic() - start:.0f} s", flush=True)
    return result


def main() -> None:
    print(f"Data: {locomo.ATTRIBUTION}")
    conversations = locomo.load()
    embedder = cached_embedder("locomo")
    texts = [t.text for c in conversations for t in c.turns]
    texts += [q.text for c in conversations for q in c.questions]
    timed(f"embedding {len(texts):,} turns and questions", lambda: embedder.embed(texts))
    embedder.save()

    cosine = cosine_baseline(conversations, embedder)
    served = timed(
        "noos store",
        lambda: store_run(conversations, embedder, consolidating=True, in_a_row=True),
    )
    raw = timed(
        "noos store, never consolidated",
        lambda: store_run(conversations, embedder, consolidating=False),
    )
    relevance_only = MemoryConfig(
        weights=ScoreWeights(relevance=1.0, recency=0.0, importance=0.0, time_reference=0.0)
    )
    # Scoring by relevance alone, a recall's promotions change no ranking: no copies needed.
    check = timed(
        "noos store, relevance only",
        lambda: store_run(
            conversations, embedder, False, relevance_only, isolated=False, in_a_row=True
        ),
    )

    def cells(name: str, categories: list[int]) -> tuple[object, ...]:
        noos, base = served.isolated.rate(categories), cosine.rate(categories)
        return (
            name,
            sum(cosine.asked[c] for c in categories),
            f"{base:.3f}",
            f"{noos:.3f}",
            f"{noos - base:+.3f}",
            f"{served.in_a_row.rate(categories):.3f}",
            f"{raw.isolated.rate(categories):.3f}",
            f"{check.in_a_row.rate(categories):.3f}",
        )

    answerable = [c for c in locomo.CATEGORIES if c != locomo.ADVERSARIAL]
    rows = [cells(f"{locomo.CATEGORIES[c]} ({c})", [c]) for c in answerable]
    rows.append(cells("overall (1-4)", answerable))
    rows.append(cells("adversarial (5), apart", [locomo.ADVERSARIAL]))
    turns = sum(len(c.turns) for c in conversations)
    dropped = sum(c.questions_without_evidence for c in conversations)
    print_table(
        f"LoCoMo recall@{LIMIT}: {len(conversations)} conversations, {turns:,} turns "
        f"({dropped} questions without a valid evidence id left out)",
        (
            "category",
            "questions",
            "cosine",
            "noos",
            "noos-cosine",
            "noos, asked in a row",
            "noos, no consolidation",
            "noos, relevance only",
        ),
        rows,
    )
    print(
        f"noos consolidation forgot {served.forgotten:,} of {turns:,} turns before the "
        f"questions and merged {served.merged:,} near-duplicates"
    )
    overall = (served.isolated.rate(answerable), cosine.rate(answerable))
    temporal = (served.isolated.rate([TEMPORAL]), cosine.rate([TEMPORAL]))
    print_table(
        "",
        ("goal", "measured", "verdict"),
        [
            (
                "overall (1-4) >= cosine",
                f"{overall[0]:.3f} vs {overall[1]:.3f}",
                verdict(overall[0] >= overall[1]),
            ),
            (
                "temporal (2) > cosine",
                f"{temporal[0]:.3f} vs {temporal[1]:.3f}",
                verdict(temporal[0] > temporal[1]),
            ),
        ],
    )


if __name__ == "__main__":
    main()
