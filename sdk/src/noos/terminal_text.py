"""Untrusted text made safe to show on a terminal, with nothing silently hidden.

File names and contents, memories, a model's answer, a service's error: any of
them may have been written by another user (or a remote model) and carry
terminal controls. An escape sequence can set the clipboard (OSC 52), the
window title (OSC 0/2), a link's target (OSC 8), move the cursor to overwrite
what was shown, or talk to the terminal itself (DCS, APC, PM, SOS); a C1
control does the same in one character (U+009B is CSI); a carriage return or
backspace overwrites what came before; a bidi override makes text read other
than it is.

Every such character is replaced by a visible stand-in, one for one: ESC shows
as '␛', the other C0 controls as their control pictures (U+2400…), DEL as
'␡', C1 controls, bidi controls and lone surrogates as `\\uXXXX`. What
followed an ESC stays as plain text ('␛]52;c;…'): the terminal sees no
sequence, and the reader sees that there was one. Each character is mapped on
its own, so text that comes in pieces (a streamed answer) is safe piece by
piece. Applying it twice changes nothing more.

`terminal_safe` keeps line breaks and tabs, for text laid out in lines of its
own (a snippet, an answer); `terminal_safe_line` shows them too ('␤', '␉'),
for a field inside a line (a path, a name, a memory in a list) whose line
breaks would forge lines of the layout. `terminal_safe_keeping_colours` keeps
SGR sequences alone (colours and text styles, which a parser such as Rich's
turns into styles), for the output of a command shown in colour.
"""

from __future__ import annotations

import re

ESC = "\x1b"
DEL = "\x7f"
# Unicode's control pictures: U+2400 + code for C0, U+2421 for DEL.
CONTROL_PICTURES = 0x2400
DEL_PICTURE = "\u2421"
C1_CONTROLS = range(0x80, 0xA0)
# Embeddings, overrides and isolates: they reorder what is shown.
BIDI_CONTROLS = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
SURROGATES = range(0xD800, 0xE000)
# Select Graphic Rendition: colours and styles, nothing a terminal does beyond them.
SGR = re.compile(r"\x1b\[[0-9;:]*m")


def _escaped(code: int) -> str:
    return f"\\u{code:04x}"


def _stand_ins(keep: str) -> dict[int, str]:
    """The table of str.translate: each unsafe character's stand-in, but `keep`."""
    table = {code: chr(CONTROL_PICTURES + code) for code in range(0x20)}
    table[ord(DEL)] = DEL_PICTURE
    # Newline's own picture is U+2424 (␤), more familiar than U+240A (␊).
    table[ord("\n")] = "\u2424"
    for code in (*C1_CONTROLS, *BIDI_CONTROLS):
        table[code] = _escaped(code)
    for character in keep:
        del table[ord(character)]
    return table


_TEXT_STAND_INS = _stand_ins(keep="\n\t")
_LINE_STAND_INS = _stand_ins(keep="")


def _without_surrogates(text: str) -> str:
    """Lone surrogates (undecodable bytes of a file name) as `\\udcXX`: a
    terminal's encoder would fail on them."""
    if not any(ord(character) in SURROGATES for character in text):
        return text
    return "".join(
        _escaped(ord(character)) if ord(character) in SURROGATES else character
        for character in text
    )


def terminal_safe(text: str) -> str:
    """`text` with every terminal control shown, not obeyed; line breaks and tabs kept."""
    return _without_surrogates(text.translate(_TEXT_STAND_INS))


def terminal_safe_keeping_colours(text: str) -> str:
    """`text` as `terminal_safe` shows it, but its SGR sequences (colours) kept."""
    shown: list[str] = []
    end = 0
    for colour in SGR.finditer(text):
        shown += [terminal_safe(text[end : colour.start()]), colour.group()]
        end = colour.end()
    shown.append(terminal_safe(text[end:]))
    return "".join(shown)


def terminal_safe_line(text: str) -> str:
    """`text` as one line of a layout: controls, line breaks and tabs shown, not obeyed."""
    return _without_surrogates(text.translate(_LINE_STAND_INS))
