"""``landmarkgan export``: the two generators as one TorchScript or ONNX file for deployment."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export the generators to TorchScript or ONNX (checked against PyTorch)",
        description="Write Gl and Ge as one graph (x, labels) -> (image, landmarks, landmark_image) to OUT, with "
        "OUT.json describing the inputs, then run it on a check batch and print the largest difference from "
        "eager PyTorch. ONNX needs: pip install 'landmarkgan[onnx]'.",
    )
    p.add_argument("out", metavar="OUT", help="file to write, e.g. landmarkgan.pt or landmarkgan.onnx")
    p.add_argument("--format", choices=("torchscript", "onnx"), help="default: from OUT's suffix (.onnx -> onnx)")
    p.add_argument("--model", help="model folder or training run (default: the built-in model)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from landmarkgan.inference.export import export_model
    from landmarkgan.inference.loading import load_model

    fmt = args.format or ("onnx" if args.out.lower().endswith(".onnx") else "torchscript")
    path, difference = export_model(load_model(args.model), args.out, fmt)
    print(f"exported {fmt} to {path} (+ {path.name}.json); largest difference from PyTorch on a check batch: "
          f"{difference:.2e}")
    return 0
