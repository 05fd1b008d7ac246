"""``landmarkgan translate``: faces in, the same people with other expressions (and their landmarks) out."""

from __future__ import annotations

import argparse
import glob
import os
import json
from pathlib import Path

from landmarkgan.cli import add_detector_argument, add_model_arguments, add_refinement_argument
from landmarkgan.data.degradations import TASKS
from landmarkgan.errors import LandmarkGANError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "translate",
        help="change the expression of the faces in photos (or make every expression)",
        description="Find the faces in each photo (dlib), generate each face's target landmarks (stage I) and the "
        "face wearing the expression (stage II), and paste it back: the result is the whole photo at its own size, "
        "only the faces changed, named after the input and the expression (JPEG stays JPEG, others are written as "
        "PNG), with a JSON of every face's box and landmarks in the photo's pixels. --crops adds each face's aligned "
        "crop, its landmark overlay and its landmarks in the crop; --all writes one folder per photo with every "
        "expression and intensity and a contact sheet. INPUT may be files, folders or glob patterns. With --task "
        "colorize, inpaint or sketch, a model trained for that task restores each face (from a grey photo, a face "
        "with a white hole or --mask, or a pencil sketch; --degrade makes those from whole faces) and writes "
        "NAME_TASK.png, the input it read (NAME_TASK_input.png), the overlay and the landmarks.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or globs")
    target = p.add_mutually_exclusive_group()
    target.add_argument("-e", "--expression", help="target expression, one the model knows (the built-in model: "
                        "neutral, happy, sad, angry, surprise, fear, disgust)")
    target.add_argument("--all", action="store_true", help="every expression (and intensity) the model knows")
    p.add_argument("--intensity", type=int, help="1..4 (4 strongest) for models with intensity control (default 4)")
    p.add_argument("--faces", default="all", help="which faces of a photo: all (default; with --detector auto the "
                   "CNN also looks for faces HOG misses), largest, or face numbers counted from the left from 0, "
                   "such as 0,2")
    p.add_argument("--crops", action="store_true", help="also write each face's aligned crop as the model made it, "
                   "its landmark overlay and its landmarks in the crop")
    p.add_argument("--task", choices=TASKS, default="expression",
                   help="what the model was trained for (default expression); a model of another task is refused. "
                   "For colorize, inpaint and sketch, -e/--intensity are the face's own (default neutral)")
    p.add_argument("--mask", help="inpaint: an image of the input's size, white where the face is missing")
    p.add_argument("--degrade", action="store_true", help="colorize, inpaint, sketch: the inputs are whole faces; "
                   "make them grey, punch the seeded hole over an eye, the nose or the mouth, or sketch them first")
    p.add_argument("-o", "--out", default="outputs/translate", help="output folder (default outputs/translate)")
    add_model_arguments(p)
    add_detector_argument(p)
    add_refinement_argument(p)
    p.add_argument("--no-align", action="store_true",
                   help="inputs already are aligned square face crops (prepared or synthetic data set images)")
    p.set_defaults(func=run)


def parse_faces(text: str) -> str | list[int]:
    """``--faces``: all, largest, or face numbers such as 0,2."""
    from landmarkgan.inference.photo import FACE_CHOICES

    value = text.strip().lower()
    if value in FACE_CHOICES:
        return value
    parts = [part.strip() for part in value.split(",")]
    if not parts or not all(part.isdigit() for part in parts):
        raise LandmarkGANError(f"--faces must be all, largest or face numbers counted from the left from 0, such as "
                               f"0,2; got {text!r}")
    return [int(part) for part in parts]


def expand_inputs(patterns: list[str]) -> list[Path]:
    """Files, folders (their images, recursively) and glob patterns, in order, without repeats."""
    from landmarkgan.data.images import is_image_file

    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            images = sorted(p for p in path.rglob("*") if p.is_file() and is_image_file(p))
            if not images:
                raise LandmarkGANError(f"folder {path} holds no images")
            found += images
        elif path.exists():
            found.append(path)
        else:
            matches = sorted(Path(m) for m in glob.glob(pattern, recursive=True) if Path(m).is_file())
            if not matches:
                raise LandmarkGANError(f"{pattern}: no such file, folder or matching images")
            found += matches
    return list(dict.fromkeys(found))


