"""QR code images for screens and printouts: the FPS payment screen, receipts and pickup slips.

SVG for screens (scales without blur, inlines into HTML), PNG for PDFs and thermal printers. Both use error
correction M (about 15% of the code can be lost) and the four-module quiet zone the QR standard asks for,
on a white background so a code still scans on a dark screen.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathFillImage

QUIET_ZONE = 4  # modules; scanners need it and the QR standard requires at least four
DEFAULT_BOX_SIZE = 8  # pixels per module in a PNG


def _qr(data: str, *, box_size: int) -> qrcode.QRCode:
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=QUIET_ZONE,
    )
    code.add_data(data)
    code.make(fit=True)
    return code


def qr_svg(data: str) -> str:
    """The QR code of `data` as a standalone <svg> element (no XML declaration), ready to inline in HTML."""
    image = _qr(data, box_size=10).make_image(image_factory=SvgPathFillImage)
    svg: str = image.to_string(encoding="unicode")
    return svg


def qr_png(data: str, *, box_size: int = DEFAULT_BOX_SIZE) -> bytes:
    """The QR code of `data` as PNG bytes, `box_size` pixels per module."""
    image = _qr(data, box_size=box_size).make_image(image_factory=PilImage)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
