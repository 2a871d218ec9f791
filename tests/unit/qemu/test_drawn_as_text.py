"""A failure report shows what noos-shell last drew on the console, as words."""

from __future__ import annotations

from noos_qemu.machine import drawn_as_text


def test_colours_cursor_moves_and_titles_are_taken_out() -> None:
    drawn = (
        b"\x1b[?1049h\x1b]0;noos-shell\x07\x1b[1;1H\x1b[38;2;255;0;0mscheduler"
        b"\x1b[0m: down\x1b[2;5H\x1b(Bdid not answer\x1b[K"
    )
    assert drawn_as_text(drawn) == "scheduler: downdid not answer"


def test_plain_text_and_broken_bytes_pass() -> None:
    assert drawn_as_text(b"user@noos:~$ \xff") == "user@noos:~$ \ufffd"
