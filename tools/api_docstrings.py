"""A Sphinx extension for the book's API reference: docstrings as their authors write them, as valid reST.

The package's docstrings are plain text with reST literals and roles. Two plain-text habits are not
reST, and would fail the book's warnings-as-errors build: a list that starts right under its
paragraph ("Conventions:" then "- ..."), and bars around a quantity (``|difference| <= 3``), which
reST reads as a substitution. This extension, loaded through ``_config.yml`` (``local_extensions``),
puts the blank line in and escapes the bars, in the API pages only; the sources stay as written.
"""

from __future__ import annotations

import re

#: A bullet or enumerated list item: its indentation, its marker and the text after it.
LIST_ITEM = re.compile(r"^(?P<indent>\s*)(?P<marker>[-*+]|\d+\.|#\.)\s+\S")
#: Double-backtick literals and interpreted text (roles), which keep their bars.
LITERAL = re.compile(r"(``.+?``|:[\w:]+:`[^`]+`|`[^`]+`_?)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _escape_bars(line: str) -> str:
    """Escape ``|`` outside literals and roles, unless the line is a table or a line block."""
    if line.lstrip().startswith(("|", "+")):
        return line
    parts = LITERAL.split(line)
    return "".join(part if i % 2 else part.replace("|", r"\|") for i, part in enumerate(parts))


def normalise(lines: list[str]) -> list[str]:
    """The docstring's lines with a blank line before a list that follows a paragraph, and bars escaped."""
    out: list[str] = []
    list_indent: int | None = None  # the indentation of the list being read, None outside one
    for line in lines:
        item = LIST_ITEM.match(line)
        if line.strip():
            if item and list_indent is None and out and out[-1].strip() and not out[-1].rstrip().endswith("::"):
                out.append("")  # a list straight under its paragraph
            if item:
                list_indent = len(item["indent"])
            elif list_indent is not None and _indent(line) <= list_indent:
                if out and out[-1].strip():
                    out.append("")  # a paragraph straight under a list
                list_indent = None
        else:
            list_indent = None
        out.append(_escape_bars(line))
    return out


def _process_docstring(app, what, name, obj, options, lines: list[str]) -> None:
    lines[:] = normalise(lines)


def setup(app):
    """Register the docstring clean-up with autodoc's event, which sphinx-autoapi emits too."""
    app.setup_extension("sphinx.ext.autodoc")
    app.connect("autodoc-process-docstring", _process_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
