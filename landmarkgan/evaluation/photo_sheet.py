"""The contact sheet of ``evaluate --photos``: per face its input and outputs, each captioned with what the
photo recognizer reads in it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PAD = 4
BACKGROUND = (255, 255, 255)
TEXT = (40, 40, 40)
AS_ASKED = (0, 120, 0)  # a caption that reads as the asked expression
OTHER = (190, 0, 0)  # one that does not, or no face


@dataclass(frozen=True)
class Cell:
    """One picture of the sheet and its caption; ``hit`` colours the caption (True green, False red, None grey)."""

    image: np.ndarray
    caption: str
    hit: bool | None = None


def contact_sheet(rows: Sequence[Sequence[Cell]], column_labels: Sequence[str], row_labels: Sequence[str],
                  cell_size: int = 128) -> np.ndarray:
    """A grid of captioned pictures (RGB uint8), one row per face, with column and row labels above and left."""
    font = ImageFont.load_default(size=max(10, cell_size // 11))
    line = font.size + PAD
    label_w = max((int(font.getlength(t)) for t in row_labels), default=0) + 2 * PAD
    columns = max(len(row) for row in rows)
    tile_h = cell_size + line
    sheet = Image.new("RGB", (label_w + columns * (cell_size + PAD) + PAD, line + PAD + len(rows) * (tile_h + PAD)),
                      BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for c, text in enumerate(column_labels):
        draw.text((label_w + PAD + c * (cell_size + PAD) + (cell_size - font.getlength(text)) / 2, PAD // 2), text,
                  fill=TEXT, font=font)
    for r, row in enumerate(rows):
        top = line + PAD + r * (tile_h + PAD)
        draw.text((PAD, top + (cell_size - font.size) / 2), row_labels[r], fill=TEXT, font=font)
        for c, cell in enumerate(row):
            left = label_w + PAD + c * (cell_size + PAD)
            tile = Image.fromarray(np.ascontiguousarray(cell.image))
            if tile.size != (cell_size, cell_size):
                tile = tile.resize((cell_size, cell_size), Image.Resampling.BICUBIC)
            sheet.paste(tile, (left, top))
            colour = TEXT if cell.hit is None else AS_ASKED if cell.hit else OTHER
            draw.text((left + (cell_size - font.getlength(cell.caption)) / 2, top + cell_size + PAD // 2),
                      cell.caption, fill=colour, font=font)
    return np.asarray(sheet)
