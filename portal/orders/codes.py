"""Voucher codes: 15 random digits and a Damm check digit, plus their QR and barcode images.

Damm's check digit catches every single-digit typo and every swap of two neighbouring digits,
so a mistyped code is refused before it reaches the database. 10^15 random codes make guessing
hopeless, and the anomaly rules pause a product that collects failed attempts.
"""

from __future__ import annotations

import io
import re
import secrets
import unicodedata

CODE_LENGTH = 16

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_digit(digits: str) -> str:
    interim = 0
    for char in digits:
        interim = _DAMM[interim][int(char)]
    return str(interim)


def new_code() -> str:
    body = "".join(secrets.choice("0123456789") for _ in range(CODE_LENGTH - 1))
    # A leading zero would be lost by spreadsheets and some scanners.
    if body[0] == "0":
        body = str(secrets.randbelow(9) + 1) + body[1:]
    return body + damm_digit(body)


def normalize(text: str | None) -> str:
    """What the clerk typed or scanned, without spaces and dashes, in ASCII: a code typed with a
    Chinese input method or pasted from a chat comes in full-width digits (６８３７…)."""
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", text or ""))


def looks_local(code: str) -> bool:
    return len(code) == CODE_LENGTH and code.isdigit()


def check_ok(code: str) -> bool:
    return looks_local(code) and damm_digit(code) == "0"


def grouped(code: str) -> str:
    """1234 5678 9012 3456: easier to read aloud."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4)) if looks_local(code) else code


def qr_svg(code: str) -> bytes:
    import segno

    out = io.BytesIO()
    segno.make(code, error="m").save(out, kind="svg", scale=6, border=2, xmldecl=False)
    return out.getvalue()


def barcode_svg(code: str) -> bytes:
    from barcode import Code128
    from barcode.writer import SVGWriter

    out = io.BytesIO()
    Code128(code, writer=SVGWriter()).write(out, options={"module_height": 12, "font_size": 6, "text_distance": 3})
    return out.getvalue()
