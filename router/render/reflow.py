"""JSON re-spaced into lines that fill a page: the tokens as written, only the whitespace between them new.

Pretty-printed JSON spends most of a page on indentation and on line ends: one member a line, most
lines a third of a column long (litellm's price map at two spaces a level: 2.6 text tokens per
image token on Claude, monospace). Whitespace between JSON tokens carries nothing, so it is drawn the
way compact formatters such as FracturedJson lay JSON out:

- an object or array whose members are scalars (or empty), and an object whose members are at most
  such containers, is written on one line: ``"aiml/flux-pro": {"litellm_provider": "aiml", "metadata":
  {"notes": "..."}, "mode": "image_generation"}``; the layout wraps it, continuation lines indented;
- a deeper container, and an array of containers, is written one member a line, a level deeper.

Every token is kept exactly as the source writes it (``1.25e-05`` stays ``1.25e-05``, strings keep
their escapes and inner spaces), so the pages hold the source's non-blank characters in order, which
``router.render.completeness`` checks. A part of a long document cut between lines
(``router.chunking.parts_of``) is JSON tokens too: brackets opened before it or closed after it are
laid out as deep as the part shows. Text that is not JSON tokens (comments, single quotes, bare
words) is not reflowed: ``reflow_json`` returns None and it is drawn as it is, like code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["JsonLine", "reflow_json"]

_TOKEN = re.compile(
    r"""\s+                                              # whitespace between tokens: redrawn
      | "(?:[^"\\\n]|\\.)*"                              # a string, escapes and all
      | -?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.+-])  # a number
      | (?:true|false|null|NaN|-?Infinity)(?!\w)         # literals (Python's json writes NaN, Infinity)
      | [{}\[\],:]                                       # punctuation
    """,
    re.VERBOSE,
)
_OPEN, _CLOSE = "{[", "}]"


@dataclass(frozen=True)
class JsonLine:
    depth: int  # nesting level: 0 for the outermost brackets the text shows
    text: str  # tokens with one space after each comma and colon inside the line


def reflow_json(text: str) -> list[JsonLine] | None:
    """``text`` as lines of JSON tokens (see the module's docstring); None where it is not JSON tokens."""
    tokens = _tokens(text)
    if not tokens:
        return None
    inline_end = _inline_ends(tokens)
    depth = level = 0
    for token in tokens:  # the part may close brackets it never opened: start as deep as it goes
        level += (token in _OPEN) - (token in _CLOSE)
        depth = max(depth, -level)
    lines: list[JsonLine] = []
    line: list[str] = []

    def end_line() -> None:
        if line:
            lines.append(JsonLine(depth, "".join(line)))
            line.clear()

    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in _OPEN and inline_end[i] > i:  # written whole on this line
            line.append(_inline(tokens[i : inline_end[i] + 1]))
            i = inline_end[i] + 1
            continue
        if token in _CLOSE:
            end_line()
            depth -= 1
        line.append(": " if token == ":" else token)
        if token in _OPEN or token == ",":
            end_line()
            depth += token in _OPEN
        i += 1
    end_line()
    return lines


def _tokens(text: str) -> list[str] | None:
    tokens: list[str] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            return None
        if not match.group().isspace():
            tokens.append(match.group())
        at = match.end()
    return tokens


def _inline_ends(tokens: list[str]) -> list[int]:
    """For each opening bracket written on one line, the index of its closing bracket; -1 elsewhere."""
    ends = [-1] * len(tokens)
    height = [0] * len(tokens)  # of an opening bracket: how deep containers nest in it (0: none do)
    open_at: list[int] = []
    for i, token in enumerate(tokens):
        if token in _OPEN:
            open_at.append(i)
        elif token in _CLOSE and open_at:
            start = open_at.pop()
            if open_at:
                height[open_at[-1]] = max(height[open_at[-1]], height[start] + 1)
            if height[start] == 0 or (height[start] == 1 and token == "}"):
                ends[start] = i
    return ends


def _inline(tokens: list[str]) -> str:
    return "".join(token + " " if token in ",:" else token for token in tokens)
