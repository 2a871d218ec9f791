"""The job journal: the jobs the scheduler acknowledged, kept across kill -9.

A Submit is answered only once its job is written here (one SQLite
transaction, synchronous=FULL: it survives kill -9 and power loss): its id,
owner, request, prompt and prompt tokens, in the order jobs came. When the
job ends, its ending (state, text, reason, tokens) is written in its row, and
the row goes when the job is forgotten, as finished jobs are (finished_kept):
a client that was waiting on it when the service died can Wait or Info the
same id after the restart and read the same result. At start the scheduler
queues the unfinished jobs again, in their order, under their ids and owners.

The journal is a queue, not a user's data: a journal found damaged is set
aside (`noosd.shared.quarantine`) and the service starts with none, which
loses the jobs it held, unfinished and finished.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from noosd.scheduler.backends.base import ChatMessage, Prompt
from noosd.scheduler.core.jobs import JobId, JobState, Priority, Sampling
from noosd.shared.quarantine import set_aside
from noosd.shared.sqlite import Database, is_corruption

_log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE jobs (
    submission INTEGER PRIMARY KEY,
    job INTEGER NOT NULL UNIQUE,
    owner INTEGER NOT NULL,
    request TEXT NOT NULL,
    tokens BLOB NOT NULL,
    ended TEXT,
    result TEXT
);
"""
# A job id is unsigned 64-bit; SQLite's integers are signed.
_ID_SHIFT = 2**64
_SIGNED_MAX = 2**63 - 1


@dataclass(frozen=True)
class JournalEntry:
    """One acknowledged job as the journal keeps it."""

    job: JobId
    owner: int
    model: str
    priority: Priority
    max_tokens: int
    prompt: Prompt
    # The prompt's tokens, as tokenized when it came.
    tokens: tuple[int, ...]
    sampling: Sampling
    prompt_bytes: int
    submitted_wall: float
    # Its ending, once it ended: the state, its text, why it failed, its tokens.
    ended: JobState | None = None
    text: str = ""
    reason: str = ""
    generated: int = 0


class JobJournal(Database):
    """The journal's database; used on the event loop only."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, schema=SCHEMA, version=SCHEMA_VERSION, settings={}, verify=True)

    @classmethod
    def open(cls, path: Path) -> JobJournal:
        """The journal at `path`; a damaged one is set aside for a new, empty one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return cls(path)
        except sqlite3.DatabaseError as error:
            if not is_corruption(error):
                raise
            set_aside(path, f"{error}; the jobs it held are lost")
            for companion in (path.with_name(path.name + s) for s in ("-wal", "-shm")):
                companion.unlink(missing_ok=True)
            return cls(path)

    def entries(self) -> list[JournalEntry]:
        """Every job kept, in the order the jobs came."""
        rows = self._db.execute(
            "SELECT job, owner, request, tokens, ended, result FROM jobs ORDER BY submission"
        )
        return [_entry(*row) for row in rows]

    def add(self, entry: JournalEntry) -> None:
        """Keep an acknowledged job, durably, before its Submit is answered."""
        request = {
            "model": entry.model,
            "priority": entry.priority.name,
            "max_tokens": entry.max_tokens,
            "text": entry.prompt.text,
            "messages": [[m.role, m.content] for m in entry.prompt.messages],
            "sampling": [
                entry.sampling.temperature,
                entry.sampling.top_p,
                entry.sampling.top_k,
                entry.sampling.seed,
            ],
            "prompt_bytes": entry.prompt_bytes,
            "submitted_wall": entry.submitted_wall,
        }
        tokens = array("q", entry.tokens).tobytes()
        with self.transaction():
            self._db.execute(
                "INSERT INTO jobs (job, owner, request, tokens) VALUES (?, ?, ?, ?)",
                (_signed(entry.job), entry.owner, json.dumps(request), tokens),
            )

    def end(self, job: JobId, state: JobState, text: str, reason: str, generated: int) -> None:
        """The job ended so: what a Wait after a restart reads."""
        result = json.dumps({"text": text, "reason": reason, "generated": generated})
        with self.transaction():
            self._db.execute(
                "UPDATE jobs SET ended = ?, result = ? WHERE job = ?",
                (state.value, result, _signed(job)),
            )

    def forget(self, job: JobId) -> None:
        # Relaxed: a forgotten job kept by a power cut is only forgotten again.
        with self.relaxed(), self.transaction():
            self._db.execute("DELETE FROM jobs WHERE job = ?", (_signed(job),))


def _signed(job: JobId) -> int:
    return job - _ID_SHIFT if job > _SIGNED_MAX else job


def _entry(
    job: int, owner: int, request: str, tokens: bytes, ended: str | None, result: str | None
) -> JournalEntry:
    fields: dict[str, Any] = json.loads(request)
    temperature, top_p, top_k, seed = fields["sampling"]
    outcome: dict[str, Any] = json.loads(result) if result else {}
    return JournalEntry(
        job=JobId(job % _ID_SHIFT),
        owner=owner,
        model=fields["model"],
        priority=Priority[fields["priority"]],
        max_tokens=fields["max_tokens"],
        prompt=Prompt(
            messages=tuple(ChatMessage(role, content) for role, content in fields["messages"]),
            text=fields["text"],
        ),
        tokens=tuple(array("q", tokens)),
        sampling=Sampling(temperature, top_p, top_k, seed),
        prompt_bytes=fields["prompt_bytes"],
        submitted_wall=fields["submitted_wall"],
        ended=JobState(ended) if ended else None,
        text=outcome.get("text", ""),
        reason=outcome.get("reason", ""),
        generated=outcome.get("generated", 0),
    )