def check_output_folder(out: Path) -> None:
    """Refuse an output folder that cannot be one (an existing file, or below one) or cannot be written."""
    existing = next(p for p in (out, *out.parents) if p.exists())  # "." or "/" at the latest
    if not existing.is_dir():
        raise LandmarkGANError(f"cannot write into {out}: {existing} is a file, not a folder; choose another -o/--out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise LandmarkGANError(f"cannot write into {out}: {existing} is not writable; choose another -o/--out")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from landmarkgan.data.images import load_image
    from landmarkgan.inference.pipeline import LandmarkGANPipeline

    inputs = expand_inputs(args.inputs)
    out = Path(args.out)
    check_output_folder(out)
    restoring = args.task != "expression"
    faces = parse_faces(args.faces)
    if not restoring and not (args.expression or args.all):
        raise LandmarkGANError("give the target expression (-e/--expression) or --all")
    if restoring and args.all:
        raise LandmarkGANError(f"--all makes every expression; a {args.task} model restores each face once")
    if not restoring and (args.mask or args.degrade):
        raise LandmarkGANError("--mask and --degrade go with --task colorize, inpaint or sketch")
    if restoring and faces != "all":
        raise LandmarkGANError(f"--faces goes with expression translation; a {args.task} model restores the one face "
                               "of each image")
    pipe = LandmarkGANPipeline.from_pretrained(args.model, device=args.device, detector=args.detector, task=args.task,
                                               refinement=args.refinement)
    if args.expression or restoring:
        pipe.check_label(args.expression or "neutral", args.intensity)  # a bad label fails before any work
    elif args.intensity is not None:
        raise LandmarkGANError("--intensity goes with --expression; --all makes every intensity")
    mask = load_image(args.mask) if args.mask else None
    failed: list[str] = []
    written = 0
    for path in tqdm(inputs, desc="translate", unit="img", disable=len(inputs) < 2):
        try:
            if restoring:
                result = pipe.restore(path, args.expression or "neutral", args.intensity, align=not args.no_align,
                                      mask=mask, degrade=args.degrade)
                write_restored(result, path, out, args.task)
            else:
                results = (pipe.translate_all(path, align=not args.no_align, faces=faces) if args.all else
                           [pipe(path, args.expression, args.intensity, align=not args.no_align, faces=faces)])
                where = out / path.stem if args.all else out
                write_photos(results, path, where, args.crops, sheet=args.all, pipe=pipe)
                for note in results[0].skipped:
                    print(f"  {path}: skipped {note}")
        except LandmarkGANError as e:
            if len(inputs) == 1:
                raise
            failed.append(f"{path}: {e}")
            continue
        written += 1
    print(f"translated {written} of {len(inputs)} image(s) into {out}")
    for line in failed:
        print(f"  skipped {line}")
    return 1 if failed else 0


def write_photos(results: list, path: Path, out: Path, crops: bool, sheet: bool, pipe) -> None:
    """Each translation of one photo: the whole photo (in the input's format) and its landmarks JSON; with ``crops``
    each face's aligned crop, overlay and landmarks; with ``sheet`` a contact sheet (and, with ``crops``, each face's
    sheet of crops)."""
    from landmarkgan.data.images import icc_profile, photo_suffix, save_image, save_photo
    from landmarkgan.inference.sheets import photo_sheet, photo_tile, translation_sheet

    suffix, profile = photo_suffix(path), icc_profile(path)
    tiles = []
    for r in results:
        name = f"{path.stem}_{r.expression}" + (f"{r.intensity}" if r.intensity else "")
        photo = r.render_photo()
        save_photo(photo, out / f"{name}{suffix}", profile)
        (out / f"{name}.json").write_text(json.dumps({"input": str(path), **r.to_json()}))
        if sheet:
            tiles.append((r, photo_tile(photo, r)))
        del photo  # one whole photo in memory at a time
        if crops:
            for k, face in enumerate(r.faces):
                save_image(face.image, out / f"{name}_face{k}.png")
                save_image(face.overlay(), out / f"{name}_face{k}_overlay.png")
                (out / f"{name}_face{k}_landmarks.json").write_text(json.dumps({"input": str(path), **face.to_json()}))
    if sheet:
        first = results[0]
        save_photo(photo_sheet(photo_tile(first.original, first), tiles, pipe.expressions, pipe.intensities),
                   out / f"{path.stem}_sheet.jpg")
        if crops:
            for k in range(len(first.faces)):
                save_image(translation_sheet([r.faces[k] for r in results], pipe.expressions, pipe.intensities),
                           out / f"{path.stem}_face{k}_all.png")


def write_restored(result, path: Path, out: Path, task: str) -> None:
    """A restored face (aligned crop): the face, the input the model read, the overlay and the landmarks."""
    from landmarkgan.data.images import save_image

    name = f"{path.stem}_{task}"
    save_image(result.source, out / f"{name}_input.png")
    save_image(result.image, out / f"{name}.png")
    save_image(result.overlay(), out / f"{name}_overlay.png")
    (out / f"{name}_landmarks.json").write_text(json.dumps({"input": str(path), **result.to_json()}))
