"""The ``landmarkgan`` command: a thin layer of subcommands over the library.

Each subcommand lives in its own module here and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` to the function that runs it with the parsed arguments.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from landmarkgan import __version__
from landmarkgan.errors import LandmarkGANError, TrainingStopped

INTERRUPTED = 130  # the shell's exit status for a command stopped by Ctrl-C (128 + SIGINT)

# Subcommand modules in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "demo",
    "translate",
    "augment",
    "export",
    "serve",
    "evaluate",
    "study",
    "benchmark",
    "synthesize",
    "prepare",
    "train",
)


def add_model_arguments(parser: argparse.ArgumentParser, device: bool = True) -> None:
    """The options of every command that runs a trained model: ``--model`` and (optionally) ``--device``."""
    parser.add_argument("--model", help="model folder or training run (default: the built-in model)")
    if device:
        parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")


def add_refinement_argument(parser: argparse.ArgumentParser) -> None:
    """``--refinement``: how much of the warp generator's learned refinement goes into its outputs."""
    parser.add_argument("--refinement", type=float, default=1.0, metavar="S",
                        help="warp-generator models: how much of the learned refinement to blend in, from 0 (the "
                        "warp alone) to 1 (the model as trained; default). On real photos 0.5 tones down the "
                        "streaks a refinement trained on synthetic faces can paint")
    parser.add_argument("--refinement-area", choices=("face", "features"), default=None,
                        help="warp-generator models: where the refinement goes, over the whole face (as trained) or "
                        "around the mouth and eyes only, the warp alone elsewhere (default: on faces found in photos "
                        "the model's choice, features for the built-in model; face otherwise)")


def add_detector_argument(parser: argparse.ArgumentParser) -> None:
    """``--detector``: dlib's face detector for the commands that align photos."""
    parser.add_argument("--detector", choices=("hog", "cnn", "auto"), default="auto",
                        help="face detector: hog (fast), cnn (finds tilted heads, slow on a CPU) or auto (hog, then "
                        "cnn when hog finds no face; default)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="landmarkgan",
        description="Facial expression translation from a single image with landmark-guided GANs.",
    )
    parser.add_argument("--version", action="version", version=f"landmarkgan {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"landmarkgan.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TrainingStopped as e:
        print(f"landmarkgan {args.command}: {e}", file=sys.stderr)
        return INTERRUPTED
    except LandmarkGANError as e:
        print(f"landmarkgan {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"landmarkgan {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
