"""Terminal output drawn as the terminal showed it: colour codes become colour and bold, every other
escape sequence (cursor moves, window titles, erases) is removed, and carriage-return progress lines
collapse to their final state. What is drawn is ``terminal_text``; the completeness check compares the
pages with it, and the chunk's label tells the model that escapes were applied.
"""

from __future__ import annotations

import re

__all__ = ["terminal_changes", "terminal_runs", "terminal_text"]

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
# Everything but SGR: CSI sequences (cursor, erase), OSC strings (titles, links), charset and mode switches.
_OTHER_ESCAPES = re.compile(
    r"\x1b\[[0-9;?]*[A-Za-ln-z@`]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>78cDEHM]"
    r"|\x1b(?!\[[0-9;]*m)"  # a lone escape left over
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")  # ESC (\x1b) is handled above
# The 16 ANSI colours, darkened where the terminal's would vanish on a white page (yellow, white).
_COLOURS = {
    30: "#000000", 31: "#b00000", 32: "#007000", 33: "#7a5c00", 34: "#0000b0", 35: "#900090", 36: "#006b6b",
    37: "#555555", 90: "#444444", 91: "#d00000", 92: "#008a00", 93: "#8a6d00", 94: "#0030d0", 95: "#b000b0",
    96: "#007a8a", 97: "#666666",
}  # fmt: skip


def terminal_text(text: str) -> str:
    """What the terminal showed: escapes applied and removed, progress lines at their final state."""
    return _SGR.sub("", _collapsed(text))


def terminal_changes(text: str) -> str | None:
    """What drawing ``text`` as the terminal showed it changed, for the chunk's report; None if nothing."""
    normalised = text.replace("\r\n", "\n")
    colours = len(_SGR.findall(normalised))
    removed = len(_OTHER_ESCAPES.findall(normalised)) + len(_CONTROL.findall(normalised))
    redrawn = sum(1 for line in normalised.split("\n") if "\r" in line)
    changes = [
        f"{colours} colour codes applied" if colours else "",
        f"{removed} other escape sequences and control characters removed" if removed else "",
        f"{redrawn} progress lines collapsed to their final state" if redrawn else "",
    ]
    said = ", ".join(c for c in changes if c)
    return f"terminal output: {said}" if said else None


def terminal_runs(text: str) -> list[tuple[str, str | None]]:
    """(text, style) runs for ``router.render.markup``: a colour, optionally ``;font-weight:bold``."""
    runs: list[tuple[str, str | None]] = []
    colour: str | None = None
    bold = False
    position = 0
    collapsed = _collapsed(text)
    for match in _SGR.finditer(collapsed):
        _append(runs, collapsed[position : match.start()], colour, bold)
        colour, bold = _apply(match.group(1), colour, bold)
        position = match.end()
    _append(runs, collapsed[position:], colour, bold)
    return runs


def _collapsed(text: str) -> str:
    text = _CONTROL.sub("", _OTHER_ESCAPES.sub("", text.replace("\r\n", "\n")))
    lines = []
    for line in text.split("\n"):
        if "\r" in line:  # a progress line redrawn in place: the last drawing that shows anything
            drawn = [part for part in line.split("\r") if _SGR.sub("", part).strip()]
            line = drawn[-1] if drawn else ""
        lines.append(line)
    return "\n".join(lines)


def _apply(parameters: str, colour: str | None, bold: bool) -> tuple[str | None, bool]:
    codes = [int(c) for c in parameters.split(";") if c.isdigit()] or [0]
    i = 0
    while i < len(codes):
        code = codes[i]
        if code == 0:
            colour, bold = None, False
        elif code == 1:
            bold = True
        elif code == 22:
            bold = False
        elif code in _COLOURS:
            colour = _COLOURS[code]
        elif code == 39:
            colour = None
        elif code in (38, 48):  # extended colours: 5;n or 2;r;g;b (background ones are skipped)
            span = 3 if i + 1 < len(codes) and codes[i + 1] == 5 else 5
            if code == 38 and span == 3 and i + 2 < len(codes):
                colour = _COLOURS.get(30 + codes[i + 2] % 8 if codes[i + 2] < 8 else 90 + codes[i + 2] % 8, colour)
            elif code == 38 and span == 5 and i + 4 < len(codes):
                r, g, b = (min(200, c) for c in codes[i + 2 : i + 5])  # no colour too light to read
                colour = f"#{r:02x}{g:02x}{b:02x}"
            i += span - 1
        i += 1
    return colour, bold


def _append(runs: list[tuple[str, str | None]], text: str, colour: str | None, bold: bool) -> None:
    if not text:
        return
    style = f"{colour or '#000000'};font-weight:bold" if bold else colour
    if runs and runs[-1][1] == style:
        runs[-1] = (runs[-1][0] + text, style)
    else:
        runs.append((text, style))
