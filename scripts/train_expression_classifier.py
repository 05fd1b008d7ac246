"""Train the expression classifier ``landmarkgan evaluate`` trains, and save it, optionally class-balanced.

``evaluate`` trains its classifier on a data folder's real training faces in reshuffled passes; on the built-in
synthetic set neutral is 4% of those faces, and the classifier reads only 65-73% of the real neutral test faces as
neutral (its other classes: 94-99%). ``--balanced`` draws each expression equally often. Give the file to
``evaluate --classifier`` or ``scripts/asked_expression.py --classifier``.

    python scripts/train_expression_classifier.py data/synthetic outputs/balanced_seed0.safetensors --balanced --seed 0
"""

from __future__ import annotations

import argparse

from landmarkgan.evaluation.expression_classifier import save_classifier, train_on_folder
from landmarkgan.expressions import BASIC_EXPRESSIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data")
    parser.add_argument("out", help="the classifier file to write (.safetensors)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1500, help="evaluate's default")
    parser.add_argument("--balanced", action="store_true", help="each expression drawn equally often")
    args = parser.parse_args()
    classifier = train_on_folder(args.data, list(BASIC_EXPRESSIONS), steps=args.steps, seed=args.seed,
                                 balanced=args.balanced)
    print(f"written {save_classifier(classifier, args.out)}")


if __name__ == "__main__":
    main()
