"""The LoCoMo conversations and questions (Maharana et al., 2024, CC BY-NC 4.0).

locomo-dev.json holds conversations 0-4 of `data/locomo10.json` from
github.com/snap-research/LoCoMo. Its `category` numbers follow the repository's
evaluation code, not the paper's table order; reading the questions confirms it
(every category 2 question asks "when").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# In the repository, with its licence note (README.md beside it).
DATASET = Path(__file__).resolve().parents[2] / "data" / "locomo" / "locomo-dev.json"
ATTRIBUTION = (
    "LoCoMo (Maharana et al., 'Evaluating Very Long-Term Conversational Memory of LLM "
    "Agents', ACL 2024; github.com/snap-research/LoCoMo), conversations 0-4, CC BY-NC 4.0"
)
CATEGORIES = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}
ADVERSARIAL = 5
SESSION_KEY = re.compile(r"session_(\d+)")
DATE_FORMAT = "%I:%M %p on %d %B, %Y"  # "1:56 pm on 8 May, 2023"
SECONDS_BETWEEN_TURNS = 30.0


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    said_at: float  # Unix seconds: the session's date, plus 30 s a turn


@dataclass(frozen=True)
class Question:
    text: str
    category: int
    evidence: frozenset[str]


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    turns: list[Turn]
    questions: list[Question]
    questions_without_evidence: int


def turn_text(turn: dict[str, str]) -> str:
    """What is remembered of a turn: who said it, and the photo they shared, if any."""
    text = f"{turn['speaker']}: {turn['text']}"
    if caption := turn.get("blip_caption"):
        text += f" [shares a photo: {caption}]"
    return text


def evidence_ids(raw: list[str], known: set[str]) -> frozenset[str]:
    """The evidence's dia_ids, repairing the dataset's few typos ('D:11:26', 'D8:6; D9:17')."""
    ids = set()
    for entry in raw:
        for part in re.split(r"[;,\s]+", entry):
            candidate = re.sub(r"^D:", "D", part.strip())
            if candidate in known:
                ids.add(candidate)
    return frozenset(ids)


def parse_conversation(sample: dict[str, object]) -> Conversation:
    conversation = sample["conversation"]
    assert isinstance(conversation, dict)
    turns: list[Turn] = []
    sessions = sorted(
        (int(match.group(1)), value)
        for key, value in conversation.items()
        if (match := SESSION_KEY.fullmatch(key)) and isinstance(value, list)
    )
    for number, session in sessions:
        started = datetime.strptime(conversation[f"session_{number}_date_time"], DATE_FORMAT)
        start = started.replace(tzinfo=UTC).timestamp()
        turns.extend(
            Turn(raw["dia_id"], raw["speaker"], turn_text(raw), start + i * SECONDS_BETWEEN_TURNS)
            for i, raw in enumerate(session)
        )
    known = {turn.dia_id for turn in turns}
    questions, without = [], 0
    qa = sample["qa"]
    assert isinstance(qa, list)
    for item in qa:
        evidence = evidence_ids(item.get("evidence", []), known)
        if not evidence:
            without += 1
            continue
        questions.append(Question(item["question"], int(item["category"]), evidence))
    return Conversation(str(sample["sample_id"]), turns, questions, without)


def load(path: Path = DATASET) -> list[Conversation]:
    with path.open() as file:
        return [parse_conversation(sample) for sample in json.load(file)]
