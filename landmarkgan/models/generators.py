"""LandmarkGAN's generators: Gl (stage I, category-guided landmark generation) and the two kinds of Ge
(stage II, landmark-guided expression translation): the paper's U-Net and our warp-and-refine generator,
plus the label encoding and soft-crop features they use."""

from __future__ import annotations

import numbers
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from landmarkgan.errors import LandmarkGANError
from landmarkgan.landmarks.encoding import landmark_radius, soft_landmark_image
from landmarkgan.models.config import REFERENCE_SIZE, ModelConfig
from landmarkgan.models.networks import UnetGenerator, init_weights
from landmarkgan.models.palette import PALETTE, palette_colours, palette_spots
from landmarkgan.models.pdm import PointDistributionModel
from landmarkgan.models.warp import BROWS, warp


WARP_CLAMP = 0.995  # the warped face is kept inside (-1, 1) before atanh: black and white stay finite
INNER_FEATURES = slice(17, 68)  # iBUG-68 brows, nose, eyes and mouth: all but the jaw line
REGION_SIGMA = 13.0  # the feature region's Gaussians, in pixels of a 256 x 256 image
FOREHEAD_OFFSETS = (15.0, 30.0)  # the brows moved up by these (pixels at 256 x 256) cover the forehead
PALETTE_SIGMA = 6.0  # the palette region's Gaussians, in pixels of a 256 x 256 image
SHADING_RANGE = 2.0  # the palette refinement's shading multiplies the face by 1/2 to 2
KEEP_BIAS = 4.0  # added to the "keep the warped face" logit: an untrained palette refinement barely paints
SHADING_POOL = 2  # the shading logit is averaged over 2 x 2 pixels and interpolated back: no checkerboard, no speckle


def _atanh(x: torch.Tensor) -> torch.Tensor:
    """atanh written as logarithms: ONNX has no atanh operator."""
    return 0.5 * torch.log((1 + x) / (1 - x))


class Landmarks(NamedTuple):
    """What stage I hands to stage II (points in the normalised frame; any part may be None)."""

    image: torch.Tensor | None  # Gl's decoded landmark image (the target's own for the ground-truth baseline)
    points: torch.Tensor | None  # the target landmarks (B, 68, 2)
    source_points: torch.Tensor | None = None  # the source's own landmarks (B, 68, 2), for the warp generator


def label_vector(config: ModelConfig, le: torch.Tensor, li: torch.Tensor | None) -> torch.Tensor:
    """The condition [one-hot(le) over K expressions, one-hot(li) over the intensity levels] (B, K [+ 4]).

    Intensity 0 means "no level given" (e.g. neutral faces) and is the all-zero one-hot; ``li`` is
    ignored when the model has no intensity control (num_intensities = 0).
    """
    parts = [F.one_hot(le, config.num_expressions)]
    if config.num_intensities:
        parts.append(F.one_hot(li, config.num_intensities + 1)[:, 1:])
    return torch.cat(parts, dim=1).float()


def soft_crops(image: torch.Tensor, points: torch.Tensor, sigma: float) -> torch.Tensor:
    """Soft-crop features of ``image`` (B, C, H, W) around ``points`` (B, P, 2, normalised frame).

    The soft mask is the maximum over the points of isotropic Gaussians exp(-d^2 / (2 sigma^2))
    (``sigma`` in normalised units), i.e. a differentiable union of Gaussian-weighted crops around
    every landmark. Returns [image * mask, mask] (B, C + 1, H, W); the gradient flows to the points.
    """
    gx, gy = axis_gaussians(points, *image.shape[-2:], sigma)
    mask = (gy[..., :, None] * gx[..., None, :]).amax(dim=1, keepdim=True).to(image.dtype)
    return torch.cat([image * mask, mask], dim=1)


