"""``landmarkgan prepare``: detect, align and crop the faces of a raw data set into a data folder."""

from __future__ import annotations

import argparse

from landmarkgan.data.readers import READERS

LAYOUTS = """\
data set layouts (SRC is searched recursively):
  jaffe   KA.AN1.39.tiff   subject.EXPRn.index (NE HA SA SU AN DI FE); 2 of 10 subjects test
  bu3dfe  F0001_AN01WH_F2D.bmp   subject_EXPR+intensity(01-04, NE00)+race_F2D; 10 of 100 subjects test
  ferg    FERG_DB_256/aia/aia_anger/aia_anger_1.png; 1,200 images per expression, 100 of them test
  rafd    Rafd090_01_Caucasian_female_angry_frontal.jpg   angle_subject_ethnicity_gender_expression_gaze;
          67% train / 33% test subjects; images pair within one angle and gaze
  folder  SRC/<subject>/<expression>[_<intensity 0-4>][_<anything>].<ext>, e.g. alice/happy_3.jpg,
          bob/neutral_take2.png; --test-fraction of the subjects test (default 0.2)
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="detect, align and crop a raw face data set into a data folder",
        description="Read a raw data set, detect each face and its 68 landmarks (dlib), align and crop it "
        "to SIZE x SIZE, and write OUT/images/*.png, OUT/manifest.jsonl (labels, split, landmarks) and "
        "OUT/prepare_report.json (what was skipped and why).",
        epilog=LAYOUTS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("kind", choices=list(READERS), help="which data set SRC holds")
    p.add_argument("src", metavar="SRC", help="folder the data set was unpacked into")
    p.add_argument("out", metavar="OUT", help="data folder to write")
    p.add_argument("--size", type=int, default=256, help="side of the aligned square face images (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/test split (default 0)")
    p.add_argument("--detector", choices=("hog", "cnn"), default="hog",
                   help="dlib face detector: hog (fast, CPU) or cnn (MMOD, more robust, slow on CPU)")
    p.add_argument("--test-fraction", type=float,
                   help="fraction of subjects (FERG: of each expression's images) in the test split "
                   "(default: the paper's split for the data set; 0.2 for folder)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from landmarkgan.data.prepare import prepare_dataset

    prepare_dataset(args.kind, args.src, args.out, size=args.size, seed=args.seed,
                    detector=args.detector, test_fraction=args.test_fraction)
    return 0
