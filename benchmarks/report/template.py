"""The report's prose: named blocks of ``benchmarks/README.template.md`` with ``{slot}`` fields.

A block starts at a line ``<!-- block: name -->`` and runs to the next one. Its paragraphs may be wrapped over
several lines in the template; each comes out as one line (lines starting with ``|``, ``- `` or ``![`` stay lines
of their own). ``{slot}`` is replaced by the value given for it; the sections choose which blocks to show.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1] / "README.template.md"
_BLOCK = re.compile(r"^<!-- block: (\w+) -->$", re.MULTILINE)
_SLOT = re.compile(r"\{(\w+)\}")


@cache
def _blocks(path: Path) -> dict[str, list[str]]:
    parts = _BLOCK.split(path.read_text())
    return {name: _lines(text) for name, text in zip(parts[1::2], parts[2::2], strict=True)}


def _lines(text: str) -> list[str]:
    """One line per paragraph, a blank line between paragraphs; table rows, list items and images kept apart."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text.strip("\n")):
        for line in paragraph.splitlines():
            if out and out[-1] and not line.startswith(("|", "- ", "![")) and not out[-1].startswith(("|", "![")):
                out[-1] += " " + line.strip()
            else:
                out.append(line.rstrip())
        out.append("")
    return out


def block(name: str, **slots) -> list[str]:
    """The lines of block ``name`` (a blank line after each paragraph), its ``{slot}`` fields filled.

    Raises:
        KeyError: no block ``name`` in the template, or a slot of the block not given (both name the template).
    """
    blocks = _blocks(TEMPLATE)
    if name not in blocks:
        raise KeyError(f"{TEMPLATE}: no block '{name}' (blocks: {sorted(blocks)}).")

    def fill(match: re.Match) -> str:
        if match.group(1) not in slots:
            raise KeyError(f"{TEMPLATE}, block '{name}': slot '{match.group(1)}' not given.")
        return str(slots[match.group(1)])

    return [_SLOT.sub(fill, line) for line in blocks[name]]
