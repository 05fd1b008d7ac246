"""``landmarkgan translate``: faces in, the same people with other expressions (and their landmarks) out."""

from __future__ import annotations

import argparse
import glob
import json
import os
from pathlib import Path

from landmarkgan.cli import add_detector_argument, add_model_arguments, add_refinement_argument
from landmarkgan.data.degradations import TASKS
from landmarkgan.errors import LandmarkGANError

DEFAULT_FRAMES = 16


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
                        "neutral, happy, sad, angry, surprise, fear, disgust), or a mix with shares such as "
                        "happy:0.6,surprise:0.4")
    target.add_argument("--all", action="store_true", help="every expression (and intensity) the model knows")
    target.add_argument("--like", metavar="PHOTO", help="copy the expression of this photo's largest face: its "
                        "landmarks' displacement from its own neutral (as stage I sees it), normalised for size and "
                        "pose, applied to each face's own neutral")
    target.add_argument("--landmarks", metavar="JSON", help="render each face with exactly these landmarks: a JSON "
                        "file of the format translate writes (each face's \"landmarks\" in the photo's pixels), for "
                        "example one edited by hand; each set goes to the face it lies on")
    p.add_argument("--intensity", type=float, help="with -e: 1..4 are the levels the model learned (4 strongest, the "
                   "default), and any number from 0 (the face's own expression) to 6 (exaggerated) is interpolated, "
                   "such as 2.5; with --like, and for models without intensity control, a strength from 0 to 1.5 "
                   "(default 1)")
    p.add_argument("--region", action="append", default=[], metavar="REGION=FACTOR",
                   help="scale one landmark group's displacement: brows, eyes, nose, mouth or jaw, by a factor from 0 "
                   "(keep the face's own) to 3, such as --region mouth=1.5; repeat it (or comma-separate) for several")
    p.add_argument("--animate", metavar="OUT.gif", help="also write a morph from the face's own expression to the "
                   "target, as a .gif (or .mp4 where OpenCV is installed), at most 1024 pixels large; one input only")
    p.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help=f"frames of the --animate morph (default "
                   f"{DEFAULT_FRAMES})")
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


def check_combination(args: argparse.Namespace, restoring: bool, faces: str | list[int], inputs: int) -> None:
    """Refuse options that do not go together, before any work."""
    controls = args.like or args.landmarks or args.region or args.animate
    if not restoring and not (args.expression or args.all or args.like or args.landmarks):
        raise LandmarkGANError("give the target expression (-e/--expression), --like PHOTO, --landmarks JSON or --all")
    if restoring and args.all:
        raise LandmarkGANError(f"--all makes every expression; a {args.task} model restores each face once")
    if restoring and controls:
        raise LandmarkGANError(f"--like, --landmarks, --region and --animate go with expression translation; a "
                               f"{args.task} model restores each face")
    if args.all and (args.region or args.animate):
        raise LandmarkGANError("--all makes every expression at the levels the model learned; --region and --animate "
                               "go with -e or --like")
    if args.landmarks and (args.intensity is not None or args.region or args.animate):
        raise LandmarkGANError("--landmarks gives the target landmarks themselves; --intensity, --region and --animate "
                               "go with -e or --like")
    if args.animate and inputs != 1:
        raise LandmarkGANError(f"--animate writes one animation; give one input photo, not {inputs}")
    if not restoring and (args.mask or args.degrade):
        raise LandmarkGANError("--mask and --degrade go with --task colorize, inpaint or sketch")
    if restoring and faces != "all":
        raise LandmarkGANError(f"--faces goes with expression translation; a {args.task} model restores the one face "
                               "of each image")


def single_or_mix(text: str) -> str | dict[str, float]:
    """``-e``: one expression's name, or a mix {name: share}."""
    from landmarkgan.inference.control import parse_mix

    mix = parse_mix(text)
    return next(iter(mix)) if len(mix) == 1 else mix


def whole_intensity(value: float | None) -> int | None:
    """``--intensity`` for a restoration model: one of its levels."""
    if value is not None and not float(value).is_integer():
        raise LandmarkGANError(f"a restoration model takes the face's own intensity, a level such as 3; got {value:g}")
    return None if value is None else int(value)


def read_landmarks(path: Path) -> list[list]:
    """``--landmarks``: each face's 68 landmarks (photo pixels) from a JSON file of the format translate writes."""
    try:
        record = json.loads(path.read_text())
    except OSError as e:
        raise LandmarkGANError(f"cannot read {path}: {e.strerror}") from None
    except ValueError as e:
        raise LandmarkGANError(f"{path} is not JSON ({e})") from None
    faces = record.get("faces") if isinstance(record, dict) else None
    if not isinstance(faces, list) or not faces or not all(isinstance(f, dict) and "landmarks" in f for f in faces):
        raise LandmarkGANError(f"{path} holds no faces' landmarks: it should be as translate writes it, "
                               '{"faces": [{"landmarks": [[x, y], ... 68 points]}, ...]}')
    return [face["landmarks"] for face in faces]


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


def output_stems(inputs: list[Path]) -> dict[Path, str]:
    """The name each input's outputs start with: its stem; where inputs share a stem, the folder's name and the stem
    (a/me.jpg, b/me.jpg: a_me, b_me), or the stem and the format (me.jpg, me.png: me_jpg, me_png), or all three,
    numbered if still shared; so no output overwrites another's."""
    groups: dict[str, list[Path]] = {}
    for path in inputs:
        groups.setdefault(path.stem.lower(), []).append(path)
    stems: dict[Path, str] = {}
    taken: set[str] = set()
    for path in inputs:
        group = groups[path.stem.lower()]
        base = path.stem
        if len(group) > 1:
            folder, kind = path.parent.name, path.suffix.lstrip(".")
            if len({p.parent.name for p in group}) == len(group):
                base = f"{folder}_{path.stem}"
            elif len({p.suffix.lower() for p in group}) == len(group):
                base = f"{path.stem}_{kind}"
            else:
                base = f"{folder}_{path.stem}_{kind}"
        stem, number = base, 2
        while stem.lower() in taken:
            stem, number = f"{base}_{number}", number + 1
        taken.add(stem.lower())
        stems[path] = stem
    return stems


