"""Markdown building blocks and the Markdown → self-contained HTML conversion.

The report is written once, as Markdown; the HTML page is that text rendered by markdown-it-py (CommonMark with
tables, raw HTML off, so text from model responses cannot inject markup), with every image replaced by a base64
data URI and the stylesheet inlined: one file that opens with no network and no folder beside it.
"""

from __future__ import annotations

import base64
import html
import re
from typing import Any

from markdown_it import MarkdownIt

_PUNCT = re.compile(r"([\\`*_\[\]<>|~&])")  # what CommonMark reads as markup inside a line


def esc(value: Any) -> str:
    """Text shown as is in Markdown: punctuation backslash-escaped, line breaks as spaces."""
    if value is None:
        return "—"
    return _PUNCT.sub(r"\\\1", " ".join(str(value).split()))


def code(value: Any) -> str:
    """An inline code span that survives any backticks in the value."""
    text = " ".join(str(value).split())
    if not text:
        return "—"
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(text: str, info: str = "text") -> list[str]:
    run = max((len(m) for m in re.findall(r"`{3,}", text)), default=0)
    ticks = "`" * max(3, run + 1)
    return [f"{ticks}{info}", text.rstrip("\n"), ticks]


def num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return esc(value)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table; cells are Markdown already (escape data with `esc`/`num`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("\n", " ") for c in row) + " |" for row in rows]
    return lines


def note(text: str) -> list[str]:
    return [f"> **Note:** {text}", ""]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:0;background:#f6f8fa}
main{max-width:1180px;margin:0 auto;padding:24px 32px 64px;background:#fff;box-shadow:0 0 0 1px #d0d7de}
h1{font-size:1.7em;border-bottom:2px solid #0969da;padding-bottom:.3em}
h2{font-size:1.35em;border-bottom:1px solid #d0d7de;padding-bottom:.25em;margin-top:2em}
h3{font-size:1.1em;margin-top:1.5em}
.scroll{overflow-x:auto;margin:.8em 0}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
tr:nth-child(even) td{background:#fbfcfd}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eff1f3;padding:1px 4px;border-radius:4px}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:8px 10px;overflow-x:auto;max-height:260px;
white-space:pre-wrap;word-break:break-word}
pre code{background:none;padding:0}
blockquote{margin:.8em 0;padding:.5em 1em;background:#fff8c5;border-left:4px solid #d4a72c}
blockquote p{margin:0}
img{max-width:100%;height:auto;display:block;margin:.6em 0;border:1px solid #eaeef2}
nav ul{columns:3;list-style:none;padding-left:0}
"""


def to_html(markdown: str, images: dict[str, bytes], title: str) -> str:
    """One HTML document from the report's Markdown; `images` maps each image path used in it to PNG bytes."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(markdown)
    seen: dict[str, int] = {}
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            base = slug(tokens[i + 1].content)
            seen[base] = seen.get(base, 0) + 1
            tok.attrSet("id", base if seen[base] == 1 else f"{base}-{seen[base]}")
        for child in tok.children or []:
            if child.type == "image":
                src = str(child.attrGet("src"))
                if src not in images:
                    raise ValueError(f"report image {src} was not rendered")
                child.attrSet("src", "data:image/png;base64," + base64.b64encode(images[src]).decode())
    body = md.renderer.render(tokens, md.options, {})
    body = body.replace("<table>", '<div class="scroll"><table>').replace("</table>", "</table></div>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body><main>\n{body}</main></body></html>\n")
