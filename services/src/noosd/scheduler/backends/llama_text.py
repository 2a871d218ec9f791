"""Generated tokens' bytes to the text a caller reads, piece by piece.

A token's bytes may end mid-character (byte-level vocabularies split a
character's UTF-8 across tokens): the character comes out whole, with the
token that completes it. Text that may be the start of a stop string is held
back until the next tokens say whether it is one; a stop string and what
follows it are never shown.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable


class TextStream:
    def __init__(self, stops: Iterable[str] = ()) -> None:
        # Invalid bytes (a model may sample any) become U+FFFD rather than fail.
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._stops = tuple(stop for stop in stops if stop)
        self._held = ""
        self.stopped = False

    def push(self, piece: bytes) -> str:
        """The text that `piece` makes showable; `stopped` once a stop string is complete."""
        text = self._decoder.decode(piece)
        if not self._stops:
            return text
        text = self._held + text
        cut = min((i for i in (text.find(stop) for stop in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._held = ""
            return text[:cut]
        held = self._stop_start_length(text)
        self._held = text[len(text) - held :]
        return text[: len(text) - held]

    def finish(self) -> str:
        """The text still held: an unfinished stop string, a character's last bytes."""
        text = self._held + self._decoder.decode(b"", final=True)
        self._held = ""
        return text

    def _stop_start_length(self, text: str) -> int:
        """The length of the longest end of `text` that begins a stop string."""
        longest = 0
        for stop in self._stops:
            for length in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:length]):
                    longest = length
                    break
        return longest