def check_output_folder(out: Path) -> None:
    """Refuse an output folder that cannot be one (an existing file, or below one) or cannot be written."""
    existing = next(p for p in (out, *out.parents) if p.exists())  # "." or "/" at the latest
    if not existing.is_dir():
        raise LandmarkGANError(f"cannot write into {out}: {existing} is a file, not a folder; choose another -o/--out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise LandmarkGANError(f"cannot write into {out}: {existing} is not writable; choose another -o/--out")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from landmarkgan.data.images import load_image, shrink
    from landmarkgan.inference.animation import ANIMATION_SIDE, check_animation_path, write_animation
    from landmarkgan.inference.control import parse_regions
    from landmarkgan.inference.pipeline import LandmarkGANPipeline

    inputs = expand_inputs(args.inputs)
    stems = output_stems(inputs)
    out = Path(args.out)
    check_output_folder(out)
    restoring = args.task != "expression"
    faces = parse_faces(args.faces)
    check_combination(args, restoring, faces, len(inputs))
    animation = check_animation_path(args.animate) if args.animate else None
    landmarks = read_landmarks(Path(args.landmarks)) if args.landmarks else None
    regions = parse_regions(args.region) if args.region else None
    expression = args.expression if restoring or not args.expression else single_or_mix(args.expression)
    pipe = LandmarkGANPipeline.from_pretrained(args.model, device=args.device, detector=args.detector, task=args.task,
                                               refinement=args.refinement, refinement_area=args.refinement_area)
    like = pipe.expression_of(args.like, align=not args.no_align) if args.like else None
    if restoring:
        pipe.check_label(args.expression or "neutral", whole_intensity(args.intensity))
    elif expression is not None or like is not None:
        pipe.control(expression, args.intensity, regions, like)  # a bad control fails before any work
    elif args.intensity is not None:
        raise LandmarkGANError("--intensity goes with --expression or --like; --all makes every intensity")
    mask = load_image(args.mask) if args.mask else None
    failed: list[str] = []
    written = 0
    for path in tqdm(inputs, desc="translate", unit="img", disable=len(inputs) < 2):
        try:
            align = not args.no_align
            if restoring:
                result = pipe.restore(path, args.expression or "neutral", whole_intensity(args.intensity), align=align,
                                      mask=mask, degrade=args.degrade)
                write_restored(result, path, stems[path], out, args.task)
            else:
                results = (pipe.translate_all(path, align=align, faces=faces) if args.all else
                           [pipe.edit(path, landmarks, align=align, faces=faces)] if landmarks is not None else
                           [pipe(path, expression, args.intensity, align, faces, regions=regions, like=like)])
                where = out / stems[path] if args.all else out
                first = write_photos(results, path, stems[path], where, args.crops, sheet=args.all, pipe=pipe)
                count = len(results[0].faces)
                tqdm.write(f"{path.name}: {count} face{'s' if count != 1 else ''} changed -> "
                           f"{where if args.all else first}")
                for note in results[0].skipped:
                    print(f"  {path}: skipped {note}")
                if animation:
                    frames = pipe.morph(path, expression, args.intensity, align, faces, regions, like, args.frames)
                    small = shrink(frames[0].original, ANIMATION_SIDE)[0]
                    write_animation([frame.render_photo(onto=small) for frame in frames], animation)
                    print(f"wrote the morph ({len(frames)} frames) to {animation}")
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


def write_photos(results: list, path: Path, stem: str, out: Path, crops: bool, sheet: bool, pipe) -> Path:
    """Each translation of one photo, named from ``stem``: the whole photo (in the input's format) and its landmarks
    JSON; with ``crops`` each face's aligned crop, overlay and landmarks; with ``sheet`` a contact sheet (and, with
    ``crops``, each face's sheet of crops). Returns the first photo written."""
    from landmarkgan.data.images import icc_profile, photo_suffix, save_image, save_photo
    from landmarkgan.inference.sheets import photo_sheet, photo_tile, translation_sheet

    suffix, profile = photo_suffix(path), icc_profile(path)
    tiles = []
    written = []
    for r in results:
        name = f"{stem}_{r.name}"
        photo = r.render_photo()
        written.append(save_photo(photo, out / f"{name}{suffix}", profile))
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
                   out / f"{stem}_sheet.jpg")
        if crops:
            for k in range(len(first.faces)):
                save_image(translation_sheet([r.faces[k] for r in results], pipe.expressions, pipe.intensities),
                           out / f"{stem}_face{k}_all.png")
    return written[0]


def write_restored(result, path: Path, stem: str, out: Path, task: str) -> None:
    """A restored face (aligned crop): the face, the input the model read, the overlay and the landmarks."""
    from landmarkgan.data.images import save_image

    name = f"{stem}_{task}"
    save_image(result.source, out / f"{name}_input.png")
    save_image(result.image, out / f"{name}.png")
    save_image(result.overlay(), out / f"{name}_overlay.png")
    (out / f"{name}_landmarks.json").write_text(json.dumps({"input": str(path), **result.to_json()}))
