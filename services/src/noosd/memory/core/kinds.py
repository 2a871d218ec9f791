"""The kinds of memory, and how much each matters when nobody says otherwise.

The default importance of a kind decides how long its memories last unrecalled
(see `scoring.retention`): with the default thresholds, file events and
commands fade away within weeks; conversations go cold (compressed, still
searchable) but are kept, as are notes, facts and identity, until someone
forgets them.

Within a kind the importance may grow with what a memory says: a conversation
turn that tells something ("we moved to Lisbon in March for my new job") matters
more than one that does not ("lol, thanks!"). `informativeness` measures that
by length in words, the cheap proxy that needs no model: the turns that answer
questions later are the ones that said something.
"""

from __future__ import annotations

from types import MappingProxyType

# Importance of a memory without a hint, from its least to its most informative.
IMPORTANCE_RANGE = MappingProxyType(
    {
        # Something the system is (the user's name, the machine's role): never pruned.
        "identity": (1.0, 1.0),
        # A statement about the world or the user that may later be superseded.
        "fact": (0.7, 0.7),
        # Something the user asked to be remembered.
        "note": (0.5, 0.5),
        # A turn of a conversation with an assistant or a person: at least 0.25,
        # so that (with the default prune threshold 0.1) age alone never prunes it.
        "conversation": (0.25, 0.75),
        # A command the user ran.
        "command": (0.1, 0.1),
        # A file created, changed or removed.
        "file-event": (0.05, 0.05),
    }
)

KINDS = frozenset(IMPORTANCE_RANGE)

# A text of this many words or more is fully informative.
INFORMATIVE_WORDS = 40

# Kinds whose near-duplicates merge by meaning (a close vector, the same
# particulars): repeated machine events, whose variants are noise. Other kinds
# merge only repetitions of their words: a vector cannot tell "the backup
# script fixed" from "the backup script broke" (cosine 0.989).
MERGED_BY_MEANING = frozenset({"command", "file-event"})

# Kinds whose memories consolidation never prunes, whatever their score.
NEVER_PRUNED = frozenset({"identity"})

# A fact whose metadata names its subject under this key supersedes the user's
# current fact about the same subject.
FACT_SUBJECT_KEY = "fact"


def informativeness(text: str) -> float:
    """How much a text says, in [0, 1]: its words, up to INFORMATIVE_WORDS."""
    return min(len(text.split()), INFORMATIVE_WORDS) / INFORMATIVE_WORDS


def default_importance(kind: str, text: str) -> float:
    """The base importance of a memory remembered without a hint."""
    least, most = IMPORTANCE_RANGE[kind]
    return least + (most - least) * informativeness(text)
