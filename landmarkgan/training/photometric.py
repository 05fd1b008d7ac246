"""Stage II's photometric augmentation (ours, not the paper's): synthetic pairs that look more like photographs.

The synthetic faces are flat-shaded drawings; photographs have grain, soft edges, other colours and uneven light.
A refinement trained only on drawings paints streaks where a photo's texture (hair over the brows, skin, a collar)
is unlike anything it saw. With ``train.photometric=p`` each of stage II's training pairs, with probability p, has
the same random photographic changes made to its source x and its target y:

* colour: a gain per channel (1 +- :data:`GAIN`), a brightness shift (+- :data:`BRIGHTNESS`) and a saturation
  factor (1 +- :data:`SATURATION`);
* light: a linear shading ramp across the image, the brightness changing by up to +- :data:`SHADING` from edge to
  edge, in a random direction;
* softness: a Gaussian blur of up to :data:`BLUR` pixels (per 128 px of image side);
* grain: band-limited noise (white noise blurred by 0.4-1 px, mostly in luminance), of a standard deviation up
  to :data:`GRAIN`. The grain is part of the face, so y's is x's grain warped from the source landmarks to the
  target landmarks (:func:`landmarkgan.models.warp.warp`): where the face does not move it is the very same.

Values are in the model's [-1, 1] range. Stage I and the held-out metrics see the pairs as they are. The random
numbers come from torch's global generator on the CPU, so a resumed run draws the same ones.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from landmarkgan.models.pdm import normalise
from landmarkgan.models.warp import warp

Batch = dict[str, torch.Tensor]
GAIN = 0.1
BRIGHTNESS = 0.1
SATURATION = 0.3
SHADING = 0.15
BLUR = 0.8
GRAIN = 0.03
GRAIN_SIGMA = (0.4, 1.0)
LUMA = (0.299, 0.587, 0.114)


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each image (B, C, H, W) by its own Gaussian of ``sigma`` (B,) pixels (0: unchanged), separably, with
    the border repeated."""
    radius = max(1, math.ceil(3 * float(sigma.max())))
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    s = sigma.to(images).clamp_min(1e-3)[:, None]
    kernel = torch.exp(-0.5 * (offsets[None] / s) ** 2)
    kernel = kernel / kernel.sum(1, keepdim=True)  # (B, K); sigma ~0 gives the unit impulse
    b, c, h, w = images.shape
    flat = images.reshape(1, b * c, h, w)
    weights = kernel.repeat_interleave(c, dim=0)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="replicate"), weights[:, None, None, :], groups=b * c)
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="replicate"), weights[:, None, :, None], groups=b * c)
    return flat.reshape(b, c, h, w)


def _uniform(n: int, low: float, high: float, *shape: int) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, *shape)


def photometric_augment(batch: Batch, probability: float) -> Batch:
    """``batch`` with, for each pair with probability ``probability``, the same random colour, light, blur and grain
    in x and y (the grain warped along with the face, see the module's docstring); the other entries are kept."""
    x, y = batch["x"], batch["y"]
    n, channels, size = x.shape[0], x.shape[1], x.shape[-1]
    device, dtype = x.device, x.dtype
    chosen = (torch.rand(n) < probability).float()
    scale = size / 128
    gain = 1 + _uniform(n, -GAIN, GAIN, channels) * chosen[:, None]
    brightness = _uniform(n, -BRIGHTNESS, BRIGHTNESS) * chosen
    saturation = 1 + _uniform(n, -SATURATION, SATURATION) * chosen
    angle = _uniform(n, 0, 2 * math.pi)
    shading = _uniform(n, -SHADING, SHADING) * chosen
    blur = _uniform(n, 0, BLUR * scale) * chosen
    grain = _uniform(n, 0, GRAIN) * chosen
    grain_sigma = _uniform(n, *GRAIN_SIGMA) * scale
    noise = torch.randn(n, 1, size, size) + 0.3 * torch.randn(n, channels, size, size)

    noise = gaussian_blur(noise, grain_sigma)
    noise = noise / noise.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6) * grain[:, None, None, None]
    noise = noise.to(device, dtype)
    source = normalise(batch["source_landmarks"].float(), size).to(device)
    target = normalise(batch["target_landmarks"].float(), size).to(device)
    grains = {"x": noise, "y": warp(noise, source, target)}

    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size - 0.5
    ramp = angle.cos()[:, None, None] * coords[None, None, :] + angle.sin()[:, None, None] * coords[None, :, None]
    light = (1 + shading[:, None, None] * ramp)[:, None].to(device)  # (B, 1, S, S), 1 at the centre
    luma = torch.tensor(LUMA if channels == 3 else [1 / channels] * channels, device=device)[None, :, None, None]
    gain, brightness = gain.to(device)[:, :, None, None], brightness.to(device)[:, None, None, None]
    saturation, blur = saturation.to(device)[:, None, None, None], blur.to(device)

    out = dict(batch)
    for key, image in (("x", x), ("y", y)):
        image = (image.float() + 1) / 2  # [0, 1]
        grey = (image * luma).sum(1, keepdim=True)
        image = (grey + saturation * (image - grey)) * gain + brightness
        image = gaussian_blur(image * light, blur) * 2 - 1 + grains[key].float()
        out[key] = image.clamp(-1, 1).to(dtype)
    return out
