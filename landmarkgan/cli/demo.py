"""``landmarkgan demo``: the built-in default model translates the bundled faces to every expression.

For each bundled face (three synthetic subjects the model never saw, and one real photo that is
detected and aligned with dlib first) it writes a sheet with the input, every expression at every
intensity, and the generated landmarks; plus the detected landmarks of the photo and the whole photo before and
after (as ``landmarkgan translate`` returns it: the photo at its own size with the face changed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from landmarkgan.cli import add_model_arguments

PHOTO_EXPRESSIONS = ("happy", "sad", "surprise")  # the before/after strip of the bundled photo
PHOTO_NOTE = (
    "note: the default model learned from synthetic faces only. On the real photo it moves the person's own mouth, "
    "lids and brows toward each expression and paints the mouth and eyes (there only, on photos), with specks, and "
    "a broken mouth where it must open wide (surprise): it never saw a real face change. Train on a real data set "
    "(landmarkgan prepare, then train) for photos."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="translate the bundled faces to every expression with the built-in model (outputs/demo)",
        description="Translate three bundled synthetic faces and one real photo (detected and aligned with dlib) "
        "to every expression and intensity with the built-in default model, and write one sheet per face.",
    )
    p.add_argument("--out", default="outputs/demo", help="folder to write (default outputs/demo)")
    add_model_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from landmarkgan.app.server import bundled_samples
    from landmarkgan.data.images import save_image
    from landmarkgan.inference.pipeline import LandmarkGANPipeline
    from landmarkgan.inference.sheets import make_sheet, photo_strip, translation_sheet
    from landmarkgan.landmarks.drawing import draw_landmarks

    out = Path(args.out)
    pipe = LandmarkGANPipeline.from_pretrained(args.model, device=args.device, task="expression")
    strongest = max(pipe.intensities, default=0)
    overview_rows, overview_labels = [], []
    description = pipe.model.metadata.get("description", "")
    print(f"model: {args.model or 'built-in default'} ({pipe.image_size}x{pipe.image_size}; "
          f"{', '.join(pipe.expressions)}; intensities {pipe.intensities or 'none'}) {description}".rstrip())
    for sample in bundled_samples():
        results = pipe.translate_all(sample.path, align=sample.align)
        stem = Path(sample.name).stem
        sheet = save_image(translation_sheet(results, pipe.expressions, pipe.intensities), out / f"{stem}_all.png")
        (out / f"{stem}_landmarks.json").write_text(json.dumps([r.to_json() for r in results]))
        print(f"{sample.name}: {len(results)} translations -> {sheet}")
        shown = [next(r for r in results if r.expression == e and r.intensity in (0, strongest)) for e in pipe.expressions]
        overview_rows += [[results[0].source, *[r.image for r in shown]], [None, *[r.overlay() for r in shown]]]
        overview_labels += [stem.replace("synthetic_", ""), "landmarks"]
        if sample.align:
            first = results[0]
            save_image(draw_landmarks(first.source, first.source_landmarks), out / f"{stem}_detected_landmarks.png")
            print(f"  dlib found the face and its 68 landmarks; aligned input -> {out / (stem + '_detected_landmarks.png')}")
            shown = [r for r in results if r.expression in PHOTO_EXPRESSIONS and r.intensity == strongest]
            strip = photo_strip([first.original, *[r.render_photo() for r in shown]], ["before", *[r.label for r in shown]])
            path = save_image(strip, out / f"{stem}_before_after.png")
            print(f"  the whole photo before and after -> {path}")
            print(f"  {PHOTO_NOTE}")
    level = f" (intensity {strongest})" if strongest else ""
    overview = save_image(make_sheet(overview_rows, ["input", *pipe.expressions], overview_labels, cell_size=128),
                          out / "overview.png")
    print(f"every face in every expression{level}, with the generated landmarks -> {overview}")
    return 0
