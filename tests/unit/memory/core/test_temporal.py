"""Time in texts and queries, and how much a text says."""

from __future__ import annotations

import pytest

from noosd.memory.core.kinds import IMPORTANCE_RANGE, default_importance, informativeness
from noosd.memory.core.temporal import asks_when, refers_to_time


@pytest.mark.parametrize(
    "text",
    [
        "Caroline: I went to a LGBTQ support group yesterday and it was so powerful.",
        "We moved to Lisbon in March",
        "the release ships next Tuesday",
        "she called two weeks ago",
        "meeting at 3pm",
        "born on 4/7/1990",
        "that was back in 2019",
        "I started pottery last weekend",
    ],
)
def test_texts_that_say_when(text: str) -> None:
    assert refers_to_time(text)


@pytest.mark.parametrize(
    "text",
    ["git status", "Caroline: That's so cool, thanks for sharing!", "the VPN config is on the NAS"],
)
def test_texts_that_do_not(text: str) -> None:
    assert not refers_to_time(text)


@pytest.mark.parametrize(
    "query",
    [
        "When did Caroline go to the LGBTQ support group?",
        "when is Melanie's birthday",
        "How long ago did I move?",
        "What year did Jon start his business?",
        "Remind me when was the last backup",
    ],
)
def test_queries_that_ask_when(query: str) -> None:
    assert asks_when(query)


@pytest.mark.parametrize(
    "query", ["where is the deploy key?", "what did Alice say about atlas?", "who fixed the build"]
)
def test_queries_that_do_not(query: str) -> None:
    assert not asks_when(query)


def test_informativeness_grows_with_words_up_to_forty() -> None:
    assert informativeness("") == 0
    assert informativeness("lol thanks") == pytest.approx(2 / 40)
    assert informativeness(" ".join(["word"] * 80)) == 1


def test_a_conversation_turn_that_says_something_matters_more() -> None:
    least, most = IMPORTANCE_RANGE["conversation"]
    chit_chat = default_importance("conversation", "lol, thanks!")
    telling = default_importance(
        "conversation",
        "We finally moved to Lisbon in March because I got the job at the marine lab, "
        "and the kids started at the international school down the road, which they love "
        "so far even though the commute is long",
    )

    assert least <= chit_chat < telling <= most
    assert default_importance("fact", "x") == default_importance("fact", "a much longer fact")
