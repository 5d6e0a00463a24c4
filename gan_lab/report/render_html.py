"""The report as one self-contained HTML page: every plot and sample grid embedded as a base64 PNG data URI,
no scripts, no external style sheets, so it can be mailed, archived or opened offline."""

from __future__ import annotations

import base64
import html

from gan_lab.report.document import Document, Figure, Gallery
from gan_lab.report.tables import Table

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1250px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
th { background: #f0f0f0; }
p.protocol { font-style: italic; color: #444; margin-bottom: 0.2em; }
p.warning { background: #fff3cd; border-left: 4px solid #e0a800; padding: 0.4em 0.8em; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figcaption { font-size: 0.8em; color: #444; max-width: 300px; }
img.plot { max-width: 100%; }
img.grid { width: 160px; image-rendering: pixelated; }
"""


def data_uri(path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _table(table: Table) -> str:
    e = html.escape
    parts = [f'<p class="protocol">{e(table.protocol)}</p>'] if table.protocol else []
    parts.append("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in table.header) + "</tr></thead><tbody>")
    parts += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in table.rows]
    parts.append("</tbody></table>")
    parts += [f'<p class="warning">note: {e(n)}</p>' for n in table.notes]
    return "\n".join(parts)


def _figure(fig: Figure, css: str) -> str:
    e = html.escape
    return (f'<figure><img class="{css}" src="{data_uri(fig.path)}" alt="{e(fig.caption)}">'
            f"<figcaption>{e(fig.caption)}</figcaption></figure>")


def render_html(doc: Document) -> str:
    e = html.escape
    body = [f"<h1>{e(doc.title)}</h1>", *(f"<p>{e(s)}</p>" for s in doc.summary)]
    body += [f'<p class="warning">warning: {e(w)}</p>' for w in doc.warnings]
    for section in doc.sections:
        body.append(f"<h2>{e(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Table):
                body.append(_table(block))
            elif isinstance(block, Figure):
                body.append(_figure(block, "plot"))
            elif isinstance(block, Gallery):
                body.append(f"<h3>{e(block.title)}</h3><div>" + "".join(_figure(f, "grid") for f in block.figures)
                            + "</div>")
            else:
                body.append(f"<p>{e(block)}</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(doc.title)}</title><style>{STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
