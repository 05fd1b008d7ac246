"""Labelled picture grids for people: translation sheets and comparison sheets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PAD = 4
BACKGROUND = (255, 255, 255)
TEXT = (40, 40, 40)


def make_sheet(
    cells: Sequence[Sequence[np.ndarray | None]],
    column_labels: Sequence[str] = (),
    row_labels: Sequence[str] = (),
    cell_size: int | None = None,
) -> np.ndarray:
    """A grid of RGB uint8 images (None leaves a cell blank) with optional column and row labels.

    Cells are scaled to ``cell_size`` (default: the first image's side) with nearest-neighbour
    upscaling for small images, so pixels stay honest.
    """
    first = next(c for row in cells for c in row if c is not None)
    size = cell_size or first.shape[0]
    font = ImageFont.load_default(size=max(10, size // 10))
    label_h = (font.size + 2 * PAD) if column_labels else 0
    label_w = max((int(font.getlength(t)) for t in row_labels), default=0) + (2 * PAD if row_labels else 0)
    columns = max(len(row) for row in cells)
    width = label_w + columns * (size + PAD) + PAD
    height = label_h + len(cells) * (size + PAD) + PAD
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for c, text in enumerate(column_labels):
        x = label_w + PAD + c * (size + PAD) + (size - font.getlength(text)) / 2
        draw.text((x, PAD), text, fill=TEXT, font=font)
    for r, row in enumerate(cells):
        top = label_h + PAD + r * (size + PAD)
        if r < len(row_labels):
            draw.text((PAD, top + (size - font.size) / 2), row_labels[r], fill=TEXT, font=font)
        for c, image in enumerate(row):
            if image is None:
                continue
            tile = Image.fromarray(np.ascontiguousarray(image))
            if tile.size != (size, size):
                resample = Image.Resampling.NEAREST if tile.width < size else Image.Resampling.BOX
                tile = tile.resize((size, size), resample)
            sheet.paste(tile, (label_w + PAD + c * (size + PAD), top))
    return np.asarray(sheet)


def translation_sheet(results: Sequence, expressions: Sequence[str], intensities: Sequence[int]) -> np.ndarray:
    """Every translation of one face: the input, then per intensity level a row of faces and a row of
    the same faces with their generated landmarks; one column per expression (neutral in the first level)."""
    levels = list(intensities) or [0]
    by_label = {(r.expression, r.intensity): r for r in results}
    rows: list[list[np.ndarray | None]] = [[results[0].source] + [None] * len(expressions)]
    labels = ["input"]
    for k, level in enumerate(levels):
        shown = [by_label.get((e, 0 if e == "neutral" else level)) for e in expressions]
        shown = [r if r is not None and (r.expression != "neutral" or k == 0) else None for r in shown]
        rows.append([None] + [r.image if r else None for r in shown])
        rows.append([None] + [r.overlay() if r else None for r in shown])
        labels += [f"level {level}" if level else "output", "landmarks"]
    size = max(128, results[0].image.shape[0])
    return make_sheet(rows, ["", *expressions], labels, cell_size=size)


PHOTO_TILE = 256  # the side of a contact sheet's tile
TILE_MARGIN = 1.6  # a tile shows the square this many times the faces' box


def photo_tile(photo: np.ndarray, result, size: int = PHOTO_TILE) -> np.ndarray:
    """The part of a photo (H, W, 3) uint8 around the faces of ``result`` (a PhotoTranslation): the square
    ``TILE_MARGIN`` times the box that holds their boxes, scaled to ``size`` (the whole photo when no box is known)."""
    boxes = [face.box for face in result.faces if face.box is not None]
    if not boxes:
        square = Image.fromarray(np.ascontiguousarray(photo))
    else:
        left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
        right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
        half = TILE_MARGIN * max(right - left, bottom - top) / 2
        cx, cy = (left + right) / 2, (top + bottom) / 2
        square = Image.fromarray(np.ascontiguousarray(photo)).crop(
            (round(cx - half), round(cy - half), round(cx + half), round(cy + half)))  # outside the photo: black
    return np.asarray(square.resize((size, size), Image.Resampling.BICUBIC if square.width < size
                                    else Image.Resampling.BOX))


def photo_sheet(input_tile: np.ndarray, tiles: Sequence[tuple[object, np.ndarray]], expressions: Sequence[str],
                intensities: Sequence[int]) -> np.ndarray:
    """A contact sheet of one photo's translations: the input's tile, then a row per intensity level with one column
    per expression (neutral in the first level); ``tiles`` are (translation, tile) pairs."""
    levels = list(intensities) or [0]
    by_label = {(r.expression, r.intensity): tile for r, tile in tiles}
    rows: list[list[np.ndarray | None]] = [[input_tile] + [None] * len(expressions)]
    labels = ["input"]
    for k, level in enumerate(levels):
        rows.append([None] + [by_label.get((e, 0 if e == "neutral" else level)) if e != "neutral" or k == 0 else None
                              for e in expressions])
        labels.append(f"level {level}" if level else "output")
    return make_sheet(rows, ["", *expressions], labels, cell_size=input_tile.shape[0])


def photo_strip(photos: Sequence[np.ndarray], labels: Sequence[str], height: int = 384) -> np.ndarray:
    """Whole photos side by side, each scaled to ``height`` (aspect kept), each with its label above it."""
    font = ImageFont.load_default(size=max(12, height // 20))
    label_h = font.size + 2 * PAD
    tiles = []
    for photo in photos:
        image = Image.fromarray(np.ascontiguousarray(photo))
        width = max(1, round(image.width * height / image.height))
        tiles.append(image.resize((width, height), Image.Resampling.BOX if image.height > height
                                  else Image.Resampling.BICUBIC))
    strip = Image.new("RGB", (sum(t.width for t in tiles) + PAD * (len(tiles) + 1), height + label_h + PAD),
                      BACKGROUND)
    draw = ImageDraw.Draw(strip)
    x = PAD
    for tile, text in zip(tiles, labels):
        draw.text((x + (tile.width - font.getlength(text)) / 2, PAD), text, fill=TEXT, font=font)
        strip.paste(tile, (x, label_h))
        x += tile.width + PAD
    return np.asarray(strip)
