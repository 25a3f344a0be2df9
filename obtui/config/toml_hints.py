"""Say a TOML syntax error in the user's words where the parser's are obscure.

tomlkit reports a string left open as "Control characters ... are not allowed in strings, use
\\u000a instead" or "Unexpected end of file"; what the user did is forget a closing quote.
"""

from __future__ import annotations


def _skip_string(text: str, i: int, quote: str) -> int | None:
    """Index just past the string starting at `text[i]`, or None when it is not closed."""
    n = len(text)
    if text.startswith(quote * 3, i):
        j = i + 3
        while j < n:
            if quote == '"' and text[j] == "\\":
                j += 2
                continue
            if text.startswith(quote * 3, j):
                # Up to two more quotes may close it (`""""` ends with a quote in the string).
                k = j + 3
                while k < n and k < j + 5 and text[k] == quote:
                    k += 1
                return k
            j += 1
        return None
    j = i + 1
    while j < n and text[j] != "\n":
        if quote == '"' and text[j] == "\\":
            j += 2
            continue
        if text[j] == quote:
            return j + 1
        j += 1
    return None


def unclosed_string(text: str) -> tuple[int, str] | None:
    """(line, opening quotes) of the first string left open in `text`, or None."""
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            closed = _skip_string(text, i, c)
            if closed is None:
                return line, c * 3 if text.startswith(c * 3, i) else c
            line += text.count("\n", i, closed)
            i = closed
            continue
        i += 1
    return None


def unclosed_string_message(text: str) -> tuple[int, str] | None:
    """(line, message) when `text` has a string that is never closed, else None."""
    found = unclosed_string(text)
    if found is None:
        return None
    line, opening = found
    if len(opening) == 3:
        return line, f"string not closed on line {line}: the {opening} opened there has no closing {opening}"
    return line, (
        f"string not closed on line {line}: close it with {opening} on the same line "
        f"(text over several lines goes between {opening * 3} and {opening * 3})"
    )
