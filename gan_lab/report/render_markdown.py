"""Markdown and CSV renderings of the report."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from gan_lab.report.document import Document, Figure, Gallery
from gan_lab.report.tables import Table


def write_csv(path: Path, table: Table) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(table.header)
        writer.writerows(table.rows)


def markdown_table(table: Table) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in table.header) + " |", "|" + "---|" * len(table.header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def _table_block(table: Table) -> list[str]:
    out = [f"*{table.protocol}*", ""] if table.protocol else []
    out += [markdown_table(table)]
    out += [f"> note: {n}" for n in table.notes] + ([""] if table.notes else [])
    return out


def render_markdown(doc: Document, out_dir: Path) -> str:
    def link(fig: Figure) -> str:
        return f"![{fig.caption}]({Path(os.path.relpath(fig.path, out_dir)).as_posix()})"

    lines = [f"# {doc.title}", "", *doc.summary, ""]
    lines += [f"> **warning**: {w}" for w in doc.warnings] + ([""] if doc.warnings else [])
    for section in doc.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                lines += _table_block(block)
            elif isinstance(block, Figure):
                lines += [link(block), ""]
            elif isinstance(block, Gallery):
                lines += [f"**{block.title}**", "", " ".join(link(f) for f in block.figures), ""]
            else:
                lines += [block, ""]
    return "\n".join(lines)
