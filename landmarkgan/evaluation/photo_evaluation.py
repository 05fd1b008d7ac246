"""``landmarkgan evaluate --photos``: what a recognizer trained on real faces reads in a model's translated photos.

The synthetic test pairs say how a model does on the faces it was trained on; a user brings photographs. Here
every face in every photo of a folder is aligned as the pipeline aligns it and translated to the seven targets
(neutral, and the six other basic expressions at intensity 4). fer's recognizer
(:mod:`~landmarkgan.evaluation.photo_recognizer`) finds the face in each translated crop itself and reads its
expression. Reported, per row:

* per asked expression, the share of the faces whose output reads as asked (an output where no face is found
  counts as not read), and their mean over the seven;
* the share of outputs where dlib finds a face, against the inputs (the "copy" row);
* dlib's identity distance of each output to its input (128-d descriptors of face chips cut along the input's
  detected landmarks and the output's generated ones), and the share below dlib's same-person threshold 0.6;
* a contact sheet: per face the input and the model's seven outputs, captioned with what the recognizer reads.

Two rows that learn nothing sit beside the model, so that it is judged against doing nothing: the input copied
unchanged, and the warp alone (the warp generator at refinement 0; a model without one has no such row).

It measures; it is **never a training loss**: a model trained against a judge learns to fool that judge, not
people, and the final check uses photos and a recognizer that training never saw.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from landmarkgan.data.images import is_image_file, load_image, save_image
from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.identity_metrics import VERIFICATION_THRESHOLD, face_descriptors
from landmarkgan.evaluation.photo_recognizer import LABELS, PhotoRecognizer, Reading
from landmarkgan.evaluation.photo_sheet import Cell, contact_sheet
from landmarkgan.expressions import BASIC_EXPRESSIONS
from landmarkgan.inference.pipeline import LandmarkGANPipeline

COPY, WARP, MODEL = "copy", "warp", "model"
ROW_NAMES = {COPY: "copy the input (reference)", WARP: "warp only, refinement 0 (reference)"}
SHEET = "contact_sheet.png"


@dataclass(frozen=True)
class PhotoFace:
    """One face of a photo, aligned into the model's frame: its name ("photo.jpg", "photo.jpg #2" for a second face),
    the crop (S, S, 3) uint8 and dlib's 68 landmarks in it."""

    name: str
    face: np.ndarray
    landmarks: np.ndarray