def axis_gaussians(points: torch.Tensor, height: int, width: int, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The two factors of isotropic Gaussians around ``points`` (B, P, 2, normalised frame) on a height x width image
    of pixel centres: gx (B, P, W) and gy (B, P, H), so that point p's Gaussian at pixel (i, j) is gy[p, i] gx[p, j]."""
    ys = (torch.arange(height, device=points.device, dtype=points.dtype) + 0.5) / height
    xs = (torch.arange(width, device=points.device, dtype=points.dtype) + 0.5) / width
    gx = torch.exp(-((xs[None, None, :] - points[..., 0:1]) ** 2) / (2 * sigma**2))
    gy = torch.exp(-((ys[None, None, :] - points[..., 1:2]) ** 2) / (2 * sigma**2))
    return gx, gy


def feature_region(source: torch.Tensor, target: torch.Tensor, size: int) -> torch.Tensor:
    """Where the warp generator's refinement may paint with ``refinement_region="features"`` (B, 1, S, S) in [0, 1]:
    the sum, clipped at 1, of Gaussians (sigma ``REGION_SIGMA``) around the brows, eyes, nose and mouth of the
    ``source`` and ``target`` landmarks (B, 68, 2, normalised) and around the brows moved up by
    ``FOREHEAD_OFFSETS`` (the forehead, where wrinkles come and go). The jaw line is left out: the warp moves it.
    The Gaussians are separable, so the sum is one batched matrix product, (B, S, P) @ (B, P, S)."""
    up = torch.tensor([0.0, 1.0], dtype=source.dtype, device=source.device) / REFERENCE_SIZE
    parts = []
    for points in (source, target):
        parts.append(points[:, INNER_FEATURES])
        parts.extend(points[:, BROWS] - offset * up for offset in FOREHEAD_OFFSETS)
    gx, gy = axis_gaussians(torch.cat(parts, dim=1), size, size, REGION_SIGMA / REFERENCE_SIZE)
    return torch.bmm(gy.transpose(1, 2), gx).clamp(max=1)[:, None]


def palette_region(target: torch.Tensor, size: int) -> torch.Tensor:
    """Where the palette refinement may put the person's palette colours (B, 1, S, S) in [0, 1]: the sum, clipped at 1,
    of Gaussians (sigma :data:`PALETTE_SIGMA`) around the ``target`` landmarks' mouth and eyes
    (:func:`~landmarkgan.models.palette.palette_spots`). Skin, hair and background keep the warped face's colours."""
    gx, gy = axis_gaussians(palette_spots(target), size, size, PALETTE_SIGMA / REFERENCE_SIZE)
    return torch.bmm(gy.transpose(1, 2), gx).clamp(max=1)[:, None]


def palette_refinement(out: torch.Tensor, warped: torch.Tensor, palette: torch.Tensor, shading_region: torch.Tensor,
                       region: torch.Tensor) -> dict[str, torch.Tensor]:
    """The palette refinement's output from the U-Net's raw output ``out`` (B, 1 + 1 + K, S, S): a shading logit, a
    "keep the warped face" logit and one logit per palette colour; ``warped`` (B, C, S, S) and the ``palette``
    (B, K, C) in [-1, 1]; the ``shading_region`` and the palette ``region`` (B, 1, S, S) in [0, 1].

    In [0, 1] intensities: the layer weights are a softmax over the K + 1 logits (the keep logit raised by
    :data:`KEEP_BIAS`), the palette's weights are multiplied by ``region`` and the keep weight is what they leave, so
    ``base = keep * warped + sum_k weight_k * palette_k`` is a convex mix of the warped pixel and the palette; the
    shading ``s = SHADING_RANGE ** (tanh(smooth(out_0)) * shading_region)`` is grey, from 1/2 to 2 and 1 outside its
    region, ``smooth`` averaging over :data:`SHADING_POOL` x :data:`SHADING_POOL` pixels and interpolating back
    (bilinearly), so that it varies smoothly: no pixel-sized speckle or checkerboard, on a photo no grain of its own;
    the image is ``clamp(s * base, 0, 1)``. Returns {"image", "shading" (B, 1, S, S), "weights" (B, K, S, S), "mask":
    the palette's share 1 - keep (B, 1, S, S)}, images back in [-1, 1].
    """
    smooth = F.interpolate(F.avg_pool2d(out[:, :1], SHADING_POOL), size=out.shape[-2:], mode="bilinear",
                           align_corners=False)
    shading = SHADING_RANGE ** (torch.tanh(smooth) * shading_region)
    logits = torch.cat([out[:, 1:2] + KEEP_BIAS, out[:, 2:]], dim=1)
    weights = torch.softmax(logits, dim=1)[:, 1:] * region
    share = weights.sum(dim=1, keepdim=True)
    colours = (weights[:, :, None] * ((palette + 1) / 2)[:, :, :, None, None]).sum(dim=1)
    base = (1 - share) * (warped + 1) / 2 + colours
    image = (shading * base).clamp(0, 1) * 2 - 1
    return {"image": image, "shading": shading, "weights": weights, "mask": share}


class LabelEmbedding(nn.Module):
    """Fully connected embedding of the label vector (Linear, ReLU, Linear), joined to Gl's bottleneck."""

    def __init__(self, num_labels: int, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(num_labels, dim), nn.ReLU(True), nn.Linear(dim, dim))

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        return self.net(labels)


class LandmarkGenerator(nn.Module):
    """Gl(x, le[, li]) -> Landmarks(landmark image, 68 target points[, 68 source points]).

    A U-Net over x; at its 1x1 bottleneck the image code is concatenated with the embedded labels
    (unless labels go to Ge only). The decoder draws the landmark image (Tanh, the paper's
    white-canvas colour encoding); a linear head on the joint bottleneck code predicts the PDM's
    whitened parameters (K shape coefficients + similarity transform), which the fitted PDM decodes
    into 68 (p, q) points in the normalised frame. The head starts at zero, i.e. at the mean shape.
    For the warp generator a second head on the image code alone (before the labels join) estimates the
    source's own landmarks the same way, so the model knows how far each point moves without a detector.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        embed_dim = config.label_embed_dim if config.labels_to_gl else 0
        self.embed = LabelEmbedding(config.num_labels, embed_dim) if config.labels_to_gl else None
        self.unet = UnetGenerator(
            config.input_nc, config.input_nc, config.num_downs, config.ngf, config.norm, config.dropout, extra_nc=embed_dim
        )
        self.pdm = PointDistributionModel(num_components=config.pdm_components)
        self.head = nn.Linear(config.ngf * 8 + embed_dim, self.pdm.num_params)
        self.source_head = nn.Linear(config.ngf * 8, self.pdm.num_params) if config.estimates_source else None
        init_weights(self)
        for head in (self.head, self.source_head):
            if head is not None:
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> Landmarks:
        """x (B, C, S, S) in [-1, 1], labels (B, L) from :func:`label_vector` -> Landmarks."""
        pdm_params: list[torch.Tensor] = []

        def bottleneck(code: torch.Tensor) -> torch.Tensor:
            if self.source_head is not None:
                pdm_params.append(self.source_head(code.mean(dim=(2, 3))))
            if self.embed is not None:
                e = self.embed(labels.to(code.dtype))
                code = torch.cat([code, e[:, :, None, None].expand(-1, -1, *code.shape[2:])], dim=1)
            pdm_params.insert(0, self.head(code.mean(dim=(2, 3))))
            return code

        image = self.unet(x, bottleneck)
        source = self.pdm.decode(pdm_params[1]) if self.source_head is not None else None
        return Landmarks(image, self.pdm.decode(pdm_params[0]), source)

    def points(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The target points of N labels for each image, for the price of one encoder pass and no landmark image:
        x (B, C, S, S), labels (B, N, L) -> (target points (B, N, 68, 2), the source estimate (B, 68, 2) or None),
        in the normalised frame; the points :meth:`forward` gives for each label."""
        code = self.unet.encode(x).mean(dim=(2, 3))  # the bottleneck is label-free until the labels join it
        count = labels.shape[1]
        source = self.pdm.decode(self.source_head(code)) if self.source_head is not None else None
        joint = code[:, None].expand(-1, count, -1)
        if self.embed is not None:
            joint = torch.cat([joint, self.embed(labels.to(code.dtype))], dim=2)
        targets = self.pdm.decode(self.head(joint.reshape(-1, joint.shape[2])))
        return targets.reshape(x.shape[0], count, *targets.shape[1:]), source


def label_planes(labels: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The label vector (B, L) tiled as L constant planes the size of ``like`` (B, C, H, W)."""
    return labels.to(like.dtype)[:, :, None, None].expand(-1, -1, *like.shape[2:])


class ExpressionGenerator(nn.Module):
    """The paper's Ge([x, landmark image, label planes, soft-crop features]) -> y_hat (Tanh, [-1, 1]).

    A U-Net over the channel concatenation of: x; the landmark image (Gl's decoded one, the target's own
    for the ground-truth baseline, or, with ``stage2_landmark_image="drawn"``, one drawn from the points with
    x's colours); the label vector tiled as constant planes (unless labels go to Gl only); and the soft-crop
    features [x * mask, mask] around the landmarks (when ``soft_crops`` is on; sigma = soft_crop_sigma pixels
    at 256x256). The label-only baseline (landmark_source "none") reads x and the label planes only.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.uses_landmarks = config.landmark_source != "none"
        self.input_nc = config.input_nc
        if self.uses_landmarks:
            self.input_nc += config.input_nc  # the landmark image (colours of the face)
        if config.labels_to_ge or not self.uses_landmarks:
            self.input_nc += config.num_labels
        if config.soft_crops and self.uses_landmarks:
            self.input_nc += config.input_nc + 1
        self.unet = UnetGenerator(self.input_nc, config.input_nc, config.num_downs, config.ngf, config.norm, config.dropout)
        init_weights(self)

    def forward(self, x: torch.Tensor, landmarks: Landmarks, labels: torch.Tensor) -> dict[str, torch.Tensor | None]:
        """x (B, C, S, S), stage I's Landmarks, labels (B, L) -> {"image": y_hat, "landmark_image": what Ge read}."""
        parts = [x]
        landmark_image = None
        if self.uses_landmarks:
            landmark_image = stage2_landmark_image(self.config, x, landmarks)
            parts.append(landmark_image)
        if self.config.labels_to_ge or not self.uses_landmarks:
            parts.append(label_planes(labels, x))
        if self.config.soft_crops and self.uses_landmarks:
            parts.append(soft_crops(x, landmarks.points, self.config.soft_crop_sigma / REFERENCE_SIZE))
        return {"image": self.unet(torch.cat(parts, dim=1)), "landmark_image": landmark_image}


class WarpExpressionGenerator(nn.Module):
    """Our stage II (``generator="warp"``, an extension of the paper): warp, then refine.

    1. x is warped from the source landmarks to the target landmarks (a regularised thin-plate spline,
       pinned by anchors on the border and around the head, :mod:`landmarkgan.models.warp`): brows, lids,
       mouth corners, lips and jaw move and the person stays who they are.
    2. A U-Net of the paper's architecture reads [warped x, x, landmark image, label planes, soft-crops of
       the warped face around the target points] and refines the warped face. The refinement draws what a warp
       cannot: a mouth that opens (its dark inside, teeth), eyes that widen, wrinkles that appear or go. How it may
       change the face is ``refinement_colours``:

       * "free" (today's): the U-Net outputs a colour image c and a mask m, and ``y_hat = m * c + (1 - m) * warped
         x``. c is ``tanh(r)`` with r the U-Net's output, or with ``colour_residual`` a correction of the warped
         face, ``tanh(atanh(warped x) + r)``, so that an untrained refinement returns the warp; m is a Sigmoid, with
         ``refinement_region="features"`` times a soft region around the facial features (:func:`feature_region`).
         Such masks fall to 0 ("keep the warp") early in training, while c is still poor, and stay there; two terms
         prevent that (see ``LandmarkGAN.stage2_generator_loss``): c has a reconstruction loss of its own
         (``lambda_colour``), and the mask learns, per pixel, whether c or the warp is closer to the real target
         (``lambda_mask``).
       * "palette": the U-Net decides where and how much, the colours come from the person
         (:func:`palette_refinement`): a grey shading multiplied into the face near the features (folds, wrinkles,
         shadows; :func:`feature_region`), and around the target's mouth and eyes (:func:`palette_region`) a
         per-pixel mix of the warped face and colours sampled from x at its landmarks (lips, skin, teeth, a dark
         cavity, sclera, iris: :func:`~landmarkgan.models.palette.palette_colours`), which the U-Net also reads, as
         constant planes. It cannot paint a colour the person lacks, and on a photo its layers carry the photo's own.

       With ``refinement_head`` > 0, two 3x3 convolutions at full resolution read the U-Net's output and the warped
       face and add a correction to the U-Net's output (its finest features are at half resolution).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config.input_nc
        self.palette = config.refinement_colours == "palette"
        self.input_nc = 3 * c + (config.num_labels if config.labels_to_ge else 0) + ((c + 1) if config.soft_crops else 0)
        self.input_nc += len(PALETTE) * c if self.palette else 0
        output_nc = 2 + len(PALETTE) if self.palette else c + 1
        self.unet = UnetGenerator(self.input_nc, output_nc, config.num_downs, config.ngf, config.norm, config.dropout,
                                  tanh=False)
        width = config.refinement_head
        self.head = nn.Sequential(
            nn.Conv2d(output_nc + c, width, kernel_size=3, padding=1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(width, output_nc, kernel_size=3, padding=1)) if width else None
        init_weights(self)

    def forward(self, x: torch.Tensor, landmarks: Landmarks, labels: torch.Tensor) -> dict[str, torch.Tensor | None]:
        """x (B, C, S, S), stage I's Landmarks (with source points), labels (B, L) -> {"image", "landmark_image",
        "warped", "mask"} and the refinement's layers: "colour" and "mask_logits" (free), or "shading", "weights" and
        "palette" (B, K, C) (palette)."""
        c = self.config
        warped = warp(x, landmarks.source_points, landmarks.points, grid=max(c.image_size // 2, 32),
                      regularisation=c.warp_regularisation)
        landmark_image = stage2_landmark_image(c, warped, landmarks)
        parts = [warped, x, landmark_image]
        if c.labels_to_ge:
            parts.append(label_planes(labels, x))
        if c.soft_crops:
            parts.append(soft_crops(warped, landmarks.points, c.soft_crop_sigma / REFERENCE_SIZE))
        if self.palette:
            palette = palette_colours(x, landmarks.source_points)
            parts.append(label_planes(palette.flatten(1), x))
        out = self.unet(torch.cat(parts, dim=1))
        if self.head is not None:
            out = out + self.head(torch.cat([out, warped], dim=1))
        shared = {"landmark_image": landmark_image, "warped": warped}
        if self.palette:
            size = x.shape[-1]
            region = palette_region(landmarks.points, size).to(x.dtype)
            shading_region = feature_region(landmarks.source_points, landmarks.points, size).to(x.dtype)
            return {**palette_refinement(out, warped, palette, shading_region, region), **shared, "palette": palette}
        correction = out[:, : c.input_nc]
        if c.colour_residual:
            correction = correction + _atanh(warped.clamp(-WARP_CLAMP, WARP_CLAMP))
        colour = torch.tanh(correction)
        logits = out[:, c.input_nc :]
        mask = torch.sigmoid(logits)
        if c.refinement_region == "features":
            mask = mask * feature_region(landmarks.source_points, landmarks.points, x.shape[-1]).to(mask.dtype)
        return {"image": mask * colour + (1 - mask) * warped, **shared, "mask": mask, "colour": colour,
                "mask_logits": logits}


def check_refinement(config: ModelConfig, refinement: float) -> None:
    """Refuse a refinement strength that is not a number in [0, 1], or one below 1 for a model without a refinement."""
    if isinstance(refinement, bool) or not isinstance(refinement, numbers.Real) or not 0 <= refinement <= 1:
        raise LandmarkGANError(f"the refinement strength is a number from 0 (the warp alone) to 1 (the model as "
                               f"trained), got {refinement!r}")
    if refinement != 1 and config.generator != "warp":
        raise LandmarkGANError(f"a refinement strength below 1 needs the warp generator (model.generator=warp); this "
                               f"model's stage II is the {config.generator!r} one, which has no refinement to scale")


def blend_refinement(out: dict[str, torch.Tensor | None], refinement: float) -> torch.Tensor:
    """Stage II's output with the warp generator's refinement scaled by ``refinement``: the warped face plus that share
    of what the refinement changed, ``warped + refinement * (image - warped)`` (for the free refinement, its blending
    mask scaled: ``warped + refinement * mask * (colour - warped)``); 1 gives the generator's own output (either
    generator's), 0 the warp alone."""
    if refinement == 1:
        return out["image"]
    warped = out["warped"]
    return warped + refinement * (out["image"] - warped)


def stage2_landmark_image(config: ModelConfig, colours: torch.Tensor, landmarks: Landmarks) -> torch.Tensor:
    """The landmark image stage II reads: stage I's (decoded by Gl, or the target's own), or one drawn from the
    target points with the colours of ``colours`` (x, or the warped x)."""
    if config.stage2_landmark_image == "decoded" or config.landmark_source == "ground_truth":
        return landmarks.image
    return soft_landmark_image(colours, landmarks.points, landmark_radius(config.image_size))


def expression_generator(config: ModelConfig) -> nn.Module:
    """Stage II's Ge of the kind ``config.generator`` names."""
    return WarpExpressionGenerator(config) if config.generator == "warp" else ExpressionGenerator(config)
