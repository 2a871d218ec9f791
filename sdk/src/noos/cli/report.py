"""What a command shows: the same result as text for people or as JSON for programs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TypeAlias

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None


@dataclass(frozen=True)
class Report:
    data: JSONValue
    text: str

    def render(self, as_json: bool) -> str:
        return json.dumps(self.data, indent=2) if as_json else self.text
