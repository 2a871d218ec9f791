"""Which memories a recall or a `forget_where` considers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from noos.protocol.errors import InvalidArgument
from noosd.memory.core import validation
from noosd.memory.core.model import MetadataValue

# The options `RecallFilter.from_options` understands, as a D-Bus a{sv} carries them.
OPTIONS = ("kinds", "since", "until", "metadata", "include_superseded")


@dataclass(frozen=True)
class RecallFilter:
    """Memories of these kinds (empty: any), created in [since, until], whose
    metadata has all these entries (equal in value and type: 1, 1.0, True and
    "1" differ), not superseded unless include_superseded.

    Constructing one checks it: a bad filter raises `InvalidArgument`. SQLite
    applies it (`database`), for recalls and `forget_where` alike.
    """

    kinds: frozenset[str] = frozenset()
    since: float | None = None
    until: float | None = None
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)
    include_superseded: bool = False

    def __post_init__(self) -> None:
        # Frozen: normalise through object.__setattr__, once, here.
        object.__setattr__(self, "kinds", validation.kinds(self.kinds))
        object.__setattr__(self, "since", validation.timestamp(self.since, "since"))
        object.__setattr__(self, "until", validation.timestamp(self.until, "until"))
        object.__setattr__(self, "metadata", validation.metadata(self.metadata))
        if not isinstance(self.include_superseded, bool):
            raise InvalidArgument("include_superseded must be a boolean")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise InvalidArgument(f"since ({self.since}) is after until ({self.until})")

    @classmethod
    def from_options(cls, options: Mapping[str, object]) -> RecallFilter:
        """A filter from named options (the keys of `OPTIONS`); unknown names are refused."""
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise InvalidArgument(
                f"unknown filter options {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(OPTIONS)}"
            )
        metadata = options.get("metadata", {})
        if not isinstance(metadata, Mapping):
            raise InvalidArgument("the metadata filter must be a mapping")
        include_superseded = options.get("include_superseded", False)
        if not isinstance(include_superseded, bool):
            raise InvalidArgument("include_superseded must be a boolean")
        return cls(
            kinds=validation.kinds(options.get("kinds", [])),
            since=validation.timestamp(options.get("since"), "since"),
            until=validation.timestamp(options.get("until"), "until"),
            metadata=metadata,
            include_superseded=include_superseded,
        )
