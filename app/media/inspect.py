"""What an uploaded file is, from its bytes: the type (filetype's signatures, never the
client's word), and for images their size and a thumbnail (Pillow, with its decompression-bomb
limit turned into a refusal)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import filetype
from PIL import Image, ImageOps

# Served inline (the contract); everything else is a download.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
THUMBNAIL_SIDE = 320
MAX_PIXELS = 40_000_000  # 40 MP: a phone's photo passes, a 1 KB file claiming 60,000² does not


class NotAnImage(ValueError):
    """The bytes claim an image type but Pillow cannot read them within the pixel limit."""


@dataclass(frozen=True)
class Inspected:
    content_type: str
    width: int | None = None
    height: int | None = None
    thumbnail: Path | None = None
    thumbnail_type: str | None = None


def sniff(head: bytes) -> str:
    kind = filetype.guess(head)
    return kind.mime if kind is not None else "application/octet-stream"


def inspect(path: Path, head: bytes) -> Inspected:
    """Blocking (Pillow decodes): call it in a thread."""
    content_type = sniff(head)
    if content_type not in INLINE_TYPES:
        return Inspected(content_type)
    thumbnail = path.with_suffix(".thumb")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise NotAnImage(f"An image may have at most {MAX_PIXELS:,} pixels.")
                image.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))  # JPEG: decode at a reduced scale
                small = ImageOps.exif_transpose(image)
                small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
                # PNG keeps transparency; everything else becomes a JPEG.
                if small.mode in ("RGBA", "LA", "P"):
                    small.save(thumbnail, "PNG", optimize=True)
                    thumbnail_type = "image/png"
                else:
                    small.convert("RGB").save(thumbnail, "JPEG", quality=82)
                    thumbnail_type = "image/jpeg"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise NotAnImage(f"An image may have at most {MAX_PIXELS:,} pixels.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, NotAnImage):
            raise
        raise NotAnImage("The image cannot be read.") from exc
    return Inspected(content_type, width, height, thumbnail, thumbnail_type)
