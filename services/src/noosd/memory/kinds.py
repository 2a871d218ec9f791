"""The kinds of memory, and how much each matters when nobody says otherwise.

The default importance of a kind decides how long its memories last unrecalled
(see `scoring.retention`): with the default thresholds, file events, commands
and conversations fade away within weeks, while notes, facts and identity are
kept until someone forgets them.
"""

from __future__ import annotations

from types import MappingProxyType

DEFAULT_IMPORTANCE = MappingProxyType(
    {
        # Something the system is (the user's name, the machine's role): never pruned.
        "identity": 1.0,
        # A statement about the world or the user that may later be superseded.
        "fact": 0.7,
        # Something the user asked to be remembered.
        "note": 0.5,
        # A turn of a conversation with an assistant.
        "conversation": 0.15,
        # A command the user ran.
        "command": 0.1,
        # A file created, changed or removed.
        "file-event": 0.05,
    }
)

KINDS = frozenset(DEFAULT_IMPORTANCE)

# Kinds whose memories consolidation never prunes, whatever their score.
NEVER_PRUNED = frozenset({"identity"})

# A fact whose metadata names its subject under this key supersedes the user's
# current fact about the same subject.
FACT_SUBJECT_KEY = "fact"
