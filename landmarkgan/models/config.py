"""The model's hyper-parameters: every architecture size, loss weight and ablation switch of the paper.

Defaults are the paper's (256x256 images, pix2pix unet_256 generators, 70x70 PatchGANs, BatchNorm,
dropout as the only noise, lambda1 = 2, lambda2 = 100, lambda3 = 0.1, dual discriminators, identity
and landmark losses on, the L1,2 reconstruction loss, soft-crops on, labels to both generators).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from landmarkgan.config_fields import check_fields, check_finite, field_defaults, field_names
from landmarkgan.data.degradations import TASKS
from landmarkgan.errors import LandmarkGANError
from landmarkgan.expressions import BASIC_EXPRESSIONS, canonical_expression

NUM_LANDMARKS = 68
# Reference image side for values stated "in pixels at 256x256": the landmark loss and the soft-crop
# width keep their meaning at any training size.
REFERENCE_SIZE = 256
NORMS = ("batch", "instance", "none")
LABEL_TARGETS = ("both", "gl", "ge")
RECON_LOSSES = ("l12", "l1", "l2")
LANDMARK_SOURCES = ("generated", "ground_truth", "none")
GENERATORS = ("unet", "warp")
STAGE2_LANDMARK_IMAGES = ("decoded", "drawn")
REFINEMENT_REGIONS = ("image", "features")
REFINEMENT_COLOURS = ("free", "palette")
# the warp generator's own options: they do nothing for the paper's generator
WARP_OPTIONS = ("lambda_mask", "lambda_colour", "lambda_change", "colour_residual", "refinement_head", "refinement_region",
                "refinement_colours")


@dataclass
class ModelConfig:
    """Everything that fixes LandmarkGAN's networks and losses (saved with every checkpoint).

    Attributes:
        image_size: side S of the square images (power of two, >= 32; 256 in the paper).
        input_nc: channels of the input/output face images (3 = RGB).
        ngf: generator width (filters of the U-Nets' first layer).
        ndf: discriminator width (filters of the PatchGANs' first layer).
        n_layers_D: stride-2 layers of each PatchGAN (3 = the 70x70 PatchGAN).
        norm: "batch" (paper), "instance" or "none".
        dropout: dropout 0.5 in the U-Nets' innermost decoder blocks (the only noise source).
        expressions: the K expression names, in the order of the one-hot le (the 7 basic ones, or 8
            with contempt for RaFD); training takes them from the data.
        num_intensities: size of the intensity one-hot li (0 = no intensity control, 4 = BU-3DFE, eq. 10).
        label_to: which generators get the labels: "both" (paper), "gl" only or "ge" only (Table I).
        label_embed_dim: width of the fully connected label embedding joined to Gl's bottleneck.
        soft_crops: give Ge the soft-crop features (Gaussian-weighted crops of x around the landmarks).
        soft_crop_sigma: the Gaussians' standard deviation, in pixels of a 256x256 image.
        dual_discriminator: two PatchGANs per stage (full and half resolution) instead of one.
        landmark_loss: stage I's landmark reconstruction loss (lambda1 term).
        identity_loss: stage II's face-recognition identity loss (lambda3 term).
        recon_loss: stage II's reconstruction loss: "l12" (Huber, paper), "l1" or "l2".
        lambda1: weight of the landmark loss (in pixels of a 256x256 image).
        lambda2: weight of the image reconstruction loss (images in [-1, 1]).
        lambda3: weight of the identity loss.
        pdm_components: number of PCA shape modes of the point distribution model.
        landmark_source: where Ge's landmarks come from: "generated" by Gl (LandmarkGAN), the target's
            "ground_truth" landmarks (a C2GAN-style baseline that is given them: an upper bound), or
            "none" (a label-only pix2pix/StarGAN-style baseline without stage I).
        generator: stage II: "unet", the paper's Ge (a U-Net that draws the whole face), or "warp", our
            extension: Gl also estimates the source's landmarks, x is warped from them to the target
            landmarks (a thin-plate spline), and a U-Net refines the warped face through a blending mask.
        stage2_landmark_image: the landmark image Ge reads: "decoded" by Gl's U-Net decoder (paper), or
            "drawn" from the generated points (soft disks, the paper's colour encoding; for the warp
            generator the colours come from the warped face).
        warp_regularisation: smoothing of the warp's thin-plate spline (0 interpolates exactly; above 0 it
            stays solvable where target points coincide, e.g. the lips of a closed mouth).
        refinement_colours: how the warp generator's refinement may change the warped face (ours): "free", a colour
            image of any colour blended in through a mask (``colour_residual``, ``refinement_region``,
            ``lambda_colour`` and ``lambda_mask`` shape it), or "palette": the network decides where and how much,
            the colours come from the person: a grey shading (1/2 to 2 times the face's brightness) near the facial
            features, and around the target's mouth and eyes a mix of the warped face with colours sampled from the
            source face at its landmarks (lips, skin, teeth, a dark mouth cavity, sclera, iris). It cannot paint a
            colour the person lacks, so on a photo it carries the photo's own colours
            (``generators.palette_refinement``).
        lambda_mask: weight of the free refinement's mask loss: the blending mask learns, per pixel, whether
            its colour image or the warped face is closer to the real target (binary cross-entropy).
        lambda_colour: weight of the free refinement's second reconstruction term, on its colour image alone
            (the recon_loss kind against y). Neither applies to the palette refinement. Without these two the
            blending mask falls to 0 and stays there: where the mask is 0 the colour image gets no gradient, so it
            never becomes worth blending in.
        lambda_change: weight of the warp generator's change-weighted reconstruction term: the recon_loss kind
            between y_hat and y, weighted per pixel by how far the warped face is from y there (mean absolute
            difference over the channels, no gradient) and normalised by the weights' sum, i.e. the error on
            what the warp gets wrong (an opening mouth, wrinkles, eyes). 0 = off (an extension, not the paper).
        lambda_cls: weight of the expression classification loss (StarGAN's auxiliary classifier; an extension, not
            the paper): a classifier Dc (``AuxiliaryClassifier``, trained in De's step on the real targets y) tells
            which expression a face shows, and Ge is pushed to make Dc read the asked one on y_hat (cross-entropy
            both times). 0 = off (no Dc).
        cls_size: the size Dc reads faces at: 0 = image_size; smaller (a power of two, 8 or more) = shrunk to
            cls_size x cls_size by averaging first, a low-pass filter, so Ge cannot please Dc with patterns finer
            than that (stripes, specks) and must change the face's shape and shading instead (ours).
        colour_residual: the warp generator's colour image is the warped face corrected by the U-Net's output
            (``tanh(atanh(warped x) + r)``, so an untrained refinement returns the warp) instead of drawn by it
            (``tanh(r)``, the default).
        refinement_head: channels of a full-resolution head on the warp generator's refinement U-Net (ours; 0 = none,
            the U-Net alone). The pix2pix U-Net's finest features are at half resolution (its first layer is a
            stride-2 convolution and its last a stride-2 transposed one), so with a small ngf it cannot draw or erase
            a one-pixel line exactly; the head is two 3x3 convolutions at full resolution that read the U-Net's output
            with the warped face and add a correction to it.
        refinement_region: where the warp generator's refinement may paint: the whole "image" (its mask alone
            decides), or only near the facial "features" (its mask times a soft region around the brows, the
            forehead above them, the eyes, nose and mouth of the source and the target; see
            ``generators.feature_region``), so hair, ears, neck and background are always the warped face.
        task: what the model translates: "expression" (the paper's main task: x to y, another expression of the
            same person), or one of the paper's other applications (its Fig. 10), trained on pairs (degraded y, y)
            with y's own labels: "colorize" (from y in grey), "inpaint" (from y with a hole over an eye, the nose
            or the mouth) or "sketch" (from a pencil sketch of y); see ``landmarkgan.data.degradations``.
    """

    image_size: int = 256
    input_nc: int = 3
    ngf: int = 64
    ndf: int = 64
    n_layers_D: int = 3
    norm: str = "batch"
    dropout: bool = True
    expressions: list[str] = dataclasses.field(default_factory=lambda: list(BASIC_EXPRESSIONS))
    num_intensities: int = 0
    label_to: str = "both"
    label_embed_dim: int = 64
    soft_crops: bool = True
    soft_crop_sigma: float = 8.0
    dual_discriminator: bool = True
    landmark_loss: bool = True
    identity_loss: bool = True
    recon_loss: str = "l12"
    lambda1: float = 2.0
    lambda2: float = 100.0
    lambda3: float = 0.1
    pdm_components: int = 20
    landmark_source: str = "generated"
    generator: str = "unet"
    stage2_landmark_image: str = "decoded"
    warp_regularisation: float = 3e-3
    lambda_mask: float = 1.0
    lambda_colour: float = 20.0
    lambda_change: float = 0.0
    lambda_cls: float = 0.0
    cls_size: int = 0
    colour_residual: bool = False
    refinement_head: int = 0
    refinement_region: str = "image"
    refinement_colours: str = "free"
    task: str = "expression"

    def __post_init__(self) -> None:
        self.validate()

    @property
    def num_downs(self) -> int:
        """Downsamplings of the U-Nets: log2(image_size), so the bottleneck is 1x1 (8 at 256 = unet_256)."""
        return int(math.log2(self.image_size))

    @property
    def num_expressions(self) -> int:
        """K, the length of the expression one-hot le."""
        return len(self.expressions)

    @property
    def num_labels(self) -> int:
        """Length of the label vector [le one-hot, li one-hot]."""
        return self.num_expressions + self.num_intensities

    @property
    def has_stage1(self) -> bool:
        """Whether the model has Gl and Dl (LandmarkGAN does; the baselines do not)."""
        return self.landmark_source == "generated"

    @property
    def estimates_source(self) -> bool:
        """Whether Gl also estimates the source's own landmarks (the warp generator needs them)."""
        return self.has_stage1 and self.generator == "warp"

    @property
    def labels_to_gl(self) -> bool:
        return self.label_to in ("both", "gl")

    @property
    def labels_to_ge(self) -> bool:
        return self.label_to in ("both", "ge")

    def validate(self) -> None:
        """Raise LandmarkGANError naming the first bad field and the values it accepts."""
        check_fields(self, "model")
        s = self.image_size
        if s < 32 or s & (s - 1):
            raise LandmarkGANError(
                f"model.image_size must be a power of two of at least 32 (the U-Net halves it down to 1x1), got {s}"
            )
        for name in ("input_nc", "ngf", "ndf", "n_layers_D", "label_embed_dim", "pdm_components"):
            if getattr(self, name) < 1:
                raise LandmarkGANError(f"model.{name} must be at least 1, got {getattr(self, name)}")
        smallest = s // 2 if self.dual_discriminator else s
        if smallest < 3 * 2**self.n_layers_D:
            raise LandmarkGANError(
                f"model.n_layers_D={self.n_layers_D} is too deep for a {smallest}x{smallest} discriminator input "
                f"(it needs at least {3 * 2**self.n_layers_D}); lower n_layers_D or raise image_size"
            )
        _choice("norm", self.norm, NORMS)
        _choice("label_to", self.label_to, LABEL_TARGETS)
        _choice("recon_loss", self.recon_loss, RECON_LOSSES)
        _choice("landmark_source", self.landmark_source, LANDMARK_SOURCES)
        _choice("generator", self.generator, GENERATORS)
        _choice("stage2_landmark_image", self.stage2_landmark_image, STAGE2_LANDMARK_IMAGES)
        _choice("refinement_region", self.refinement_region, REFINEMENT_REGIONS)
        _choice("refinement_colours", self.refinement_colours, REFINEMENT_COLOURS)
        if self.refinement_colours == "palette":
            if self.generator != "warp":
                raise LandmarkGANError("model.refinement_colours=palette refines the warped face, so it needs "
                                       f"model.generator=warp (got {self.generator!r})")
            if self.colour_residual or self.refinement_region != "image":
                raise LandmarkGANError(
                    "model.colour_residual and model.refinement_region shape the free refinement's colour image and "
                    "mask; the palette refinement has neither (its regions are fixed by the landmarks): set "
                    "model.colour_residual=false and model.refinement_region=image")
        read = self.cls_size
        if read and (read < 8 or read & (read - 1) or read > s):
            raise LandmarkGANError(
                f"model.cls_size must be 0 (the classifier reads the whole {s}x{s} face) or a power of two from 8 to "
                f"{s}, got {read}")
        _choice("task", self.task, TASKS)
        if self.generator == "warp" and self.landmark_source == "none":
            raise LandmarkGANError(
                "model.generator=warp moves the face along its landmarks, so it needs them: use "
                "model.landmark_source=generated or ground_truth, or model.generator=unet for the label-only baseline")
        self.expressions = [canonical_expression(e) for e in self.expressions]
        if len(set(self.expressions)) != len(self.expressions) or len(self.expressions) < 2:
            raise LandmarkGANError(f"model.expressions must name at least 2 different expressions, got {self.expressions}")
        if self.num_intensities < 0:
            raise LandmarkGANError(f"model.num_intensities must be 0 (off) or the number of levels (4), got {self.num_intensities}")
        if self.refinement_head < 0:
            raise LandmarkGANError(f"model.refinement_head is a number of channels, 0 (none) or more, got {self.refinement_head}")
        if not self.soft_crop_sigma > 0:
            raise LandmarkGANError(f"model.soft_crop_sigma must be positive (pixels at 256x256), got {self.soft_crop_sigma}")
        for name in ("lambda1", "lambda2", "lambda3", "lambda_mask", "lambda_colour", "lambda_change", "lambda_cls",
                     "warp_regularisation"):
            check_finite(getattr(self, name), f"model.{name}")
        max_modes = 2 * NUM_LANDMARKS - 4
        if self.pdm_components > max_modes:
            raise LandmarkGANError(
                f"model.pdm_components must be at most {max_modes} (68 points x 2 minus the 4 similarity "
                f"parameters), got {self.pdm_components}"
            )
        # Upper bounds, so a damaged or hostile config is refused here, not by the allocator when the networks
        # are built (ngf = ndf = 256 already make a 7 GiB model at 256 x 256; the paper uses 64). The least
        # values are checked above; they are named here so that the message gives the whole range.
        ranges = {"image_size": (32, 1024), "input_nc": (1, 4), "ngf": (1, 256), "ndf": (1, 256), "n_layers_D": (1, 6),
                  "label_embed_dim": (1, 1024), "num_intensities": (0, 10), "refinement_head": (0, 256)}
        for name, (low, high) in ranges.items():
            if getattr(self, name) > high:
                raise LandmarkGANError(f"model.{name} must be between {low} and {high}, got {getattr(self, name)}")
        check_finite(self.soft_crop_sigma, "model.soft_crop_sigma")
        self._check_applicable()

    def _check_applicable(self) -> None:
        """Refuse an option moved from its default where it does nothing for this model, rather than ignore it."""
        needs = {
            **dict.fromkeys(WARP_OPTIONS, (self.generator == "warp", "the warp generator (model.generator=warp)")),
            "cls_size": (self.lambda_cls > 0, "the expression classification loss (model.lambda_cls above 0)"),
            "soft_crop_sigma": (self.soft_crops, "the soft-crops (model.soft_crops=true)"),
            "lambda1": (self.landmark_loss, "the landmark loss (model.landmark_loss=true)"),
            "lambda3": (self.identity_loss, "the identity loss (model.identity_loss=true)"),
        }
        defaults = field_defaults(ModelConfig)
        for name, (applies, owner) in needs.items():
            value = getattr(self, name)
            if not applies and value != defaults[name]:
                raise LandmarkGANError(
                    f"model.{name}={value!r} would do nothing: it belongs to {owner}, which this model does not use; "
                    f"remove it (its default is {defaults[name]!r}) or switch that on")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        """Build from a mapping (e.g. a YAML ``model`` section); unknown keys are an error."""
        if not isinstance(d, dict):
            raise LandmarkGANError(f"the model config must be a mapping of options, got {type(d).__name__}")
        unknown = sorted(set(d) - set(field_names(cls)))
        if unknown:
            raise LandmarkGANError(
                f"unknown model option(s) {unknown}; known: {sorted(field_names(cls))}. A config saved by an earlier "
                "version may hold options since removed (docs/experiments.md): where they were off, delete them")
        return cls(**d)


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise LandmarkGANError(f"model.{name} must be one of {', '.join(allowed)}, got {value!r}")

