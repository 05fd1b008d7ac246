"""``landmarkgan export``: a model folder, or the two generators as one TorchScript or ONNX file."""

from __future__ import annotations

import argparse

from landmarkgan.cli import add_model_arguments, add_refinement_argument
from landmarkgan.errors import LandmarkGANError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a trained model: a model folder, TorchScript or ONNX (checked against PyTorch)",
        description="--format folder writes a self-describing model folder (config.json + model.safetensors) "
        "from a training run, optionally generators only and in half precision. torchscript and onnx write Gl "
        "and Ge as one graph (x, labels) -> (image, landmarks, landmark_image) to OUT, with OUT.json describing "
        "the inputs, then run it on a check batch and print the largest difference from eager PyTorch "
        "(ONNX needs: pip install 'landmarkgan[onnx]').",
    )
    p.add_argument("out", metavar="OUT", help="file or folder to write, e.g. landmarkgan.onnx or models/mine")
    p.add_argument("--format", choices=("folder", "torchscript", "onnx"),
                   help="default: onnx for .onnx, torchscript for .pt/.pts, else folder")
    add_model_arguments(p, device=False)
    p.add_argument("--generators-only", action="store_true", help="folder: leave out the discriminators")
    p.add_argument("--half", action="store_true", help="folder: store the weights in float16 (half the size)")
    p.add_argument("--description", default="", help="folder: a line saying what the model is")
    p.add_argument("--photo-refinement-area", choices=("face", "features"), default=None,
                   help="folder: where the warp generator's refinement goes on faces found in photos, unless the "
                   "user says otherwise (features: around the mouth and eyes only, for a model trained on drawn faces)")
    add_refinement_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from landmarkgan.inference.export import export_model
    from landmarkgan.inference.loading import load_model
    from landmarkgan.inference.pipeline import PHOTO_AREA_KEY

    if args.refinement_area:
        raise LandmarkGANError("--refinement-area applies to faces found in photos, which an export does not see; for a "
                               "model folder, --photo-refinement-area records it")
    suffix = args.out.lower().rsplit(".", 1)[-1] if "." in args.out else ""
    fmt = args.format or {"onnx": "onnx", "pt": "torchscript", "pts": "torchscript"}.get(suffix, "folder")
    if fmt == "folder" and args.refinement != 1:
        raise LandmarkGANError("--refinement fixes a strength in a TorchScript or ONNX graph; a model folder keeps the "
                               "model as trained: pass --refinement (or refinement=) where the folder is used")
    model = load_model(args.model)
    if fmt == "folder":
        metadata = {**model.metadata, **({"description": args.description} if args.description else {}),
                    **({PHOTO_AREA_KEY: args.photo_refinement_area} if args.photo_refinement_area else {})}
        folder = model.save_pretrained(args.out, discriminators=not args.generators_only,
                                       dtype=torch.float16 if args.half else torch.float32, metadata=metadata)
        size = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
        print(f"wrote model folder {folder} ({size:.1f} MB)")
        return 0
    path, difference = export_model(model, args.out, fmt, args.refinement)
    print(f"exported {fmt} to {path} (+ {path.name}.json); largest difference from PyTorch on a check batch: "
          f"{difference:.2e}")
    return 0