def photo_faces(folder: str | os.PathLike, pipe: LandmarkGANPipeline) -> tuple[list[PhotoFace], list[str]]:
    """Every face dlib finds in the image files of ``folder`` (:meth:`LandmarkGANPipeline.find_faces`: aligned, left to
    right within a photo); and a note per photo or face left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LandmarkGANError(f"photo folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))
    if not files:
        raise LandmarkGANError(f"{folder} holds no image files (.jpg, .png, ...); scripts/fetch_photos.py DIR "
                               "fetches a set of photos")
    faces, notes = [], []
    for file in files:
        try:
            found = pipe.find_faces(load_image(file), faces="all", what=file.name)
        except LandmarkGANError as e:
            notes.append(f"{str(e).split(';')[0]}; left out")  # "no face found in NAME" (or none large enough)
            continue
        notes += [f"{file.name}: {note}; left out" for note in found.skipped]
        for k, face in enumerate(found.faces):
            faces.append(PhotoFace(file.name + (f" #{k + 1}" if k else ""), face.face, face.landmarks))
    if not faces:
        raise LandmarkGANError(f"no face found in any photo of {folder}; use photos with clearly visible faces")
    return faces, notes


def photo_targets(pipe: LandmarkGANPipeline) -> list[tuple[str, int]]:
    """The seven asked expressions: neutral and the six other basic ones at the strongest intensity, those the model
    and the recognizer both know."""
    return [pipe.check_label(e, None) for e in BASIC_EXPRESSIONS if e in pipe.expressions and e in LABELS]


@dataclass
class PhotoEvaluation:
    """The readings of one evaluation: per row (copy, warp, model) and face, the recognizer's :class:`Reading` of
    each target's output and the identity distance of each output to its input (NaN where not measured)."""

    title: str
    targets: list[tuple[str, int]]
    faces: list[str]
    inputs: list[Reading]
    readings: dict[str, list[list[Reading]]]
    distances: dict[str, np.ndarray]
    sheet: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[str]:
        return list(self.readings)

    def row_name(self, row: str) -> str:
        return ROW_NAMES.get(row, self.title)

    def read_as_asked(self, row: str) -> dict[str, float]:
        """Per asked expression, the share of faces whose output the recognizer reads as that expression."""
        return {e: float(np.mean([r[t].expression == e for r in self.readings[row]]))
                for t, (e, _) in enumerate(self.targets)}

    def summary(self, row: str) -> dict[str, float]:
        """Per asked expression the share read as asked, their mean, the share of outputs with a face, and the
        identity distance to the input with the share of outputs verified as the same person."""
        shares = self.read_as_asked(row)
        found = [reading.box is not None for face in self.readings[row] for reading in face]
        distances = self.distances[row][np.isfinite(self.distances[row])]
        return {**shares, "mean": float(np.mean(list(shares.values()))), "face_found": float(np.mean(found)),
                "identity_distance": float(distances.mean()) if distances.size else float("nan"),
                "verified": float((distances < VERIFICATION_THRESHOLD).mean()) if distances.size else float("nan")}

    def table(self) -> str:
        """The Markdown table of :meth:`summary`, one line per row."""
        names = [e for e, _ in self.targets]
        head = ["", *names, f"mean of {len(names)}", "face found", "identity distance", "verified (< 0.6)"]
        lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
        for row in self.rows:
            s = self.summary(row)
            cells = [f"{s[k]:.2f}" for k in (*names, "mean", "face_found")]
            cells += ["n/a", "n/a"] if row == COPY else [f"{s['identity_distance']:.3f}", f"{s['verified']:.2f}"]
            lines.append(f"| {self.row_name(row)} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def faces_table(self) -> str:
        """Per face, what the recognizer reads in the input and in each of the model's outputs."""
        names = [e for e, _ in self.targets]
        lines = ["| face | input reads | " + " | ".join(names) + " |", "|---|---" + "|---" * len(names) + "|"]
        for k, name in enumerate(self.faces):
            outputs = [_caption(r) for r in self.readings[MODEL][k]]
            lines.append(f"| {name} | {_caption(self.inputs[k])} | " + " | ".join(outputs) + " |")
        return "\n".join(lines)

    def markdown(self) -> str:
        inputs_found = np.mean([r.box is not None for r in self.inputs])
        read = [r.expression for r in self.inputs if r.expression]
        common = ", ".join(f"{read.count(e)} {e}" for e in sorted(set(read), key=lambda e: -read.count(e)))
        faces = f"{len(self.faces)} face{'s' if len(self.faces) != 1 else ''}"
        parts = [f"# Photos: {self.title}", "",
                 f"{faces}; the recognizer finds {inputs_found:.2f} of the aligned inputs and reads them as: "
                 f"{common or 'nothing'}. Share of outputs read as the asked expression (no face found: not read):",
                 "", self.table(), "",
                 f"What it reads, per face (the model's outputs; the contact sheet is {SHEET}):", "",
                 self.faces_table()]
        if self.notes:
            parts += ["", "Notes:", "", *[f"- {note}" for note in self.notes]]
        return "\n".join(parts) + "\n"

    def to_json(self) -> dict:
        return {
            "title": self.title,
            "targets": [{"expression": e, "intensity": i} for e, i in self.targets],
            "summary": {self.row_name(row): {k: _number(v) for k, v in self.summary(row).items()} for row in self.rows},
            "faces": [{"name": name, "input": self.inputs[k].to_json(),
                       "outputs": {self.row_name(row): [
                           {**reading.to_json(), "identity_distance": _number(self.distances[row][k, t])}
                           for t, reading in enumerate(self.readings[row][k])] for row in self.rows}}
                      for k, name in enumerate(self.faces)],
            "notes": self.notes,
        }

    def write(self, out: str | os.PathLike) -> Path:
        """Write ``photos.md``, ``photos.json`` and the contact sheet into the folder ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "photos.md").write_text(self.markdown())
        (out / "photos.json").write_text(json.dumps(self.to_json(), indent=1, allow_nan=False) + "\n")
        save_image(self.sheet, out / SHEET)
        return out


def evaluate_photos(pipe: LandmarkGANPipeline, folder: str | os.PathLike, recognizer: PhotoRecognizer,
                    title: str = "model", progress: bool = True) -> PhotoEvaluation:
    """Translate every face of the photos in ``folder`` to the seven targets with ``pipe`` (at its refinement, in the
    area it keeps it to on photos) and read the outputs with ``recognizer``, next to the copy and warp-only
    references (see the module's description)."""
    if pipe.task != "expression":
        raise LandmarkGANError(f"this model restores faces ({pipe.task}); photos are evaluated for expression models")
    faces, notes = photo_faces(folder, pipe)
    targets = photo_targets(pipe)
    pipes = {MODEL: pipe.with_refinement_area(pipe.photo_refinement_area)}  # as on faces found in photos
    if pipe.model.config.generator == "warp":
        pipes = {WARP: pipe.with_refinement(0.0), **pipes}
    else:
        notes.append("no warp-only row: the model's stage II is not the warp generator")
    inputs = [recognizer.read(face.face) for face in tqdm(faces, desc="inputs", unit="face", disable=not progress)]
    readings = {COPY: [[reading] * len(targets) for reading in inputs]}
    distances = {COPY: np.full((len(faces), len(targets)), np.nan)}
    sources = face_descriptors([f.face for f in faces], [f.landmarks for f in faces])
    outputs: dict[str, list[np.ndarray]] = {}
    for row, row_pipe in pipes.items():
        readings[row], outputs[row], landmarks = [], [], []
        for face in tqdm(faces, desc=ROW_NAMES.get(row, title), unit="face", disable=not progress):
            results = row_pipe.translate_faces(np.repeat(face.face[None], len(targets), axis=0), targets,
                                               np.repeat(face.landmarks[None], len(targets), axis=0))
            readings[row].append([recognizer.read(r.image) for r in results])
            outputs[row] += [r.image for r in results]
            landmarks += [r.landmarks for r in results]
        generated = face_descriptors(outputs[row], landmarks).reshape(len(faces), len(targets), -1)
        distances[row] = np.linalg.norm(generated - sources[:, None], axis=2)
    sheet = _sheet(faces, targets, inputs, readings[MODEL], outputs[MODEL])
    return PhotoEvaluation(title, targets, [f.name for f in faces], inputs, readings, distances, sheet, notes)


def _sheet(faces: list[PhotoFace], targets: list[tuple[str, int]], inputs: list[Reading],
           readings: list[list[Reading]], outputs: list[np.ndarray]) -> np.ndarray:
    """Per face: the input and the outputs, captioned with the recognizer's reading (green when as asked)."""
    rows = []
    for k, face in enumerate(faces):
        row = [Cell(face.face, _caption(inputs[k]))]
        for t, (expression, _) in enumerate(targets):
            reading = readings[k][t]
            row.append(Cell(outputs[k * len(targets) + t], _caption(reading), reading.expression == expression))
        rows.append(row)
    columns = ["input", *(f"{e} {i}" if i else e for e, i in targets)]
    return contact_sheet(rows, columns, [f.name for f in faces])


def _caption(reading: Reading) -> str:
    """"happy 0.87": the expression read and its probability, or "no face"."""
    return "no face" if reading.probabilities is None else f"{reading.expression} {reading.probabilities.max():.2f}"


def _number(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 4)
