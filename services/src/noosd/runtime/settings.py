"""A service's settings: one declarative table drives its files, its environment,
`noosd NAME --help` and the settings reference (docs/settings.md).

A service lists its `Setting`s in a `SettingsTable`; each value comes from,
later winning:

1. the setting's default;
2. `/etc/noos/<service>.toml`;
3. `/etc/noos/<service>.d/*.toml`, in lexical order (as systemd's drop-ins);
4. the setting's environment variable (what tests and unit files set).

The files hold flat `key = value` pairs, the keys being the settings' names.
Every value is checked where it is read, so a bad one is reported with the
file (or variable) it came from, the key, and why: a `SettingsError`, on which
`noosd` exits with one line on stderr and no traceback. A key the table does
not know is an error too, so that a typo never passes silently.

The configuration directory is $NOOS_CONFIG_DIR, else /etc/noos (tests point it
at a directory of their own).
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

CONFIG_DIR_ENV = "NOOS_CONFIG_DIR"
DEFAULT_CONFIG_DIR = Path("/etc/noos")

# The values of a table's settings by name, once loaded: read-only.
Settings = Mapping[str, Any]
# Why a value is unusable, or None if it is fine.
Check = Callable[[Any], str | None]


class SettingsError(Exception):
    """A setting cannot be used; the message (one line) names where its value
    came from, the key, and why."""


@dataclass(frozen=True)
class Kind:
    """The type of a setting: its name for people, and how a value is read
    from TOML and from an environment variable (both raise ValueError)."""

    name: str
    from_toml: Callable[[object], Any]
    from_text: Callable[[str], Any]
    # An empty variable unsets a single value (as `Environment=X=` would in a
    # unit), but empties a list.
    empty_text_is_a_value: bool = False


# What a TOML value is, for people, by its Python type.
_TOML_KINDS = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "a table",
}


def _described(value: object) -> str:
    kind = _TOML_KINDS.get(type(value), type(value).__name__)
    return f"{kind} ({value!r})"


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, not {_described(value)}")
    return value


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, not {_described(value)}")
    return float(value)


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, not {_described(value)}")
    return value


BOOLEAN_TEXTS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _boolean_text(text: str) -> bool:
    try:
        return BOOLEAN_TEXTS[text.lower()]
    except KeyError:
        raise ValueError(f"expected one of {', '.join(BOOLEAN_TEXTS)}, not {text!r}") from None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, not {_described(value)}")
    return value


def _path(value: object) -> Path:
    text = _text(value)
    if not text:
        raise ValueError("expected a path, not an empty string")
    return Path(text)


def _paths(value: object) -> tuple[Path, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected an array of paths, not {_described(value)}")
    return tuple(_path(item) for item in value)


def _paths_text(text: str) -> tuple[Path, ...]:
    # Colon-separated, as $PATH; empty parts are skipped.
    return tuple(Path(part) for part in text.split(":") if part)


def _integer_text(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, not {text!r}") from None


def _number_text(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, not {text!r}") from None


INTEGER = Kind("integer", _integer, _integer_text)
NUMBER = Kind("number", _number, _number_text)
BOOLEAN = Kind("boolean", _boolean, _boolean_text)
TEXT = Kind("string", _text, str)
PATH = Kind("path", _path, Path)
PATHS = Kind("paths", _paths, _paths_text, empty_text_is_a_value=True)


def at_least(low: float) -> Check:
    return lambda value: None if value >= low else f"must be at least {low}, not {value}"


def positive(value: float) -> str | None:
    return None if math.isfinite(value) and value > 0 else f"must be more than 0, not {value}"


def not_empty(value: tuple[object, ...]) -> str | None:
    return None if value else "must name at least one"


@dataclass(frozen=True)
class Computed:
    """A default found when the settings are loaded (the machine's cores), or
    left to the service (None): `description` says what it is, for people."""

    description: str
    compute: Callable[[], Any]


@dataclass(frozen=True)
class Setting:
    """One setting: `name` is its key in the files (and the name the service
    reads its value by); `default` a value, or `Computed`; `env` the variable
    that overrides the files; `help` one line for people; `check` what a
    value must be beyond its kind."""

    name: str
    kind: Kind
    default: Any
    env: str
    help: str
    check: Check | None = None

    def default_value(self) -> Any:
        return self.default.compute() if isinstance(self.default, Computed) else self.default

    def default_text(self) -> str:
        if isinstance(self.default, Computed):
            return self.default.description
        if isinstance(self.default, bool):
            return str(self.default).lower()
        if isinstance(self.default, tuple):
            return ", ".join(str(part) for part in self.default) or "none"
        return str(self.default) or "empty"

    def checked(self, value: Any) -> Any:
        """`value`, read as this setting's kind (from TOML) and checked; ValueError if unusable."""
        value = self.kind.from_toml(value)
        return self._checked(value)

    def checked_text(self, text: str) -> Any:
        """`text`, read as this setting's kind (from the environment) and checked."""
        return self._checked(self.kind.from_text(text))

    def _checked(self, value: Any) -> Any:
        if self.check is not None and (why := self.check(value)) is not None:
            raise ValueError(why)
        return value


def _state_directory(service: str) -> Path:
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(state) if state else Path.home() / ".local/state/noos" / service


def state_directory(service: str) -> Computed:
    """The default of a service's state directory: systemd's $STATE_DIRECTORY
    (the unit's StateDirectory=, the first if several), else
    ~/.local/state/noos/`service`."""
    return Computed(
        f"$STATE_DIRECTORY, else ~/.local/state/noos/{service}",
        lambda: _state_directory(service),
    )


def config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """$NOOS_CONFIG_DIR, else /etc/noos."""
    return Path(environ.get(CONFIG_DIR_ENV) or DEFAULT_CONFIG_DIR)


@dataclass(frozen=True)
class SettingsTable:
    """The settings of the service `service`, read from `<service>.toml` and
    `<service>.d/*.toml` under the configuration directory."""

    service: str
    settings: tuple[Setting, ...] = ()

    def __post_init__(self) -> None:
        names = [setting.name for setting in self.settings]
        if len(set(names)) != len(names):
            raise ValueError(f"the settings of {self.service} repeat a name: {names}")

    def defaults(self) -> Settings:
        """Every setting's default, reading no file and no variable."""
        return MappingProxyType({s.name: s.default_value() for s in self.settings})

    def files(self, directory: Path) -> list[Path]:
        """The files read, in order: later ones win."""
        main = directory / f"{self.service}.toml"
        drop_ins = sorted((directory / f"{self.service}.d").glob("*.toml"))
        return [path for path in [main, *drop_ins] if path.is_file()]

    def load(
        self, directory: Path | None = None, environ: Mapping[str, str] = os.environ
    ) -> Settings:
        """The settings from the files under `directory` (default: `config_dir()`),
        then the environment; SettingsError if a value is unusable."""
        by_name = {setting.name: setting for setting in self.settings}
        values = {setting.name: setting.default for setting in self.settings}
        for path in self.files(config_dir(environ) if directory is None else directory):
            for key, raw in _read_toml(path).items():
                setting = by_name.get(key)
                if setting is None:
                    raise SettingsError(f"{path}: unknown key {key!r}{self._suggestion(key)}")
                try:
                    values[key] = setting.checked(raw)
                except ValueError as error:
                    raise SettingsError(f"{path}: {key}: {error}") from None
        for setting in self.settings:
            text = environ.get(setting.env)
            if text is None or (not text and not setting.kind.empty_text_is_a_value):
                continue
            try:
                values[setting.name] = setting.checked_text(text)
            except ValueError as error:
                raise SettingsError(f"${setting.env} ({setting.name}): {error}") from None
        return MappingProxyType(
            {
                name: value.compute() if isinstance(value, Computed) else value
                for name, value in values.items()
            }
        )

    def _suggestion(self, key: str) -> str:
        names = [setting.name for setting in self.settings]
        close = difflib.get_close_matches(key, names, n=1)
        if close:
            return f" (did you mean {close[0]!r}?)"
        return f" (known: {', '.join(names) or 'none'})"

    def help_text(self) -> str:
        """The settings for `noosd NAME --help`: each with its type, default,
        variable and help."""
        if not self.settings:
            return f"{self.service} has no settings."
        lines = [
            f"settings (in {DEFAULT_CONFIG_DIR}/{self.service}.toml and "
            f"{DEFAULT_CONFIG_DIR}/{self.service}.d/*.toml; a variable overrides them):"
        ]
        for setting in self.settings:
            lines.append(
                f"  {setting.name} ({setting.kind.name}, default: {setting.default_text()}, "
                f"${setting.env})"
            )
            lines.append(f"      {setting.help}")
        return "\n".join(lines)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML: {error}") from None
    except OSError as error:
        raise SettingsError(f"{path}: cannot be read: {error.strerror}") from None
