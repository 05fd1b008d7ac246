"""Held-out numbers watched during training: landmark error and reconstruction error on test pairs."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from landmarkgan.models.landmarkgan import LandmarkGAN


@torch.no_grad()
def heldout_metrics(model: LandmarkGAN, dataset: Dataset, device: torch.device, max_pairs: int = 64, batch_size: int = 8) -> dict[str, float]:
    """Mean landmark distance (pixels of the model's image size; NaN for the label-only baseline), mean L1
    and PSNR (dB) of the output.

    The model runs in eval mode (BatchNorm running statistics, no dropout) and is put back as it was.
    """
    was_training = model.training
    model.eval()
    lm_err, l1, mse, n = 0.0, 0.0, 0.0, 0
    for batch in DataLoader(dataset, batch_size=batch_size, generator=torch.Generator()):  # keeps the global RNG
        if n >= max_pairs:
            break
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        out = model.translate_batch(batch)
        diff = out["image"].float() - batch["y"]
        if out["landmarks"] is not None:
            lm_err += (out["landmarks"].float() - batch["target_landmarks"]).norm(dim=-1).mean(dim=-1).sum().item()
        else:
            lm_err = float("nan")  # the label-only baseline predicts no landmarks
        l1 += diff.abs().mean(dim=(1, 2, 3)).sum().item()
        mse += (diff / 2).pow(2).mean(dim=(1, 2, 3)).sum().item()  # images in [0,1] units
        n += batch["x"].shape[0]
    model.train(was_training)
    mse /= n
    return {
        "landmark_error_px": lm_err / n,
        "l1": l1 / n,
        "psnr": float("inf") if mse == 0 else float(10 * torch.log10(torch.tensor(1.0 / mse))),
    }
