"""The job journal: acknowledged jobs read back whole and in order, their
endings kept, forgotten ones gone; a damaged journal set aside for an empty one."""

from __future__ import annotations

from pathlib import Path

from noosd.scheduler.backends.base import ChatMessage, Prompt
from noosd.scheduler.core import JobId, JobState, Priority, Sampling
from noosd.scheduler.storage.journal import JobJournal, JournalEntry

CHAT = JournalEntry(
    job=JobId(2**64 - 1),  # above SQLite's signed integers
    owner=65534,
    model="smollm2",
    priority=Priority.INTERACTIVE,
    max_tokens=7,
    prompt=Prompt(messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "Hi ✓"))),
    tokens=(1, 70000, 3),
    sampling=Sampling(temperature=0.0, top_p=0.5, top_k=3, seed=9),
    prompt_bytes=19,
    submitted_wall=1234.5,
)
TEXT = JournalEntry(
    job=JobId(5),
    owner=1000,
    model="gemma",
    priority=Priority.BATCH,
    max_tokens=1,
    prompt=Prompt(text="Once upon a time"),
    tokens=(),
    sampling=Sampling(),
    prompt_bytes=16,
    submitted_wall=1235.0,
)


def test_jobs_read_back_whole_in_the_order_they_came(tmp_path: Path) -> None:
    journal = JobJournal.open(tmp_path / "jobs.sqlite3")
    journal.add(CHAT)
    journal.add(TEXT)
    journal.close()

    assert JobJournal.open(tmp_path / "jobs.sqlite3").entries() == [CHAT, TEXT]


def test_an_ended_job_keeps_its_ending_until_forgotten(tmp_path: Path) -> None:
    journal = JobJournal.open(tmp_path / "jobs.sqlite3")
    journal.add(CHAT)
    journal.add(TEXT)

    journal.end(CHAT.job, JobState.DONE, "Hello!", "", 2)
    journal.end(TEXT.job, JobState.FAILED, "", "model gemma failed to load", 0)
    ended = journal.entries()
    journal.forget(CHAT.job)

    assert [(e.ended, e.text, e.reason, e.generated) for e in ended] == [
        (JobState.DONE, "Hello!", "", 2),
        (JobState.FAILED, "", "model gemma failed to load", 0),
    ]
    assert [e.job for e in journal.entries()] == [TEXT.job]


def test_a_damaged_journal_is_set_aside_for_an_empty_one(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    path.write_bytes(b"not a database at all" * 200)

    journal = JobJournal.open(path)

    assert journal.entries() == []
    aside = [p.name for p in tmp_path.iterdir() if p.name.startswith("jobs.sqlite3.corrupt-")]
    assert len(aside) == 1
