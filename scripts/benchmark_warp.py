"""The landmark-guided warp measured: our regularised thin-plate spline against kornia's.

On seeded test pairs of a data folder, each method warps the source face from its true landmarks to the
true target landmarks (plus the same anchors on the border and around the head) and is scored against the
real target: PSNR and SSIM, milliseconds per image, how many images fold over (a negative Jacobian
somewhere) and how many come out non-finite, overall and on the pairs whose target mouth is closed (its
inner-lip points coincide, which makes the plain interpolating TPS singular).

    python scripts/benchmark_warp.py --data data/synthetic --pairs 300

kornia is not a dependency of landmarkgan; install it to compare (pip install kornia).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from landmarkgan.data.dataset import ExpressionPairDataset, to_uint8
from landmarkgan.evaluation.metrics import psnr, ssim
from landmarkgan.models.pdm import normalise
from landmarkgan.models.warp import anchored, fold_fraction, sampling_grid, warp

INNER_UPPER, INNER_LOWER = [61, 62, 63], [67, 66, 65]


def ours(grid: int, regularisation: float):
    """Our warp: (image warp, its sampling grid)."""
    return (lambda x, s, t: warp(x, s, t, grid=grid, regularisation=regularisation),
            lambda x, s, t: sampling_grid(s, t, x.shape[-1], grid, regularisation))


def _kornia_transform(source: torch.Tensor, target: torch.Tensor):
    from kornia.geometry.transform import get_tps_transform

    src, dst = anchored(source, target)
    src, dst = src * 2 - 1, dst * 2 - 1  # kornia's frame: grid_sample coordinates, align_corners=False
    kernel, affine = get_tps_transform(dst, src)  # reversed, as its documentation says for warp_image_tps
    return src, kernel, affine


def kornia_image(x: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    from kornia.geometry.transform import warp_image_tps

    src, kernel, affine = _kornia_transform(source, target)
    return warp_image_tps(x, src, kernel, affine, align_corners=False, padding_mode="border")


def kornia_grid(x: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    from kornia.geometry.transform import warp_points_tps

    src, kernel, affine = _kornia_transform(source, target)
    size = x.shape[-1]
    centres = (torch.arange(size, dtype=x.dtype) + 0.5) / size * 2 - 1
    lattice = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), -1).reshape(1, -1, 2)
    return warp_points_tps(lattice.expand(len(x), -1, -1), src, kernel, affine).reshape(len(x), size, size, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/synthetic")
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8, help="images per call, as in training")
    args = parser.parse_args()
    torch.manual_seed(0)
    data = ExpressionPairDataset(args.data, split="test", image_size=args.size, pairs="sample", num_pairs=args.pairs)
    items = [data[k] for k in range(len(data))]
    x = torch.stack([i["x"] for i in items])
    y = to_uint8(torch.stack([i["y"] for i in items]))
    source = normalise(torch.stack([i["source_landmarks"] for i in items]), args.size)
    target = normalise(torch.stack([i["target_landmarks"] for i in items]), args.size)
    gap = (target[:, INNER_LOWER, 1] - target[:, INNER_UPPER, 1]).abs().max(dim=1).values * args.size
    closed = gap < 0.5
    methods = {
        "ours, lattice S/2, lambda 3e-3 (the model's)": ours(args.size // 2, 3e-3),
        "ours, full resolution, lambda 3e-3": ours(args.size, 3e-3),
        "ours, full resolution, lambda 0 (interpolating)": ours(args.size, 0.0),
    }
    try:
        import kornia

        methods[f"kornia {kornia.__version__} get_tps_transform + warp_image_tps"] = (kornia_image, kornia_grid)
    except ImportError:
        print("kornia is not installed (pip install kornia): only our warp is measured")
    print(f"{len(x)} test pairs at {args.size} px, {int(closed.sum())} of them with a closed target mouth; "
          f"copy the input: PSNR {np.mean([psnr(a, b) for a, b in zip(to_uint8(x), y)]):.2f} dB\n")
    print("| warp | PSNR (dB) | SSIM | ms / image | folded images | folded, closed mouths | non-finite images |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (method, grid_of) in methods.items():
        images, grids, seconds = [], [], 0.0
        for k in range(0, len(x), args.batch):
            batch = x[k : k + args.batch], source[k : k + args.batch], target[k : k + args.batch]
            with torch.no_grad():
                start = time.perf_counter()
                images.append(method(*batch))
                seconds += time.perf_counter() - start
                grids.append(grid_of(*batch))
        image, coords = torch.cat(images), torch.cat(grids)
        bad = ~torch.isfinite(image).flatten(1).all(1)
        out = to_uint8(torch.nan_to_num(image))
        folded = fold_fraction(torch.nan_to_num(coords)) > 0
        print(f"| {name} | {np.mean([psnr(a, b) for a, b in zip(out, y)]):.2f} | "
              f"{np.mean([ssim(a, b) for a, b in zip(out, y)]):.3f} | {1000 * seconds / len(x):.1f} | "
              f"{folded.float().mean():.2f} | {folded[closed].float().mean():.2f} | {int(bad.sum())} |")


if __name__ == "__main__":
    main()
