"""noos.terminal_text: every terminal control shown as visible text, nothing hidden."""

from __future__ import annotations

import pytest

from noos.terminal_text import terminal_safe, terminal_safe_keeping_colours, terminal_safe_line

SEQUENCES = {
    "csi": "\x1b[2J\x1b[31m",
    "osc 52 (clipboard)": "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07",
    "osc 0 (title)": "\x1b]0;root@host\x1b\\",
    "osc 8 (link)": "\x1b]8;;https://evil.example\x1b\\ok\x1b]8;;\x1b\\",
    "dcs": "\x1bP1$r0m\x1b\\",
    "apc": "\x1b_Gf=100;payload\x1b\\",
    "pm": "\x1b^private\x1b\\",
    "sos": "\x1bXstring\x1b\\",
    "c1 csi": "\x9b2J",
    "c1 osc": "\x9d0;title\x9c",
    "bidi override": "\u202etxt.exe",
    "bidi isolate": "\u2066abc\u2069",
    "carriage return": "safe\rEVIL",
    "backspace": "rm -rf /\x08\x08\x08",
    "bell and nul": "\x07\x00",
    "del": "\x7f",
}
# Every character a terminal obeys rather than shows, in the ranges above.
UNSAFE = {
    *map(chr, range(0x20)),
    "\x7f",
    *map(chr, range(0x80, 0xA0)),
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
}


@pytest.mark.parametrize("sequence", SEQUENCES.values(), ids=SEQUENCES.keys())
def test_a_control_sequence_is_shown_not_obeyed(sequence: str) -> None:
    for safe in (terminal_safe(sequence), terminal_safe_line(sequence)):
        assert not set(safe) & UNSAFE, safe
        # What was there is still there to read: nothing silently dropped.
        assert len(safe) >= len(sequence)


def test_stand_ins_are_visible_and_familiar() -> None:
    assert terminal_safe("\x1b]52;c;eA==\x07") == "␛]52;c;eA==␇"
    assert terminal_safe("a\rb\x00\x7f") == "a␍b␀␡"
    assert terminal_safe("\x9b\u202e") == "\\u009b\\u202e"


def test_line_breaks_and_tabs_are_kept_only_where_the_layout_allows() -> None:
    assert terminal_safe("one\n\ttwo") == "one\n\ttwo"
    assert terminal_safe_line("one\n\ttwo") == "one␤␉two"


def test_plain_text_and_its_safe_form_are_left_as_they_are() -> None:
    text = "naïve café — 日本語 ✓ emoji 🐦 path/to/file.txt"
    assert terminal_safe(text) == text
    hostile = "".join(SEQUENCES.values())
    assert terminal_safe(terminal_safe(hostile)) == terminal_safe(hostile)


def test_lone_surrogates_of_undecodable_names_are_shown() -> None:
    name = b"caf\xe9.txt".decode("utf-8", "surrogateescape")
    assert terminal_safe_line(name) == "caf\\udce9.txt"
    terminal_safe_line(name).encode("utf-8")  # a terminal's encoder takes it


def test_colours_alone_are_kept_for_a_command_s_output() -> None:
    coloured = "\x1b[1;31merror\x1b[0m: \x1b]52;c;eA==\x07\x1bc\x9b2J done"
    assert terminal_safe_keeping_colours(coloured) == (
        "\x1b[1;31merror\x1b[0m: ␛]52;c;eA==␇␛c\\u009b2J done"
    )
