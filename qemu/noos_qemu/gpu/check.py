"""One line of the host checklist, and how the checklist is printed."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

# The exit code of a GPU run that did not start because the host is not ready:
# 77 is "skipped" to automake and meson, so a test harness reads it as a skip.
SKIP_EXIT_CODE = 77


class Status(enum.Enum):
    OK = "ok"
    MISSING = "missing"
    # Optional things that are absent: worth saying, never a reason to stop.
    NOTE = "note"


@dataclass(frozen=True)
class Check:
    status: Status
    subject: str
    # For OK: the evidence (a path, a count); otherwise what is wrong and the fix.
    detail: str

    def line(self) -> str:
        if self.status is Status.OK:
            return f"[ok] {self.subject} ({self.detail})"
        return f"[{self.status.value}] {self.subject}: {self.detail}"


def ok(subject: str, evidence: str) -> Check:
    return Check(Status.OK, subject, evidence)


def missing(subject: str, problem: str) -> Check:
    return Check(Status.MISSING, subject, problem)


def note(subject: str, remark: str) -> Check:
    return Check(Status.NOTE, subject, remark)


def all_ok(checks: Iterable[Check]) -> bool:
    return all(check.status is not Status.MISSING for check in checks)


def render(checks: Iterable[Check]) -> str:
    return "\n".join(check.line() for check in checks)
