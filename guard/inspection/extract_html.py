"""HTML to what a recipient can see: the rendered text, and the markup a reader can reach.

libxml2 (through lxml) reads HTML in linear time, also when tags never close (the stdlib
`html.parser` rescans an unterminated tag for every byte: 17 s for 90 KiB). The text keeps
block breaks and cell tabs so that neighbouring fields do not run together, while inline tags
vanish (digits split by `<b>` join up); hidden elements are kept, because hidden text still
leaves. Comments, CDATA and every attribute value (`href` with its query decoded, `data-*`,
`value`, `alt`, `title`, `meta content`) form a second text; `data:` URIs are decoded and
handed back as embedded files for the extractor to read like attachments.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

import re2
from lxml import etree

from guard.inspection.extract_limits import Unscannable

_BLOCK = (
    "p|div|br|tr|li|ul|ol|table|h1|h2|h3|h4|h5|h6|blockquote|pre|section|article|header|footer|hr|dt|dd"
    "|title|option"
)
# The rendered text, written by libxslt in C (a Python walk over a 350k-element flood takes
# seconds): a line break around every block, a tab before every cell, comments left out (they
# are read with the markup), text nodes copied by XSLT's built-in rule.
_TEXT_XSLT = f"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:output method="text" encoding="utf-8"/>
<xsl:template match="{_BLOCK}"><xsl:text>&#10;</xsl:text><xsl:apply-templates/>
<xsl:text>&#10;</xsl:text></xsl:template>
<xsl:template match="td|th"><xsl:text>&#9;</xsl:text><xsl:apply-templates/></xsl:template>
<xsl:template match="comment()|processing-instruction()"/>
</xsl:stylesheet>"""
_RENDER: etree.XSLT | None = None
# Blank lines collapse as a browser collapses them (keeps the text small for a tag flood). One
# literal and a class that excludes it: stdlib `re` cannot backtrack here.
_BLANK_RUN = re.compile(r"\n[^\S\n]*(?:\n[^\S\n]*)+")
# libxml2 stops reading at </html>; browsers go on showing what follows it.
_END_HTML = re2.compile(r"(?i)</\s*html\s*>")
_DATA_URI = re2.compile(r"(?is)^\s*data:([^,]{0,200}),(.*)$")
MAX_EMBEDDED = 50


@dataclass(slots=True)
class HtmlReading:
    text: str
    markup: str  # comments, CDATA and attribute values, one per line
    embedded: list[tuple[str, bytes]] = field(default_factory=list)  # data: URIs (media type, bytes)


def _data_uri(value: str) -> tuple[str, bytes] | None:
    m = _DATA_URI.match(value)
    if m is None:
        return None
    header, payload = m.group(1), m.group(2)
    params = [p.strip().lower() for p in header.split(";")]
    media = params[0] or "text/plain"
    if "base64" in params[1:]:
        cleaned = "".join(unquote_plus(payload).split())
        cleaned = cleaned.replace("-", "+").replace("_", "/")
        try:
            data = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            return None
    else:
        data = unquote_plus(payload).encode("utf-8", "surrogateescape")
    return media, data


def _renderer() -> etree.XSLT:
    global _RENDER
    if _RENDER is None:  # built once; XSLT objects are safe to share between threads
        _RENDER = etree.XSLT(etree.XML(_TEXT_XSLT), access_control=etree.XSLTAccessControl.DENY_ALL)
    return _RENDER


def read_html(markup: str) -> HtmlReading:
    """Everything visible or reachable in an HTML document. Raises Unscannable when libxml2
    cannot read all of it (nesting beyond its depth limit)."""
    prepared = _END_HTML.sub("", markup).replace("\x00", "\ufffd")
    # Character references stay as written ("&#52;", "&nbsp;"): the normaliser decodes them with
    # an exact offset map, so findings and redaction point at the characters in the source.
    prepared = prepared.replace("&", "&amp;")
    if not prepared.strip():
        return HtmlReading("", "")
    # UTF-8 bytes, not a str: lxml then parses without holding the GIL (the event loop keeps
    # answering while a worker thread reads a megabyte of markup).
    parser = etree.HTMLParser(
        recover=True, no_network=True, huge_tree=True, remove_comments=False, encoding="utf-8"
    )
    root = etree.fromstring(prepared.encode("utf-8", "surrogatepass"), parser)
    for entry in parser.error_log:
        if "depth" in entry.message.lower():
            raise Unscannable("HTML nested too deeply to read")
    if root is None:
        return HtmlReading(prepared if "<" not in prepared else "", "")
    text = _BLANK_RUN.sub("\n\n", str(_renderer()(root)))
    markup_lines: list[str] = []
    embedded: list[tuple[str, bytes]] = []
    comments = (
        root.iter(etree.Comment, etree.ProcessingInstruction) if "<!" in prepared or "<?" in prepared else ()
    )
    for node in comments:
        if node.text and node.text.strip():
            markup_lines.append(node.text)
    for value in root.xpath("//@*") if "=" in prepared else ():  # skip the walk when nothing has a value
        value = str(value)
        if not value.strip():
            continue
        if value[:12].lstrip().lower().startswith("data:"):
            found = _data_uri(value)
            if found is not None:
                if len(embedded) >= MAX_EMBEDDED:
                    raise Unscannable(f"more than {MAX_EMBEDDED} data: URIs in one HTML part")
                embedded.append(found)
                continue
        markup_lines.append(value)
        if "%" in value or "+" in value:
            decoded = unquote_plus(value)
            if decoded != value:
                markup_lines.append(decoded)
    return HtmlReading(text, "\n".join(markup_lines), embedded)


def html_to_text(markup: str) -> str:
    """The rendered text only (tags dropped), for callers that want just that."""
    try:
        return read_html(markup).text
    except Unscannable:
        return markup


__all__ = ["HtmlReading", "html_to_text", "read_html"]
