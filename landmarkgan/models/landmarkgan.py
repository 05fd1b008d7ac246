"""LandmarkGAN: the two generators, their discriminators, the PDM, and the losses of both stages.

Stage I, Gl(x, le) -> (landmark image l, 68 points): trained against Dl, which judges landmark
images conditioned on x (real: the target's landmark image; fake: Gl's), plus lambda1 times the
landmark loss. Stage II, Ge([x, l, le]) -> y_hat: trained against De, which judges (y, x) real vs
(y_hat, x) fake, plus lambda2 times the reconstruction loss and lambda3 times the identity loss.

Choices where the paper is vague:

* Dual discriminators: each stage has two PatchGANs of the same architecture, one on the full
  resolution input and one on the input average-pooled by 2 (coarser, larger receptive field, as in
  pix2pixHD's multi-scale discriminators); the GAN terms average over them, so lambdas keep their
  meaning. With ``dual_discriminator=False`` only the full-resolution one exists.
* Coordinates: the PDM works in a normalised frame, (pixel + 0.5) / S, so the image spans [0, 1];
  the public methods take and return pixels of the S x S image (pixel-centre convention). The
  landmark loss is measured in pixels of a 256x256 image (normalised distance x 256), the unit of
  the paper's landmark errors, so lambda1 = 2 means the same at every training size.
* Alternating training: while Ge/De train, Gl is fixed, so stage II runs Gl without gradients;
  stage I's losses do not involve Ge.
* Discriminator steps see the generators' outputs without gradients (detached fakes). A trainer may run each
  generator once per iteration (``stage1_forward``, ``stage2_forward``) and hand the output to both of its
  stage's losses, the discriminator's detached, as pix2pix does; called with a batch alone, each loss runs
  its generator itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from landmarkgan.errors import LandmarkGANError
from landmarkgan.landmarks.encoding import landmark_radius, soft_landmark_image
from landmarkgan.models.config import NUM_LANDMARKS, REFERENCE_SIZE, ModelConfig
from landmarkgan.models.generators import (
    Landmarks,
    LandmarkGenerator,
    blend_refinement,
    check_refinement,
    expression_generator,
    label_vector,
)
from landmarkgan.models.losses import (
    change_weighted_loss,
    classification_loss,
    discriminator_loss,
    generator_gan_loss,
    identity_loss,
    landmark_loss,
    mask_loss,
    reconstruction_loss,
)
from landmarkgan.models.networks import AuxiliaryClassifier, NLayerDiscriminator, init_weights
from landmarkgan.models.pdm import PointDistributionModel, normalise, to_pixels
from landmarkgan.models.weights import WEIGHTS_NAME, load_into, load_weights, save_weights

MODEL_CONFIG_NAME = "config.json"
MODEL_FORMAT = "landmarkgan-model/1"
DISCRIMINATOR_KEYS = ("dl.", "de.", "dc.")  # weights translation does not need: Dl, De, the expression classifier Dc

Batch = dict[str, torch.Tensor]
Parts = dict[str, torch.Tensor]


class LandmarkGAN(nn.Module):
    """The whole model: ``gl``, ``ge``, discriminators ``dl`` and ``de`` (ModuleLists of 1 or 2), ``pdm``.

    The four loss methods take the batch dict of :class:`~landmarkgan.data.dataset.ExpressionPairDataset`
    and return (total loss, {name: detached scalar}) with the total under "total".
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ModelConfig()
        self.metadata: dict = {}  # how the model was made, kept in its folder's config.json
        count = 2 if config.dual_discriminator else 1
        # stage I exists for LandmarkGAN only; the baselines (landmark_source ground_truth / none) lack it
        self.gl = LandmarkGenerator(config) if config.has_stage1 else None
        self.dl = nn.ModuleList(self._discriminator() for _ in range(count)) if config.has_stage1 else None
        self.ge = expression_generator(config)
        self.de = nn.ModuleList(self._discriminator() for _ in range(count))
        # stage II's expression classifier (StarGAN's auxiliary classifier; trained with De, on the real targets)
        self.dc = init_weights(AuxiliaryClassifier(
            config.input_nc, config.num_expressions, config.image_size, config.ndf, config.norm, config.cls_size,
        )) if config.lambda_cls else None

    def _discriminator(self) -> NLayerDiscriminator:
        c = self.config
        return init_weights(NLayerDiscriminator(2 * c.input_nc, c.ndf, c.n_layers_D, c.norm))

    @property
    def stage2_critics(self) -> nn.Module:
        """What the stage II discriminator step trains: De, with the expression classifier Dc if any."""
        return nn.ModuleList([self.de, self.dc]) if self.dc is not None else self.de

    @property
    def pdm(self) -> PointDistributionModel | None:
        """The point distribution model Gl decodes its landmarks with (its buffers live under ``gl.pdm``)."""
        return self.gl.pdm if self.gl is not None else None

    def fit_pdm(self, landmarks: np.ndarray | torch.Tensor) -> "LandmarkGAN":
        """Pre-train the PDM decoder on training landmarks (N, 68, 2) in pixels of the S x S images
        (nothing to do for the baselines, which have no stage I)."""
        if self.pdm is not None:
            shapes = torch.as_tensor(np.asarray(landmarks, dtype=np.float64))
            self.pdm.fit(normalise(shapes, self.config.image_size))
        return self

    # -- model folders --------------------------------------------------------------------------
    def save_pretrained(
        self,
        folder: str | os.PathLike,
        *,
        discriminators: bool = True,
        dtype: torch.dtype = torch.float32,
        metadata: dict | None = None,
    ) -> Path:
        """Write a self-describing model folder: ``config.json`` (the model config, what the weights
        hold, free-form ``metadata`` such as how the model was trained) and ``model.safetensors``.

        ``discriminators=False`` keeps only what translation needs (Gl with its PDM, Ge);
        ``dtype=torch.float16`` halves the file (weights are cast back to float32 on loading).
        """
        if self.pdm is not None and not self.pdm._fitted:
            raise LandmarkGANError("the model's PDM is not fitted; train the model (or fit_pdm) before saving it")
        folder = Path(folder)
        state = {k: v for k, v in self.state_dict().items() if discriminators or not k.startswith(DISCRIMINATOR_KEYS)}
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
        save_weights(state, folder / WEIGHTS_NAME)
        record = {"format": MODEL_FORMAT, "model": self.config.to_dict(), "discriminators": discriminators,
                  "metadata": metadata or {}}
        partial = folder / f".{MODEL_CONFIG_NAME}.partial"
        partial.write_text(json.dumps(record, indent=1))
        os.replace(partial, folder / MODEL_CONFIG_NAME)
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> "LandmarkGAN":
        """Load a model folder written by :meth:`save_pretrained`, in eval mode, on the CPU.

        Errors name the problem: a missing folder, a missing or unreadable ``config.json``, weights
        that are truncated, corrupt or do not fit the config.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise LandmarkGANError(f"model folder {folder} does not exist")
        record = read_model_config(folder)
        model = cls(ModelConfig.from_dict(record["model"]))
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_weights(folder).items()}
        optional = () if record.get("discriminators", True) else DISCRIMINATOR_KEYS
        load_into(model, state, folder, optional)
        model.metadata = record.get("metadata", {})
        return model.eval()

    # -- inference --------------------------------------------------------------------------------
    def _require_stage1(self, what: str) -> None:
        if self.gl is None:
            raise LandmarkGANError(
                f"{what} needs stage I, and this model is the {self.config.landmark_source!r} baseline without it"
            )

    def generate_landmarks(
        self, x: torch.Tensor, le: torch.Tensor, li: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage I: (landmark image (B, C, S, S) in [-1, 1], landmarks (B, 68, 2) in pixels)."""
        self._require_stage1("generating landmarks")
        stage1 = self.gl(x, self._labels(x, le, li))
        return stage1.image, to_pixels(stage1.points, self.config.image_size)

    def translate(
        self,
        x: torch.Tensor,
        le: torch.Tensor,
        li: torch.Tensor | None = None,
        target_landmark_image: torch.Tensor | None = None,
        target_landmarks: torch.Tensor | None = None,
        source_landmarks: torch.Tensor | None = None,
        refinement: float = 1.0,
    ) -> dict[str, torch.Tensor | None]:
        """Both stages: x (B, C, S, S) in [-1, 1], target expression indices le (B,) [and intensities
        li (B,), 0..num_intensities] -> {"landmark_image", "landmarks" (pixels), "image", "warped", "mask",
        "source_landmarks" (pixels)}.

        ``landmark_image`` is the one stage II read. For the warp generator, ``source_landmarks`` (pixels),
        when given (a detector's landmarks of x), replace stage I's own estimate of them, and the target
        landmarks become those plus stage I's displacement (its target minus its source estimate), so a
        face keeps its own shape; ``warped`` is x warped to the target landmarks and ``mask`` the
        refinement's blending mask (the palette refinement's: the share of its palette colours; both None for the
        paper's generator). ``refinement`` (warp generator only)
        scales what the refinement changed: 1 is the model as trained, 0 the warp alone, 0.5 half of the refinement's
        change (see :func:`blend_refinement`). The ground-truth baseline also
        takes the target's landmark image and landmarks (pixels) and the source's; the label-only baseline
        returns None for the landmarks. Runs in the current mode: call ``eval()`` first for outputs without
        dropout noise.
        """
        check_refinement(self.config, refinement)
        labels = self._labels(x, le, li)
        landmarks = self._landmarks(x, labels, target_landmark_image, target_landmarks, source_landmarks)
        out = self.ge(x, landmarks, labels)
        size = self.config.image_size
        return {
            "landmark_image": out["landmark_image"],
            "landmarks": to_pixels(landmarks.points, size) if landmarks.points is not None else None,
            "image": blend_refinement(out, refinement),
            "warped": out.get("warped"),
            "mask": out.get("mask"),
            "source_landmarks": to_pixels(landmarks.source_points, size) if landmarks.source_points is not None else None,
        }

    def stage1_points(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Stage I's landmarks for N labels of each image, without drawing its landmark images (one encoder pass per
        image): x (B, C, S, S) in [-1, 1] and label vectors (B, N, L) (:func:`label_vector` or mixes of them) ->
        (target landmarks (B, N, 68, 2), Gl's estimate of x's own landmarks (B, 68, 2) or None), in pixels."""
        self._require_stage1("generating landmarks")
        self._check_images("x", x)
        self._check_label_vectors(labels, x.shape[0])
        targets, source = self.gl.points(x, labels)
        size = self.config.image_size
        return to_pixels(targets, size), None if source is None else to_pixels(source, size)

    def render(
        self,
        x: torch.Tensor,
        labels: torch.Tensor,
        target_landmarks: torch.Tensor,
        source_landmarks: torch.Tensor | None = None,
        refinement: float = 1.0,
    ) -> dict[str, torch.Tensor | None]:
        """Stage II alone, on target landmarks (B, 68, 2) in pixels that the caller chose: the face follows them.

        ``labels`` (B, L) are label vectors (:func:`label_vector` or mixes of them). The warp generator moves x from
        ``source_landmarks`` (pixels, required for it). Stage II reads a landmark image drawn from the target points
        with the face's colours, also in a model that reads Gl's decoded one (Gl never drew these points). Returns
        what :meth:`translate` returns.
        """
        c = self.config
        check_refinement(c, refinement)
        self._check_images("x", x)
        self._check_label_vectors(labels[:, None] if isinstance(labels, torch.Tensor) and labels.dim() == 2 else labels,
                                  x.shape[0])
        expected = (x.shape[0], NUM_LANDMARKS, 2)
        for name, points in (("target_landmarks", target_landmarks), ("source_landmarks", source_landmarks)):
            if points is not None and tuple(points.shape) != expected:
                raise LandmarkGANError(f"{name} must be {expected} pixel coordinates, got {tuple(points.shape)}")
        if c.generator == "warp" and source_landmarks is None:
            raise LandmarkGANError("the warp generator moves the face from its own landmarks: give source_landmarks")
        target = normalise(target_landmarks.to(x.dtype), c.image_size)
        source = None if source_landmarks is None else normalise(source_landmarks.to(x.dtype), c.image_size)
        drawn = soft_landmark_image(x, target, landmark_radius(c.image_size))
        out = self.ge(x, Landmarks(drawn, target, source), labels.to(x.dtype))
        return {"landmark_image": out["landmark_image"], "landmarks": target_landmarks, "image":
                blend_refinement(out, refinement), "warped": out.get("warped"), "mask": out.get("mask"),
                "source_landmarks": source_landmarks}

    def translate_batch(self, batch: Batch, refinement: float = 1.0) -> dict[str, torch.Tensor | None]:
        """:meth:`translate` on a batch of :class:`~landmarkgan.data.dataset.ExpressionPairDataset` pairs: stage I's
        own landmarks (no detector) for LandmarkGAN, the true ones for the ground-truth baseline."""
        truth = self.config.landmark_source == "ground_truth"
        return self.translate(batch["x"], batch["target_label"], batch.get("target_intensity"),
                              batch.get("target_landmark_image"), batch.get("target_landmarks"),
                              batch.get("source_landmarks") if truth else None, refinement)

    def stage2_on_true_landmarks(self, batch: Batch, refinement: float = 1.0) -> torch.Tensor:
        """Ge's output on a batch of data set pairs when it reads the true landmarks (the target's landmark image and
        points, the source's points) instead of Gl's: what stage II makes of a perfect stage I. Set against the
        model's own output, it tells how much of the error is stage I's. ``refinement`` as in :meth:`translate`."""
        self._require_stage1("stage II on the true landmarks")
        check_refinement(self.config, refinement)
        labels = self._labels(batch["x"], batch["target_label"], batch.get("target_intensity"))
        out = self.ge(batch["x"], self._true_landmarks(batch), labels)
        return blend_refinement(out, refinement)

    def _true_landmarks(self, batch: Batch) -> Landmarks:
        """A batch's true landmarks as stage I would hand them over: the target's landmark image and points, the
        source's points (normalised)."""
        size = self.config.image_size
        return Landmarks(batch["target_landmark_image"], normalise(batch["target_landmarks"].float(), size),
                         normalise(batch["source_landmarks"].float(), size))

    def _landmarks(
        self,
        x: torch.Tensor,
        labels: torch.Tensor,
        target_landmark_image: torch.Tensor | None,
        target_landmarks: torch.Tensor | None,
        source_landmarks: torch.Tensor | None = None,
    ) -> Landmarks:
        """Stage II's landmarks (normalised): Gl's (moved onto given source landmarks), the target's own, or none."""
        c = self.config
        given = None
        if source_landmarks is not None:
            if source_landmarks.dim() != 3 or tuple(source_landmarks.shape) != (x.shape[0], NUM_LANDMARKS, 2):
                raise LandmarkGANError(
                    f"source_landmarks must be ({x.shape[0]}, {NUM_LANDMARKS}, 2) pixel coordinates, got "
                    f"{tuple(source_landmarks.shape)}")
            given = normalise(source_landmarks.to(x.dtype), c.image_size)
        if c.landmark_source == "generated":
            stage1 = self.gl(x, labels)
            if given is None or stage1.source_points is None:
                return stage1
            return Landmarks(stage1.image, given + (stage1.points - stage1.source_points), given)
        if c.landmark_source == "none":
            return Landmarks(None, None)
        if target_landmark_image is None or target_landmarks is None or (c.generator == "warp" and given is None):
            needs = "landmark image and landmarks" + (" and the source's landmarks" if c.generator == "warp" else "")
            raise LandmarkGANError(
                f"this is the ground-truth-landmark baseline: it needs the target's {needs}, "
                "so it runs on data set pairs (landmarkgan evaluate), not on a single photo"
            )
        self._check_images("the target landmark image", target_landmark_image, x.shape[0])
        return Landmarks(target_landmark_image, normalise(target_landmarks, c.image_size), given)

    # -- losses -----------------------------------------------------------------------------------
    def stage1_forward(self, batch: Batch) -> Landmarks:
        """Gl(x, le): the generated landmark image and points (normalised) the stage I losses judge."""
        self._require_stage1("stage I")
        x, labels = self._batch_inputs(batch)
        return self.gl(x, labels)

    def stage1_discriminator_loss(self, batch: Batch, fake: torch.Tensor | None = None) -> tuple[torch.Tensor, Parts]:
        """Dl: 0.5 [BCE(Dl(l_real, x), 1) + BCE(Dl(Gl(x, le), x), 0)]; ``fake``: Gl's landmark image, if run already."""
        self._require_stage1("the stage I loss")
        x, labels = self._batch_inputs(batch, "target_landmark_image")
        if fake is None:
            with torch.no_grad():
                fake = self.gl(x, labels).image
        total, real_part, fake_part = discriminator_loss(
            self._judge(self.dl, batch["target_landmark_image"], x), self._judge(self.dl, fake.detach(), x)
        )
        return total, _detached(total=total, real=real_part, fake=fake_part)

    def stage1_generator_loss(self, batch: Batch, stage1: Landmarks | None = None) -> tuple[torch.Tensor, Parts]:
        """Gl: BCE(Dl(Gl(x, le), x), 1) + lambda1 * landmark loss (pixels at 256x256); with the warp generator
        also lambda1 * the landmark loss of Gl's estimate of the source's own landmarks. ``stage1``: the output of
        :meth:`stage1_forward` on this batch, if run already."""
        self._require_stage1("the stage I loss")
        c = self.config
        x, labels = self._batch_inputs(batch, "target_landmarks", *(["source_landmarks"] if c.estimates_source else []))
        if stage1 is None:
            stage1 = self.gl(x, labels)
        gan = generator_gan_loss(self._judge(self.dl, stage1.image, x))
        parts = {"gan": gan}
        total = gan
        if c.landmark_loss:
            target = normalise(batch["target_landmarks"], c.image_size)
            parts["landmark"] = landmark_loss(stage1.points * REFERENCE_SIZE, target * REFERENCE_SIZE)
            total = total + c.lambda1 * parts["landmark"]
            if stage1.source_points is not None:
                source = normalise(batch["source_landmarks"], c.image_size)
                parts["source_landmark"] = landmark_loss(stage1.source_points * REFERENCE_SIZE, source * REFERENCE_SIZE)
                total = total + c.lambda1 * parts["source_landmark"]
        return total, _detached(total=total, **parts)

    def stage2_discriminator_loss(self, batch: Batch, y_hat: torch.Tensor | None = None) -> tuple[torch.Tensor, Parts]:
        """De: 0.5 [BCE(De(y, x), 1) + BCE(De(y_hat, x), 0)] [+ lambda_cls * CE(Dc(y), le), Dc the expression classifier];
        ``y_hat``: Ge's output on this batch, if run already."""
        x, labels = self._batch_inputs(batch, "y")
        if y_hat is None:
            with torch.no_grad():
                y_hat = self._stage2_forward(batch, x, labels)["image"]
        total, real_part, fake_part = discriminator_loss(
            self._judge(self.de, batch["y"], x), self._judge(self.de, y_hat.detach(), x)
        )
        parts = {"real": real_part, "fake": fake_part}
        if self.dc is not None:
            parts["classification"] = classification_loss(self.dc(batch["y"]), batch["target_label"])
            total = total + self.config.lambda_cls * parts["classification"]
        return total, _detached(total=total, **parts)

    def stage2_generator_loss(
        self, batch: Batch, identity_net: nn.Module | None = None, out: dict[str, torch.Tensor | None] | None = None
    ) -> tuple[torch.Tensor, Parts]:
        """Ge: BCE(De(y_hat, x), 1) + lambda2 * reconstruction(y_hat, y) + lambda3 * |F(y) - F(y_hat)|_1
        [+ lambda_cls * CE(Dc(y_hat), le)] [the warp generator's own terms].

        ``identity_net`` is the face-recognition feature extractor F, required when identity_loss is on;
        ``batch["target_identity"]``, when present, holds F(y) already (the trainer caches it per image);
        ``out``: the output of :meth:`stage2_forward` on this batch, if run already.
        """
        c = self.config
        if c.identity_loss and identity_net is None:
            raise LandmarkGANError(
                "model.identity_loss is on but no face-recognition network was given; pass identity_net "
                "or set model.identity_loss=false"
            )
        x, labels = self._batch_inputs(batch, "y")
        y = batch["y"]
        if out is None:
            out = self._stage2_forward(batch, x, labels)
        y_hat = out["image"]
        gan = generator_gan_loss(self._judge(self.de, y_hat, x))
        parts = {"gan": gan, "reconstruction": reconstruction_loss(y_hat.float(), y.float(), c.recon_loss)}
        total = gan + c.lambda2 * parts["reconstruction"]
        if self.dc is not None:
            parts["classification"] = classification_loss(self.dc(y_hat), batch["target_label"])
            total = total + c.lambda_cls * parts["classification"]
        if c.identity_loss:
            parts["identity"] = identity_loss(identity_net, y, y_hat, batch.get("target_identity"))
            total = total + c.lambda3 * parts["identity"]
        if out.get("warped") is not None and c.lambda_change:  # the warp generator
            parts["change"] = change_weighted_loss(y_hat, y, out["warped"], c.recon_loss)
            total = total + c.lambda_change * parts["change"]
        if out.get("colour") is not None:  # the warp generator's free refinement
            if c.lambda_colour:
                parts["colour"] = reconstruction_loss(out["colour"].float(), y.float(), c.recon_loss)
                total = total + c.lambda_colour * parts["colour"]
            if c.lambda_mask:
                parts["mask"] = mask_loss(out["mask_logits"], out["colour"], out["warped"], y)
                total = total + c.lambda_mask * parts["mask"]
        return total, _detached(total=total, **parts)

    def stage2_forward(self, batch: Batch) -> dict[str, torch.Tensor | None]:
        """Ge's output on a batch ({"image": y_hat, and the warp generator's "warped", "mask", ...}), Gl fixed."""
        x, labels = self._batch_inputs(batch)
        return self._stage2_forward(batch, x, labels)

    def _stage2_forward(self, batch: Batch, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor | None]:
        """Ge([x, Gl(x, le), le]) with Gl fixed (no gradient into Gl); the baselines' landmarks instead."""
        truth = self.config.landmark_source == "ground_truth"
        with torch.no_grad():
            landmarks = self._landmarks(x, labels, batch.get("target_landmark_image"), batch.get("target_landmarks"),
                                        batch.get("source_landmarks") if truth else None)
        return self.ge(x, landmarks, labels)

    @staticmethod
    def _judge(discriminators: nn.ModuleList, image: torch.Tensor, x: torch.Tensor) -> list[torch.Tensor]:
        """Each discriminator's patch map for the pair (image, x); the second one sees it at half size."""
        pair = torch.cat([image, x], dim=1)
        return [d(pair if k == 0 else F.avg_pool2d(pair, 2)) for k, d in enumerate(discriminators)]

    # -- input checks ----------------------------------------------------------------------------
    def _check_images(self, name: str, images: torch.Tensor, batch_size: int | None = None) -> None:
        c = self.config
        expected = (c.input_nc, c.image_size, c.image_size)
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or tuple(images.shape[1:]) != expected:
            got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise LandmarkGANError(
                f"{name} must be a (B, {c.input_nc}, {c.image_size}, {c.image_size}) image tensor in [-1, 1] "
                f"(this model's image_size is {c.image_size}), got {got}"
            )
        if batch_size is not None and images.shape[0] != batch_size:
            raise LandmarkGANError(f"{name} has {images.shape[0]} items but x has {batch_size}")

    @staticmethod
    def _check_indices(name: str, values: torch.Tensor | None, batch_size: int, low: int, high: int, hint: str) -> None:
        if not isinstance(values, torch.Tensor) or values.dim() != 1 or values.shape[0] != batch_size:
            got = tuple(values.shape) if isinstance(values, torch.Tensor) else values
            raise LandmarkGANError(f"{name} must be a ({batch_size},) tensor of integer indices, got {got}")
        if values.dtype.is_floating_point or values.dtype == torch.bool:
            raise LandmarkGANError(f"{name} must hold integer indices (torch.long), got dtype {values.dtype}")
        lo, hi = torch.stack([values.min(), values.max()]).tolist()
        if lo < low or hi > high:
            raise LandmarkGANError(f"{name} values must lie in {low}..{high} ({hint}), got {lo}..{hi}")

    def _check_label_vectors(self, labels: torch.Tensor, batch_size: int) -> None:
        """Label vectors (B, N, L): L = num_labels, values in [0, 1] (one-hots or mixes of them)."""
        size = self.config.num_labels
        if (not isinstance(labels, torch.Tensor) or labels.dim() != 3 or labels.shape[0] != batch_size
                or labels.shape[2] != size):
            got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise LandmarkGANError(f"the label vectors must be a ({batch_size}, N, {size}) tensor, got {got}")
        if not labels.is_floating_point() or not torch.isfinite(labels).all() or labels.min() < 0 or labels.max() > 1:
            raise LandmarkGANError("the label vectors must hold numbers from 0 to 1 (one-hots, or mixes of them)")

    def _labels(self, x: torch.Tensor, le: torch.Tensor, li: torch.Tensor | None) -> torch.Tensor:
        """Check x, le, li and build the label vector."""
        c = self.config
        self._check_images("x", x)
        b = x.shape[0]
        self._check_indices("the target expression le", le, b, 0, c.num_expressions - 1,
                            f"the model knows {c.num_expressions} expressions")
        if c.num_intensities:
            if li is None:
                raise LandmarkGANError(
                    f"this model controls intensity (num_intensities={c.num_intensities}); give the target "
                    f"intensity li (1..{c.num_intensities}, or 0 for none)"
                )
            self._check_indices("the target intensity li", li, b, 0, c.num_intensities,
                                "0 = none, 1.. = intensity level")
        return label_vector(c, le.long(), li.long() if c.num_intensities else None)

    def _batch_inputs(self, batch: Batch, *needed: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Check the batch keys a loss needs; return (x, label vector)."""
        keys = ["x", "target_label", *needed] + (["target_intensity"] if self.config.num_intensities else [])
        missing = [k for k in keys if k not in batch]
        if missing:
            raise LandmarkGANError(f"the training batch lacks {', '.join(missing)} (it has {', '.join(sorted(batch))})")
        x = batch["x"]
        labels = self._labels(x, batch["target_label"], batch.get("target_intensity"))
        for key in needed:
            if key.endswith("_landmarks"):
                points = batch[key]
                if points.dim() != 3 or tuple(points.shape) != (x.shape[0], NUM_LANDMARKS, 2):
                    raise LandmarkGANError(
                        f"{key} must be ({x.shape[0]}, {NUM_LANDMARKS}, 2) pixel coordinates, got {tuple(points.shape)}"
                    )
            else:
                self._check_images(key, batch[key], x.shape[0])
        return x, labels


def read_model_config(folder: Path) -> dict:
    """The parsed ``config.json`` of a model folder, checked to be one of ours."""
    path = folder / MODEL_CONFIG_NAME
    if not path.is_file():
        raise LandmarkGANError(f"{folder} has no {MODEL_CONFIG_NAME}; is it a landmarkgan model folder?")
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise LandmarkGANError(f"{path} is not readable JSON ({e}); the model folder is damaged") from None
    if not isinstance(record, dict) or record.get("format") != MODEL_FORMAT or not isinstance(record.get("model"), dict):
        raise LandmarkGANError(f"{path} is not a landmarkgan model config (expected format {MODEL_FORMAT!r})")
    return record


def _detached(**parts: torch.Tensor) -> Parts:
    return {k: v.detach() for k, v in parts.items()}
