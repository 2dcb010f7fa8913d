"""QR codes as inline SVG (no image files, nothing for the CSP to block)."""

import re

import qrcode
import qrcode.image.svg
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_SIZE = re.compile(r'\s(width|height)="[^"]*"')


def qr_svg(data: str, *, label: str) -> SafeString:
    """An SVG QR code for `data`, scaled by CSS, announced to screen readers as `label`.

    The SVG is built by the qrcode package from `data` only (path data, no text), so it is
    safe to mark safe; `label` is escaped here.
    """
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=4,
    )
    svg = image.to_string(encoding="unicode")
    svg = _SIZE.sub("", svg.split("?>", 1)[-1], count=2)
    svg = svg.replace(
        "<svg ", f'<svg class="qr-code" role="img" aria-label="{escape(label)}" ', 1
    )
    return mark_safe(svg)
