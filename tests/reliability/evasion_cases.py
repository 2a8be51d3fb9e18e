"""The evasion table: ways to hide a card number, SSN, IBAN or API key from a scanner.

Each case is one outbound message, built as bytes (SMTP) or as a webhook payload (chat), and
the entity it hides. `missed` holds the reason when the guard genuinely does not catch it
(the test then expects the miss, strictly, so the table stays honest).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

from tests.reliability.sensitive_samples import AWS_KEY, CARD, IBAN, SSN

SENDER = "alice@example.com"
EXTERNAL = "bob@partner.net"


@dataclass(frozen=True)
class Case:
    id: str
    entity: str  # CREDIT_CARD | US_SSN | IBAN | API_KEY
    channel: str  # smtp | slack | discord | teams | teams_workflows | googlechat | mattermost | generic
    technique: str
    raw: bytes = b""  # smtp
    payload: Any = None  # chat
    form: bool = False  # chat: send as application/x-www-form-urlencoded payload=
    escaped: bool = False  # chat: every character of every string as a JSON \\u escape
    missed: str = ""  # non-empty: genuinely not caught, and why


# -- message builders -----------------------------------------------------------------------------
def _headers(msg: Any, subject: str = "Customer follow-up") -> Any:
    msg["From"] = SENDER
    msg["To"] = EXTERNAL
    msg["Subject"] = subject
    msg["Message-ID"] = "<evasion@example.com>"
    return msg


def text_mail(
    body: str, *, cte: str | None = None, charset: str = "utf-8", subject: str = "Customer follow-up"
) -> bytes:
    msg = _headers(EmailMessage(), subject)
    msg.set_content(body, charset=charset, cte=cte) if cte else msg.set_content(body, charset=charset)
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def html_mail(html: str, plain: str = "Please see the HTML version of this message.") -> bytes:
    msg = _headers(EmailMessage())
    msg.set_content(plain)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def html_only_mail(html: str) -> bytes:
    msg = _headers(MIMEText(html, "html", "utf-8"))
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def raw_mail(headers: str, body: str) -> bytes:
    head = f"From: {SENDER}\r\nTo: {EXTERNAL}\r\nMessage-ID: <evasion@example.com>\r\n{headers}"
    return (head + "\r\n" + body).encode("utf-8")


def parts_mail(*texts: str) -> bytes:
    outer = _headers(MIMEMultipart("mixed"))
    for t in texts:
        outer.attach(MIMEText(t, "plain", "utf-8"))
    return outer.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def attachment_mail(
    filename: str,
    data: bytes,
    maintype: str = "application",
    subtype: str = "octet-stream",
    body: str = "Attached as discussed.",
) -> bytes:
    msg = _headers(EmailMessage())
    msg.set_content(body)
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def forwarded_mail(inner_body: str) -> bytes:
    inner = _headers(MIMEText(inner_body, "plain", "utf-8"), "Original request")
    outer = _headers(MIMEMultipart("mixed"), "Fwd: Original request")
    outer.attach(MIMEText("FYI, see the forwarded message below.", "plain", "utf-8"))
    outer.attach(MIMEMessage(inner))
    return outer.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def twice_forwarded_mail(inner_body: str) -> bytes:
    inner = _headers(MIMEText(inner_body, "plain", "utf-8"), "Original")
    middle = _headers(MIMEMultipart("mixed"), "Fwd: Original")
    middle.attach(MIMEText("forwarding", "plain", "utf-8"))
    middle.attach(MIMEMessage(inner))
    outer = _headers(MIMEMultipart("mixed"), "Fwd: Fwd: Original")
    outer.attach(MIMEText("and again", "plain", "utf-8"))
    outer.attach(MIMEMessage(middle))
    return outer.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def pdf_bytes(text: str) -> bytes:
    """A one-page PDF whose content stream draws `text` (Helvetica)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def docx_bytes(text: str) -> bytes:
    import docx

    doc = docx.Document()
    doc.add_paragraph("Customer details")
    table = doc.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Value"
    table.rows[0].cells[1].text = text
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def xlsx_bytes(text: str) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["name", "note"])
    ws.append(["Jane", text])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def qp_soft_breaks(body: str) -> bytes:
    """Quoted-printable with a soft line break after every digit of the body's numbers."""
    encoded = "".join(f"{c}=\r\n" if c.isdigit() else c for c in body)
    return raw_mail(
        "Subject: qp\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n",
        encoded + "\r\n",
    )


