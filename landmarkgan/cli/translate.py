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
        help="translate faces to another expression (or all of them)",
        description="Detect and align the face in each image (dlib), generate the target expression's 68 "
        "landmarks (stage I) and the translated face (stage II). Writes, per image and expression, the face "
        "(PNG), its landmarks (JSON, in the aligned frame and in the photo) and a landmark overlay; with --all, "
        "one sheet of every expression and intensity. INPUT may be files, folders or glob patterns. With --task "
        "colorize, inpaint or sketch, a model trained for that task restores each face (from a grey photo, a face "
        "with a white hole or --mask, or a pencil sketch; --degrade makes those from whole faces) and writes "
        "NAME_TASK.png, the input it read (NAME_TASK_input.png), the overlay and the landmarks.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or globs")
    target = p.add_mutually_exclusive_group()
    target.add_argument("-e", "--expression", help="target expression: neutral, happy, sad, angry, surprise, fear, "
                        "disgust (contempt if the model knows it)")
    target.add_argument("--all", action="store_true", help="every expression (and intensity) the model knows")
    p.add_argument("--intensity", type=int, help="1..4 (4 strongest) for models with intensity control (default 4)")
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

    from landmarkgan.data.images import load_image, save_image
    from landmarkgan.inference.pipeline import LandmarkGANPipeline
    from landmarkgan.inference.sheets import translation_sheet

    inputs = expand_inputs(args.inputs)
    out = Path(args.out)
    check_output_folder(out)
    restoring = args.task != "expression"
    if not restoring and not (args.expression or args.all):
        raise LandmarkGANError("give the target expression (-e/--expression) or --all")
    if restoring and args.all:
        raise LandmarkGANError(f"--all makes every expression; a {args.task} model restores each face once")
    if not restoring and (args.mask or args.degrade):
        raise LandmarkGANError("--mask and --degrade go with --task colorize, inpaint or sketch")
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
            if args.all:
                results = pipe.translate_all(path, align=not args.no_align)
            elif restoring:
                results = [pipe.restore(path, args.expression or "neutral", args.intensity, align=not args.no_align,
                                        mask=mask, degrade=args.degrade)]
            else:
                results = [pipe(path, args.expression, args.intensity, align=not args.no_align)]
        except LandmarkGANError as e:
            if len(inputs) == 1:
                raise
            failed.append(f"{path}: {e}")
            continue
        stem = path.stem
        for r in results:
            if restoring:
                name = f"{stem}_{args.task}"
                save_image(r.source, out / f"{name}_input.png")
            else:
                name = f"{stem}_{r.expression}" + (f"{r.intensity}" if r.intensity else "")
            save_image(r.image, out / f"{name}.png")
            save_image(r.overlay(), out / f"{name}_overlay.png")
            (out / f"{name}_landmarks.json").write_text(json.dumps({"input": str(path), **r.to_json()}))
        if args.all:
            save_image(translation_sheet(results, pipe.expressions, pipe.intensities), out / f"{stem}_all.png")
        written += 1
    print(f"translated {written} of {len(inputs)} image(s) into {out}")
    for line in failed:
        print(f"  skipped {line}")
    return 1 if failed else 0

