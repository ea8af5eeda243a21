"""The pages' Jinja2 environment (autoescape on, strict undefined) and its filters.

Filters: ``http_only`` (a URL a page may link to, else None: :func:`safe_link`), ``as_json``
(a value shown as JSON text, escaped by autoescape like any text), ``qp`` (a query-string value,
every reserved character percent-encoded) and ``markdown`` (:func:`render_markdown`). Plot data
goes into pages with Jinja's own ``tojson`` inside ``<script type="application/json">``: it
escapes ``<``, ``>``, ``&`` and ``'``, so no record can close the block.

Pages load only two scripts, both served by the worker: ``/static/plotly.min.js`` and
``/static/dashboard.js``; :data:`CSP` (sent with every dashboard page) lets a browser run nothing
else, so even a template mistake could not run a producer's script.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from glasswatch.schemas.alert import http_link

__all__ = ["CSP", "TEMPLATES", "page_headers", "render_markdown", "safe_link"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""Content-Security-Policy of the pages (Plotly injects its own ``<style>``: inline styles only)."""


def page_headers() -> dict[str, str]:
    """Headers of every HTML page: the CSP, no MIME sniffing, no framing."""
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}


def safe_link(url: object) -> str | None:
    """``url`` when a page may link to it (an absolute http(s) URL), else None.

    >>> safe_link("https://example.com/runs/1"), safe_link("javascript:alert(1)"), safe_link(None)
    ('https://example.com/runs/1', None, None)
    """
    if not isinstance(url, str):
        return None
    try:
        return http_link(url)
    except ValueError:
        return None


_MD = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(text: str) -> Markup:
    """Markdown as HTML; raw HTML in the text is escaped, and markdown-it refuses ``javascript:``,
    ``vbscript:``, ``file:`` and ``data:`` links.

    >>> str(render_markdown("# Fix\\n<b>x</b> [a](javascript:alert(1))"))
    '<h1>Fix</h1>\\n<p>&lt;b&gt;x&lt;/b&gt; [a](javascript:alert(1))</p>\\n'
    """
    return Markup(_MD.render(text))  # noqa: S704 (markdown-it escapes; html disabled)


def _as_json(value: object) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _qp(value: object) -> str:
    return quote(str(value), safe="")


TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("glasswatch.web", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)
TEMPLATES.filters["http_only"] = safe_link
TEMPLATES.filters["as_json"] = _as_json
TEMPLATES.filters["qp"] = _qp
TEMPLATES.filters["markdown"] = render_markdown