def b64_body(body: str) -> bytes:
    data = base64.encodebytes(body.encode()).decode().replace("\n", "\r\n")
    return raw_mail(
        "Subject: b64\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n",
        data,
    )


def interleave(value: str, junk: str) -> str:
    """Put `junk` between every two characters of the value."""
    return junk.join(value)


FULLWIDTH = str.maketrans(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ",
)
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
MATH_BOLD = str.maketrans("0123456789", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗")
LOOKALIKE_LIGHT = str.maketrans({"1": "l"})  # applied to a few digits only
ZW = "\u200b"

C, S, IB, K = "CREDIT_CARD", "US_SSN", "IBAN", "API_KEY"


def _light_homoglyphs(value: str) -> str:
    out, done = [], 0
    for ch in value:
        if ch == "1" and done < 3:
            out.append("l")
            done += 1
        else:
            out.append(ch)
    return "".join(out)


SMTP_CASES: list[Case] = [
    Case("smtp-plain-card", C, "smtp", "plain text (baseline)", text_mail(f"card {CARD}")),
    Case("smtp-plain-ssn", S, "smtp", "plain text (baseline)", text_mail(f"SSN {SSN}")),
    Case("smtp-plain-iban", IB, "smtp", "plain text (baseline)", text_mail(f"IBAN {IBAN}")),
    Case("smtp-plain-key", K, "smtp", "plain text (baseline)", text_mail(f"aws key {AWS_KEY}")),
    Case("smtp-b64-card", C, "smtp", "base64 transfer encoding", b64_body(f"please charge {CARD}")),
    Case("smtp-b64-key", K, "smtp", "base64 transfer encoding", b64_body(f"key {AWS_KEY}")),
    Case(
        "smtp-qp-card",
        C,
        "smtp",
        "quoted-printable soft line break after every digit",
        qp_soft_breaks(f"card {CARD}"),
    ),
    Case(
        "smtp-qp-ssn",
        S,
        "smtp",
        "quoted-printable soft line break after every digit",
        qp_soft_breaks(f"SSN {SSN}"),
    ),
    Case(
        "smtp-html-comments-card",
        C,
        "smtp",
        "HTML comments between digits",
        html_only_mail("<p>card " + interleave(CARD.replace(" ", ""), "<!-- x -->") + "</p>"),
    ),
    Case(
        "smtp-html-tags-card",
        C,
        "smtp",
        "HTML tags between digits",
        html_only_mail("<p>card " + "".join(f"<span>{d}</span>" for d in CARD.replace(" ", "")) + "</p>"),
    ),
    Case(
        "smtp-html-tags-iban",
        IB,
        "smtp",
        "HTML tags between characters",
        html_only_mail("<p>IBAN " + "".join(f"<b>{d}</b>" for d in IBAN.replace(" ", "")) + "</p>"),
    ),
    Case(
        "smtp-html-entities-ssn",
        S,
        "smtp",
        "HTML numeric character references",
        html_only_mail("<p>SSN " + "".join(f"&#{ord(c)};" for c in SSN) + "</p>"),
    ),
    Case(
        "smtp-css-hidden-card",
        C,
        "smtp",
        "CSS-hidden text (display:none) in the HTML part",
        html_mail(f'<p>Thanks!</p><span style="display:none">card {CARD}</span>', plain="Thanks!"),
    ),
    Case(
        "smtp-css-tiny-white-key",
        K,
        "smtp",
        "white 1px text in the HTML part",
        html_mail(f'<p>Hi</p><p style="color:#fff;font-size:1px">{AWS_KEY}</p>', plain="Hi"),
    ),
    Case(
        "smtp-html-attribute-card",
        C,
        "smtp",
        "value in an HTML attribute (img alt / title)",
        html_only_mail(f'<p>see picture</p><img src="cid:x" alt="card {CARD}" title="{CARD}">'),
    ),
    Case(
        "smtp-fullwidth-card", C, "smtp", "fullwidth digits", text_mail("card " + CARD.translate(FULLWIDTH))
    ),
    Case(
        "smtp-fullwidth-key",
        K,
        "smtp",
        "fullwidth letters and digits",
        text_mail("key " + AWS_KEY.translate(FULLWIDTH)),
    ),
    Case(
        "smtp-arabic-indic-ssn",
        S,
        "smtp",
        "Arabic-Indic digits",
        text_mail("SSN " + SSN.translate(ARABIC_INDIC)),
    ),
    Case(
        "smtp-math-bold-card",
        C,
        "smtp",
        "mathematical bold digits",
        text_mail("card " + CARD.translate(MATH_BOLD)),
    ),
    Case(
        "smtp-homoglyph-light-card",
        C,
        "smtp",
        "look-alike letters for some digits (l for 1)",
        text_mail("card " + _light_homoglyphs(CARD)),
    ),
    Case(
        "smtp-homoglyph-heavy-card",
        C,
        "smtp",
        "look-alike letters for every digit but one (4lll llll …)",
        text_mail("card " + CARD.replace("1", "l")),
    ),
    Case(
        "smtp-zero-width-card",
        C,
        "smtp",
        "zero-width spaces between digits",
        text_mail("card " + interleave(CARD, ZW)),
    ),
    Case(
        "smtp-zero-width-key",
        K,
        "smtp",
        "zero-width joiners inside the key",
        text_mail("key " + interleave(AWS_KEY, "\u200d")),
    ),
    Case(
        "smtp-soft-hyphen-iban",
        IB,
        "smtp",
        "soft hyphens between groups",
        text_mail("IBAN " + IBAN.replace(" ", "\u00ad")),
    ),
    Case(
        "smtp-spelled-card",
        C,
        "smtp",
        "digits spelled out as words",
        text_mail("card " + " ".join({"4": "four", "1": "one"}[d] for d in CARD.replace(" ", ""))),
    ),
    Case(
        "smtp-utf16-card",
        C,
        "smtp",
        "UTF-16 text part",
        raw_mail(
            "Subject: u16\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-16\r\n"
            "Content-Transfer-Encoding: base64\r\n",
            base64.encodebytes(f"card {CARD}".encode("utf-16")).decode().replace("\n", "\r\n"),
        ),
    ),
    Case(
        "smtp-subject-encoded-card",
        C,
        "smtp",
        "RFC 2047 encoded Subject",
        raw_mail(
            f"Subject: =?utf-8?b?{base64.b64encode(f'refund card {CARD}'.encode()).decode()}?=\r\n", "hi\r\n"
        ),
    ),
    Case(
        "smtp-custom-header-ssn",
        S,
        "smtp",
        "custom X- header",
        raw_mail(f"Subject: x\r\nX-Customer-Note: SSN {SSN}\r\n", "hi\r\n"),
    ),
    Case(
        "smtp-split-parts-card",
        C,
        "smtp",
        "number split across two MIME parts",
        parts_mail("card 4111 1111", "1111 1111"),
    ),
    Case(
        "smtp-split-lines-card",
        C,
        "smtp",
        "number split over two lines",
        text_mail("card 4111 1111\n1111 1111"),
    ),
    Case(
        "smtp-forwarded-card",
        C,
        "smtp",
        "forwarded message (message/rfc822) inside the message",
        forwarded_mail(f"Please refund card {CARD}."),
    ),
    Case(
        "smtp-forwarded-twice-ssn",
        S,
        "smtp",
        "message inside a message inside a message",
        twice_forwarded_mail(f"my SSN is {SSN}"),
    ),
    Case(
        "smtp-attachment-csv-card",
        C,
        "smtp",
        "CSV attachment (base64)",
        attachment_mail("customers.csv", f"name,card\nJane,{CARD}\n".encode(), "text", "csv"),
    ),
    Case(
        "smtp-zip-card",
        C,
        "smtp",
        "ZIP attachment",
        attachment_mail("data.zip", zip_bytes({"notes.txt": f"card {CARD}".encode()})),
    ),
    Case(
        "smtp-nested-zip-ssn",
        S,
        "smtp",
        "ZIP inside a ZIP inside a ZIP",
        attachment_mail(
            "outer.zip",
            zip_bytes(
                {"middle.zip": zip_bytes({"inner.zip": zip_bytes({"ssn.txt": f"SSN {SSN}".encode()})})}
            ),
        ),
    ),
    Case(
        "smtp-gzip-key",
        K,
        "smtp",
        "gzip attachment",
        attachment_mail("creds.txt.gz", gzip.compress(f"aws key {AWS_KEY}".encode())),
    ),
    Case(
        "smtp-zip-renamed-card",
        C,
        "smtp",
        "ZIP renamed to .jpg",
        attachment_mail("photo.jpg", zip_bytes({"a.txt": f"card {CARD}".encode()}), "image", "jpeg"),
    ),
    Case(
        "smtp-pdf-card",
        C,
        "smtp",
        "PDF attachment",
        attachment_mail("invoice.pdf", pdf_bytes(f"card {CARD}"), "application", "pdf"),
    ),
    Case(
        "smtp-docx-iban",
        IB,
        "smtp",
        "DOCX attachment (table cell)",
        attachment_mail(
            "details.docx",
            docx_bytes(f"IBAN {IBAN}"),
            "application",
            "vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ),
    Case(
        "smtp-xlsx-ssn",
        S,
        "smtp",
        "XLSX attachment",
        attachment_mail(
            "sheet.xlsx",
            xlsx_bytes(f"SSN {SSN}"),
            "application",
            "vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ),
    Case(
        "smtp-json-attachment-key",
        K,
        "smtp",
        "JSON attachment",
        attachment_mail("config.json", json.dumps({"aws": {"key": AWS_KEY}}).encode(), "application", "json"),
    ),
    Case(
        "smtp-filename-card",
        C,
        "smtp",
        "value in an attachment file name",
        attachment_mail(f"card {CARD}.txt", b"see file name"),
    ),
    Case(
        "smtp-zip-member-name-ssn",
        S,
        "smtp",
        "value in the name of a file inside a ZIP",
        attachment_mail("files.zip", zip_bytes({f"SSN {SSN}.txt": b"see name"})),
    ),
    Case(
        "smtp-base64-in-text-card",
        C,
        "smtp",
        "value base64-encoded by the sender inside plain text",
        text_mail("card (b64): " + base64.b64encode(CARD.encode()).decode()),
    ),
    Case(
        "smtp-reversed-card",
        C,
        "smtp",
        "digits reversed, shown in order by a bidi override",
        text_mail("card \u202e" + CARD[::-1] + "\u202c"),
    ),
    Case(
        "smtp-key-split-lines",
        K,
        "smtp",
        "API key split over two lines",
        text_mail(f"key {AWS_KEY[:10]}\n{AWS_KEY[10:]}"),
    ),
]


# -- chat payloads ---------------------------------------------------------------------------------
def _adaptive(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}
        ],
    }


CHAT_CASES: list[Case] = [
    Case("slack-text-card", C, "slack", "Slack text (baseline)", payload={"text": f"card {CARD}"}),
    Case(
        "slack-blocks-vs-text-card",
        C,
        "slack",
        "Slack blocks carry it, the text fallback is clean",
        payload={
            "text": "Refund processed",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"card *{CARD}*"}}],
        },
    ),
    Case(
        "slack-rich-text-ssn",
        S,
        "slack",
        "Slack rich_text elements",
        payload={
            "text": "note",
            "blocks": [
                {
                    "type": "rich_text",
                    "elements": [
                        {
                            "type": "rich_text_section",
                            "elements": [
                                {"type": "text", "text": "SSN "},
                                {"type": "text", "text": SSN, "style": {"code": True}},
                            ],
                        }
                    ],
                }
            ],
        },
    ),
    Case(
        "slack-attachment-field-iban",
        IB,
        "slack",
        "Slack attachment field value",
        payload={
            "text": "payout",
            "attachments": [{"fallback": "payout", "fields": [{"title": "IBAN", "value": IBAN}]}],
        },
    ),
    Case(
        "slack-form-key",
        K,
        "slack",
        "Slack form-encoded payload=",
        payload={"text": f"aws key {AWS_KEY}"},
        form=True,
    ),
    Case(
        "slack-block-id-card",
        C,
        "slack",
        "value in a structural field (block_id)",
        payload={
            "text": "hi",
            "blocks": [{"type": "section", "block_id": CARD, "text": {"type": "mrkdwn", "text": "hi"}}],
        },
    ),
    Case(
        "slack-zero-width-card",
        C,
        "slack",
        "zero-width characters in Slack text",
        payload={"text": "card " + interleave(CARD, ZW)},
    ),
    Case(
        "slack-json-escapes-ssn",
        S,
        "slack",
        "JSON \\u escapes for every character",
        payload={"text": "SSN " + SSN},
        escaped=True,
    ),
    Case(
        "discord-content-card",
        C,
        "discord",
        "Discord content (baseline)",
        payload={"content": f"card {CARD}"},
    ),
    Case(
        "discord-embed-description-ssn",
        S,
        "discord",
        "Discord embed description",
        payload={"content": "see embed", "embeds": [{"title": "Customer", "description": f"SSN {SSN}"}]},
    ),
    Case(
        "discord-embed-field-card",
        C,
        "discord",
        "Discord embed field value",
        payload={"embeds": [{"fields": [{"name": "Card", "value": CARD}]}]},
    ),
    Case(
        "discord-embed-footer-key",
        K,
        "discord",
        "Discord embed footer",
        payload={"content": "deploy", "embeds": [{"footer": {"text": f"aws key {AWS_KEY}"}}]},
    ),
    Case(
        "teams-adaptive-textblock-card",
        C,
        "teams_workflows",
        "Teams adaptive card TextBlock",
        payload=_adaptive([{"type": "TextBlock", "text": f"card {CARD}"}]),
    ),
    Case(
        "teams-adaptive-factset-ssn",
        S,
        "teams_workflows",
        "Teams adaptive card FactSet",
        payload=_adaptive([{"type": "FactSet", "facts": [{"title": "SSN", "value": SSN}]}]),
    ),
    Case(
        "teams-adaptive-nested-iban",
        IB,
        "teams_workflows",
        "Teams adaptive card: container > columns > rich text",
        payload=_adaptive(
            [
                {
                    "type": "Container",
                    "items": [
                        {
                            "type": "ColumnSet",
                            "columns": [
                                {
                                    "type": "Column",
                                    "items": [
                                        {
                                            "type": "RichTextBlock",
                                            "inlines": [{"type": "TextRun", "text": f"IBAN {IBAN}"}],
                                        }
                                    ],
                                }
                            ],
                        }
                    ],
                }
            ]
        ),
    ),
    Case(
        "teams-adaptive-action-key",
        K,
        "teams_workflows",
        "Teams adaptive card action title",
        payload=_adaptive(
            [{"type": "TextBlock", "text": "deploy"}],
            [{"type": "Action.OpenUrl", "title": AWS_KEY, "url": "https://x.test"}],
        ),
    ),
    Case(
        "teams-messagecard-fact-card",
        C,
        "teams",
        "Teams MessageCard section fact",
        payload={
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": "refund",
            "sections": [{"facts": [{"name": "Card", "value": CARD}]}],
        },
    ),
    Case(
        "googlechat-card-widget-ssn",
        S,
        "googlechat",
        "Google Chat cardsV2 decoratedText",
        payload={
            "text": "details",
            "cardsV2": [
                {
                    "cardId": "c",
                    "card": {
                        "sections": [{"widgets": [{"decoratedText": {"topLabel": "SSN", "text": SSN}}]}]
                    },
                }
            ],
        },
    ),
    Case(
        "mattermost-props-card",
        C,
        "mattermost",
        "Mattermost props",
        payload={"text": "x", "props": {"card": CARD}},
    ),
    Case(
        "generic-deep-card",
        C,
        "generic",
        "generic JSON, 30 levels deep",
        payload=json.loads("[" * 30 + json.dumps(f"card {CARD}") + "]" * 30),
    ),
    Case(
        "generic-number-card",
        C,
        "generic",
        "card number as a JSON number",
        payload={"n": int(CARD.replace(" ", ""))},
    ),
    Case("generic-key-name-ssn", S, "generic", "value used as an object key", payload={"rows": {SSN: "ok"}}),
    Case(
        "generic-structural-field-card",
        C,
        "generic",
        'value in a field named like structure ("type")',
        payload={"customer": {"name": "Jane", "type": CARD}},
    ),
    Case(
        "generic-split-fields-card",
        C,
        "generic",
        "number split across two JSON fields",
        payload={"a": "card 4111 1111", "b": "1111 1111"},
    ),
]

CASES = SMTP_CASES + CHAT_CASES
