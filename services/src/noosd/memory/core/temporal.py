"""Time in texts: does a memory say when something happened, does a query ask when?

A question that asks "when" is answered by a memory that carries a time ("I went
to the support group yesterday", "we moved in March"), not by the most similar
sentence alone: the recall score adds a bonus for such memories when, and only
when, the query asks about time (see scoring). Both tests are English patterns,
cheap enough to run on every memory at insert and every query at recall.
"""

from __future__ import annotations

import re

_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTHS = (
    "january|february|march|april|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_TIME_REFERENCE = re.compile(
    r"\b(?:"
    r"yesterday|today|tonight|tomorrow|ago|recently|lately|soon|since|until"
    r"|(?:last|next|this|past|coming|previous)\s+(?:\w+\s+)?"
    r"(?:week|weekend|month|year|summer|winter|spring|fall|autumn|night|time|morning|evening"
    rf"|{_WEEKDAYS})"
    r"|weeks?|weekends?|months?|years?|decades?|days?"
    rf"|{_WEEKDAYS}s?|{_MONTHS}|may\s+\d"
    r"|(?:19|20)\d\d|\d{1,2}(?:st|nd|rd|th)|\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?"
    r"|\d{1,2}(?::\d\d)?\s*(?:am|pm)|morning|evening|midnight|noon"
    r")\b",
    re.IGNORECASE,
)
_ASKS_WHEN = re.compile(
    r"^\s*when\b|\bwhen\s+(?:did|was|were|is|are|will|does|do|had|has|have)\b"
    r"|\bhow\s+long\s+(?:ago|since|before|after)\b|\bwhat\s+(?:year|month|day|date|time)\b"
    r"|\bwhich\s+(?:year|month|day|date|week)\b",
    re.IGNORECASE,
)


def refers_to_time(text: str) -> bool:
    """Whether a text says when something happened (a date, a weekday, "last week")."""
    return _TIME_REFERENCE.search(text) is not None


def asks_when(query: str) -> bool:
    """Whether a query asks about time ("When did I ...?", "what year ...")."""
    return _ASKS_WHEN.search(query) is not None
