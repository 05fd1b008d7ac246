"""The translation pipeline: a photo in; the same photo, at its own size, with its faces wearing another expression
out, and each face's 68 target landmarks.

    from landmarkgan import LandmarkGANPipeline
    pipe = LandmarkGANPipeline.from_pretrained()            # the built-in default model
    result = pipe("me.jpg", expression="happy", intensity=3)
    result.photo            # the whole photo, its faces changed, (H, W, 3) uint8
    result.faces            # each translated face, left to right, in the model's S x S frame:
    result.image            #   the first face's translation, (S, S, 3) uint8
    result.landmarks        #   its 68 generated landmarks, (68, 2) pixels of the frame
    result.landmark_image   #   stage I's landmark image

A photo's faces are found by dlib and each is aligned: rotated, scaled and cropped into the frame the model was
trained in (see ``landmarkgan.landmarks.align``); the translated faces are pasted back into the photo
(:mod:`landmarkgan.inference.photo`). An image that already is such a crop (a prepared or synthetic data set image,
a tensor) skips that with ``align=False``.

A model trained for one of the paper's other applications (``model.task``: colorize, inpaint, sketch)
restores a face instead: give it a grey photo, a face with a hole (painted white, or a ``mask``) or a pencil
sketch, and it returns the face's landmarks and the face in colour, whole, or drawn from the sketch::

    pipe = LandmarkGANPipeline.from_pretrained("runs/inpaint", task="inpaint")
    result = pipe.restore("me.jpg", mask="hole.png")  # or degrade=True: the seeded hole over an eye, nose or mouth
"""

from __future__ import annotations

import copy
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from landmarkgan.data.dataset import to_tensor, to_uint8
from landmarkgan.data.degradations import fill_hole, greyscale, hole_mask, sketch
from landmarkgan.data.images import check_size, load_image, resize_image, shrink, to_rgb
from landmarkgan.devices import resolve_device
from landmarkgan.errors import LandmarkGANError, quoted
from landmarkgan.expressions import canonical_expression
from landmarkgan.inference.control import (NEUTRAL, ControlLabel, Control, FaceDisplacements, Label, Target,
                                           make_control)
from landmarkgan.inference.photo import (DETECTION_SIDE, FaceChoice, FacePaste, WarpSettings, align_in_photo,
                                         detection_in_photo, find_faces)
from landmarkgan.inference.refinement_area import check_refinement_area, keep_to_area
from landmarkgan.inference.results import AlignedInput, PhotoFaces, PhotoTranslation, Translation
from landmarkgan.landmarks.align import apply_transform, invert_transform, warp_image
from landmarkgan.landmarks.detector import DETECTORS
from landmarkgan.models.generators import check_refinement, label_vector
from landmarkgan.models.landmarkgan import LandmarkGAN
from landmarkgan.models.pdm import normalise
from landmarkgan.models.warp import warp

ImageInput = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor
MaskInput = str | os.PathLike | Image.Image | np.ndarray
DEFAULT_INTENSITY = 4  # the strongest level, when a model with intensity control is not told one
DEFAULT_DETECTOR = "auto"  # dlib's HOG, and its CNN only for a photo where HOG finds no face (a tilted head)
RESTORED_EXPRESSION = "neutral"  # a restored face's own expression, unless told
HOLE_SEED = 0  # the seed of the hole ``degrade=True`` makes for an inpainting model
MAX_FRAMES = 240  # a morph's frames at most
PHOTO_AREA_KEY = "photo_refinement_area"  # a model folder's metadata: where its refinement goes on photos


class LandmarkGANPipeline:
    """A trained LandmarkGAN with face detection and alignment in front of it.

    Args:
        model: a trained :class:`~landmarkgan.models.LandmarkGAN`.
        device: "auto" (CUDA when available), "cpu", "cuda", ...
        detector: dlib's face detector, "hog" (fast), "cnn" (finds tilted heads, slow on a CPU) or "auto"
            (default: HOG, then the CNN when HOG finds no face), created the first time a photo needs
            aligning; or a face detector object with ``detect_one(image, what)``.
        task: the task the caller means ("expression", "colorize", "inpaint", "sketch"); a model trained for
            another one is refused. None takes the model's own (see :attr:`task`).
        refinement: for the warp generator, how much of its learned refinement goes into the output: 1 (default)
            the model as trained, 0 the warp alone, in between a part of the refinement's change (its blending
            mask scaled). On real photos the refinement, trained on the synthetic set, can paint streaks that a
            lower strength tones down (docs/default_model.md, "On a photo").
        refinement_area: for the warp generator, where the refinement goes: "face" (everywhere, as trained) or
            "features" (around the mouth and eyes only, the warp alone elsewhere). None (default): on faces found in
            photos, the area the model folder names for photos (the built-in model: "features"), else "face".
    """

    def __init__(self, model: LandmarkGAN, device: str | torch.device = "auto",
                 detector: str | object = DEFAULT_DETECTOR, task: str | None = None,
                 refinement: float = 1.0, refinement_area: str | None = None) -> None:
        from landmarkgan.inference.loading import check_task

        check_task(model, task)
        check_refinement(model.config, refinement)
        check_refinement_area(refinement_area)
        self.refinement = refinement
        self.refinement_area = refinement_area
        self.device = resolve_device(device)
        if not model.config.has_stage1:
            raise LandmarkGANError(
                f"this is the {model.config.landmark_source!r} baseline, not LandmarkGAN: it translates data set "
                "pairs in `landmarkgan evaluate`, not photos"
            )
        self.model = model.to(self.device).eval()
        self._detector = _checked_detector(detector)

    # -- loading and saving -------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, device: str = "auto",
                        detector: str | object = DEFAULT_DETECTOR, task: str | None = None,
                        refinement: float = 1.0, refinement_area: str | None = None) -> "LandmarkGANPipeline":
        """The pipeline of a model folder, a training run or checkpoint, or (None) the built-in default model
        (refused when it was trained for another ``task`` than the one given)."""
        from landmarkgan.inference.loading import load_model

        return cls(load_model(path), device=device, detector=detector, task=task, refinement=refinement,
                   refinement_area=refinement_area)

    def with_detector(self, detector: str | object) -> "LandmarkGANPipeline":
        """This pipeline, sharing its model, finding faces with another detector ("hog", "cnn" or "auto")."""
        other = copy.copy(self)
        other._detector = _checked_detector(detector)
        return other

    def with_refinement(self, refinement: float) -> "LandmarkGANPipeline":
        """This pipeline, sharing its model, blending in ``refinement`` (0..1) of the warp generator's refinement."""
        check_refinement(self.model.config, refinement)
        other = copy.copy(self)
        other.refinement = refinement
        return other

    def with_refinement_area(self, area: str | None) -> "LandmarkGANPipeline":
        """This pipeline, sharing its model, keeping the warp generator's refinement to ``area`` ("face",
        "features", or None: the model's own choice on photos)."""
        check_refinement_area(area)
        other = copy.copy(self)
        other.refinement_area = area
        return other

    @property
    def photo_refinement_area(self) -> str:
        """Where the refinement goes on faces found in photos: the area asked, else the model folder's choice for
        photos, else the whole face."""
        return self.refinement_area or self.model.metadata.get(PHOTO_AREA_KEY, "face")

    def save_pretrained(self, folder: str | os.PathLike, **kwargs) -> Path:
        """Save the model as a model folder (see ``LandmarkGAN.save_pretrained`` for the options)."""
        return self.model.save_pretrained(folder, metadata=self.model.metadata, **kwargs)

    # -- what the model knows ------------------------------------------------------------------------
    @property
    def task(self) -> str:
        """What the model was trained for: "expression" translation, or restoring a face ("colorize",
        "inpaint", "sketch")."""
        return self.model.config.task

    @property
    def image_size(self) -> int:
        return self.model.config.image_size

    @property
    def expressions(self) -> list[str]:
        return list(self.model.config.expressions)

    @property
    def intensities(self) -> list[int]:
        """The intensity levels the model controls (1..4), or [] when it has no intensity control."""
        return list(range(1, self.model.config.num_intensities + 1))

    def labels(self) -> list[tuple[str, int]]:
        """Every (expression, intensity) the model can produce: neutral once, the others at every level."""
        levels = self.intensities or [0]
        return [(e, 0 if e == "neutral" else i) for e in self.expressions for i in ([0] if e == "neutral" else levels)]

    def check_label(self, expression: str, intensity: int | None) -> tuple[str, int]:
        """Canonical (expression, intensity) for this model, or an error naming what it accepts."""
        name = canonical_expression(expression, self.expressions)
        if name not in self.expressions:
            raise LandmarkGANError(f"this model does not know {name!r}; it knows {', '.join(self.expressions)}")
        if intensity is not None and (isinstance(intensity, bool) or not isinstance(intensity, numbers.Integral)):
            raise LandmarkGANError(f"the intensity must be a whole number such as 3, or None, got {quoted(intensity)} "
                                   f"(a {type(intensity).__name__})")
        if not self.intensities:
            if intensity not in (None, 0):
                raise LandmarkGANError("this model has no intensity control; leave the intensity out")
            return name, 0
        if name == "neutral":
            if intensity not in (None, 0):
                raise LandmarkGANError("neutral has no intensity; leave it out")
            return name, 0
        level = DEFAULT_INTENSITY if intensity is None else int(intensity)
        if level not in self.intensities:
            raise LandmarkGANError(f"intensity must be one of {self.intensities} (4 strongest), got {intensity!r}")
        return name, level

    # -- input ---------------------------------------------------------------------------------------
    @property
    def detector_name(self) -> str:
        """The face detector: "hog", "cnn" or "auto" (or the class name of a detector object)."""
        detector = self._detector
        return detector if isinstance(detector, str) else getattr(detector, "kind", type(detector).__name__)

    @property
    def detector(self):
        if isinstance(self._detector, str):
            from landmarkgan.landmarks.detector import FaceLandmarkDetector

            self._detector = FaceLandmarkDetector(self._detector)
        return self._detector

    def prepare(self, image: ImageInput, align: bool = True, what: str | None = None) -> AlignedInput:
        """Bring an input with one face into the model's frame (detect and align a photo, or resize an aligned crop);
        a photo with several faces is refused (see :meth:`find_faces` for those)."""
        if isinstance(image, torch.Tensor) or not align:
            return self.find_faces(image, align, what=what).faces[0]
        what = what or (str(image) if isinstance(image, (str, os.PathLike)) else "the image")
        pixels = _pixels(image)
        small, scale = shrink(pixels, DETECTION_SIDE)
        face = detection_in_photo(self.detector.detect_one(small, what), scale)
        aligned = align_in_photo(pixels, face.landmarks, self.image_size)
        return AlignedInput(aligned.image, aligned.landmarks, aligned.matrix, face.box)

    def find_faces(self, image: ImageInput, align: bool = True, faces: FaceChoice = "all",
                   what: str | None = None) -> PhotoFaces:
        """The photo's pixels and its faces, each aligned into the model's frame, left to right.

        ``faces``: "all" (with the "auto" detector, dlib's CNN then also looks for faces its HOG detector missed),
        "largest", or face numbers (0 = the leftmost face). With ``align=False`` (or a tensor) the input is one
        aligned face crop, taken as it is.
        """
        if isinstance(image, torch.Tensor):
            face = self._tensor_face(image)
            return PhotoFaces(face, [AlignedInput(face)])
        what = what or (str(image) if isinstance(image, (str, os.PathLike)) else "the image")
        pixels = _pixels(image)
        if not align:
            if abs(pixels.shape[0] - pixels.shape[1]) > 0.02 * max(pixels.shape[:2]):
                raise LandmarkGANError(
                    f"{what} is {pixels.shape[1]}x{pixels.shape[0]}; without alignment the input must be a square "
                    "face crop in the model's frame (a prepared or synthetic data set image). Align it instead."
                )
            face = resize_image(pixels, self.image_size)
            return PhotoFaces(face, [AlignedInput(face)])
        found, skipped = find_faces(pixels, self.detector, faces, what)
        aligned = []
        for face in found:
            crop = align_in_photo(pixels, face.landmarks, self.image_size)
            aligned.append(AlignedInput(crop.image, crop.landmarks, crop.matrix, face.box))
        return PhotoFaces(pixels, aligned, skipped)

    def _tensor_face(self, tensor: torch.Tensor) -> np.ndarray:
        t = tensor.detach()
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 3 or t.shape[0] != 3 or not t.is_floating_point():
            raise LandmarkGANError(
                f"a tensor input must be one float image (3, H, W) or (1, 3, H, W) in [-1, 1], got "
                f"{t.dtype} {tuple(tensor.shape)}")
        check_size(t.shape[2], t.shape[1], "the tensor input", max_pixels=None)
        if not torch.isfinite(t).all():
            raise LandmarkGANError("the tensor input holds NaN or infinite values; pass an image in [-1, 1]")
        low, high = t.min().item(), t.max().item()
        if low < -1.01 or high > 1.01:
            raise LandmarkGANError(f"a tensor input must hold values in [-1, 1], got {low:.4g}..{high:.4g}; "
                                   "scale it as (pixels / 127.5 - 1)")
        if t.shape[1:] != (self.image_size, self.image_size):
            t = torch.nn.functional.interpolate(t[None].float(), size=(self.image_size,) * 2, mode="bilinear",
                                                antialias=True, align_corners=False)[0]
        return to_uint8(t[None])[0]

    # -- translation ---------------------------------------------------------------------------------
    @torch.no_grad()
    def translate_faces(self, faces: np.ndarray, labels: Sequence[tuple[str, int]],
                        source_landmarks: np.ndarray | None = None,
                        matrices: Sequence[np.ndarray] | None = None) -> list[Translation]:
        """Translate aligned faces (N, S, S, 3) uint8, face k to ``labels[k]``, in one batch.

        ``source_landmarks`` (N, 68, 2), the faces' own landmarks from a detector, let the warp generator move
        each face from where its features really are, by stage I's displacement, so it keeps its own shape;
        without them stage I's estimate of the source landmarks is used. ``matrices`` (N 2x3 photo-to-frame
        matrices) make each translation ready to be pasted back into its photo.
        """
        x = torch.stack([to_tensor(f) for f in faces]).to(self.device)
        checked = [self.check_label(e, i) for e, i in labels]
        le = torch.tensor([self.expressions.index(e) for e, _ in checked], device=self.device)
        li = torch.tensor([i for _, i in checked], device=self.device)
        given = None if source_landmarks is None else torch.as_tensor(
            np.asarray(source_landmarks, dtype=np.float32), device=self.device)
        out = self.model.translate(x, le, li, source_landmarks=given, refinement=self.refinement)
        return self._translations(out, faces, checked, matrices, source_landmarks)

    def _translations(self, out: dict, faces: np.ndarray, labels: Sequence[tuple[str, int]],
                      matrices: Sequence[np.ndarray] | None, source_landmarks: np.ndarray | None) -> list[Translation]:
        """The model's output for a batch of faces as :class:`Translation`, ready to paste back when ``matrices``
        (faces found in a photo, whose refinement is kept to :attr:`photo_refinement_area`)."""
        keep_to_area(out, self.photo_refinement_area if matrices is not None else self.refinement_area or "face")
        images, landmark_images = to_uint8(out["image"]), to_uint8(out["landmark_image"])
        points = out["landmarks"].float().cpu().numpy()
        results = [Translation(e, i, images[k], points[k], landmark_images[k], np.asarray(faces[k]))
                   for k, (e, i) in enumerate(labels)]
        if matrices is not None:
            warped = out.get("warped")
            changes = None if warped is None else ((out["image"] - warped).float() * 127.5).permute(0, 2, 3, 1).cpu()
            # what the face moved from: the warp's source landmarks, else the detector's, else the generated ones
            moved_from = (out["source_landmarks"].float().cpu().numpy() if out["source_landmarks"] is not None else
                          points if source_landmarks is None else np.asarray(source_landmarks, dtype=np.float32))
            for k, result in enumerate(results):
                result.matrix = matrices[k]
                result.paste = FacePaste(matrices[k], moved_from[k], points[k],
                                         change=None if changes is None else changes[k].numpy(),
                                         face=images[k] if changes is None else None)
        return results

    def __call__(self, image: ImageInput, expression: str | Mapping[str, float] | None = None,
                 intensity: float | None = None, align: bool = True, faces: FaceChoice = "all",
                 regions: Mapping[str, float] | None = None, like: ImageInput | None = None) -> PhotoTranslation:
        """Translate the faces of a photo to ``expression`` (at ``intensity`` when the model controls it).

        ``expression``: a name, or a mix such as {"happy": 0.6, "surprise": 0.4}. ``intensity``: 1..4 are the levels
        the model learned (4, the strongest, by default); any number from 0 (the face's own expression) to 6
        (exaggerated) is interpolated between them. ``regions`` such as {"mouth": 1.5, "eyes": 0} scale each
        landmark group's displacement. ``like``: another photo instead of an expression, whose largest face's
        expression the faces take on (``intensity`` is then a strength, 1 by default, up to 1.5). See
        :mod:`landmarkgan.inference.control`.

        ``faces``: "all" (default), "largest", or face numbers (0 = the leftmost). The result's ``photo`` is the
        whole photo with those faces changed; its other fields are the first face's, in the model's frame.
        """
        self._require_expression_model()
        label = self.trained_label(expression, intensity) if regions is None and like is None else None
        if label is not None:  # one label the model was trained on: the paper's two stages as they are
            return self._translate_photo(image, [label], align, faces)[0]
        control = self.control(expression, intensity, regions, like, align)
        return self.render_control(self.find_faces(image, align, faces), control)

    def trained_label(self, expression: object, intensity: object) -> tuple[str, int] | None:
        """The checked (expression, level) when a request is one label the model was trained on (a name, and a level
        it learned or none), else None: a control (:meth:`control`)."""
        if not isinstance(expression, str) or isinstance(intensity, bool):
            return None
        if intensity is None:
            return self.check_label(expression, None)
        whole = isinstance(intensity, numbers.Real) and float(intensity).is_integer()
        if whole and int(intensity) in self.intensities and canonical_expression(expression) != "neutral":
            return self.check_label(expression, int(intensity))
        return None

    def control(self, expression: str | Mapping[str, float] | None = None, intensity: float | None = None,
                regions: Mapping[str, float] | None = None, like: ImageInput | np.ndarray | None = None,
                align: bool = True) -> Control:
        """A checked :class:`~landmarkgan.inference.control.Control` for this model; ``like`` is a photo (its
        largest face is read, aligned unless ``align`` is False) or an expression from :meth:`expression_of`."""
        levels = self.model.config.num_intensities
        if like is not None and not (isinstance(like, np.ndarray) and like.shape == (68, 2)):
            make_control(self.expressions, levels, expression, intensity, regions, np.zeros((68, 2)))  # check first
            like = self.expression_of(like, align)
        return make_control(self.expressions, levels, expression, intensity, regions, like)

    def expression_of(self, image: ImageInput, align: bool = True) -> np.ndarray:
        """The expression of a photo's largest face, as ``like=`` copies it: its landmarks' displacement from its
        own neutral (stage I's), (68, 2) pixels of the model's frame (its aligned frame: size, position and in-plane
        rotation taken out)."""
        return self.displacements(self.find_faces(image, align, "largest"))[0].expression

    @torch.no_grad()
    def displacements(self, photo: PhotoFaces) -> list[FaceDisplacements]:
        """Stage I's displacement of every label (:meth:`labels`) for each face found: what every control combines.
        One encoder pass per face; a face's own landmarks are the detector's, else stage I's estimate of them."""
        self._require_expression_model()
        labels = self.labels()
        x = torch.stack([to_tensor(f.face) for f in photo.faces]).to(self.device)
        vectors = self._label_vectors([{label: 1.0} for label in labels])
        targets, estimates = self.model.stage1_points(x, vectors[None].expand(len(x), -1, -1))
        targets = targets.double().cpu().numpy()
        estimates = None if estimates is None else estimates.double().cpu().numpy()
        found = []
        for k, face in enumerate(photo.faces):
            detected = None if face.landmarks is None else np.asarray(face.landmarks, dtype=np.float64)
            if estimates is not None:  # the warp generator: stage I's displacement from its own estimate
                base = estimates[k]
            elif detected is not None:  # the paper's generator: its targets, relative to the detector's landmarks
                base = detected
            else:
                base = targets[k, labels.index(NEUTRAL)] if NEUTRAL in labels else targets[k].mean(0)
            source = detected if detected is not None else estimates[k] if estimates is not None else base
            found.append(FaceDisplacements(tuple(labels), source, targets[k] - base))
        return found

    def render_control(self, photo: PhotoFaces, control: Control,
                       displacements: Sequence[FaceDisplacements] | None = None,
                       shifts: Sequence[np.ndarray | None] | None = None) -> PhotoTranslation:
        """The faces found rendered with a control's target landmarks; ``displacements`` from :meth:`displacements`
        when kept from before; ``shifts`` (one per face, (68, 2) frame pixels, or None) move the targets further."""
        displacements = displacements or self.displacements(photo)
        targets = [control.target(d) for d in displacements]
        described = control.describe()
        if shifts is not None and any(shift is not None for shift in shifts):
            targets = [t if shift is None else t.moved(shift) for t, shift in zip(targets, shifts)]
            described = ControlLabel(described.text + ", landmarks moved", described.slug + "_moved",
                                     {**described.record, "moved": True})
        return self.render_found(photo, targets, described)

    @torch.no_grad()
    def render_found(self, photo: PhotoFaces, targets: Sequence[Target], described: ControlLabel) -> PhotoTranslation:
        """Stage II on faces already found, face k rendered with ``targets[k]``, all in one batch."""
        if len(targets) != len(photo.faces):
            raise LandmarkGANError(f"{len(targets)} targets for {len(photo.faces)} faces; give one per face")
        faces = np.stack([face.face for face in photo.faces])
        x = torch.stack([to_tensor(f) for f in faces]).to(self.device)
        labels = self._label_vectors([t.labels for t in targets])
        points, sources, refined = (
            torch.as_tensor(np.stack(rows), dtype=torch.float32, device=self.device)
            for rows in ([t.landmarks for t in targets], [t.source for t in targets],
                         [t.landmarks if t.refined_at is None else t.refined_at for t in targets]))
        if self.model.config.generator == "warp":
            out = self.model.render(x, labels, refined, sources)
            # the refinement's change, scaled per face (as blend_refinement does), and carried beyond what was learned
            share = torch.tensor([self.refinement * t.fade for t in targets], device=self.device)[:, None, None, None]
            change = share * (out["image"] - out["warped"])
            if any(t.refined_at is not None for t in targets):
                out["warped"], change = self._carried(x, sources, refined, points, change)
                out["landmarks"] = points
            out["image"] = out["warped"] + change
        else:
            out = self.model.render(x, labels, points, sources)
        aligned = all(face.matrix is not None for face in photo.faces)
        results = self._translations(out, faces, [t.main_label for t in targets],
                                     [face.matrix for face in photo.faces] if aligned else None, None)
        for face, result in zip(photo.faces, results):
            result.source_landmarks, result.box, result.control = face.landmarks, face.box, described
        return PhotoTranslation(results, photo.pixels, self.warp_settings, list(photo.skipped))

    def _carried(self, x: torch.Tensor, sources: torch.Tensor, refined: torch.Tensor, targets: torch.Tensor,
                 change: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The faces warped to their targets, and the refinement's change (computed at the ``refined`` landmarks)
        warped along from there to the targets (all landmarks (B, 68, 2) in pixels)."""
        size, settings = self.image_size, self.warp_settings
        source, middle, target = (normalise(p, size) for p in (sources, refined, targets))
        return (warp(x, source, target, settings.grid, settings.regularisation),
                warp(change, middle, target, settings.grid, settings.regularisation))

    def _label_vectors(self, shares: Sequence[dict[Label, float]]) -> torch.Tensor:
        """Label vectors (N, L) mixing the labels of each of ``shares`` ({label: share})."""
        config = self.model.config
        rows = []
        for mix in shares:
            le = torch.tensor([self.expressions.index(e) for e, _ in mix])
            li = torch.tensor([level for _, level in mix])
            weights = torch.tensor(list(mix.values()), dtype=torch.float32)
            rows.append((weights[:, None] * label_vector(config, le, li)).sum(0))
        return torch.stack(rows).to(self.device)

    def edit(self, image: ImageInput, landmarks: np.ndarray | Sequence, frame: str = "photo", align: bool = True,
             faces: FaceChoice = "all") -> PhotoTranslation:
        """Render faces with exactly the given landmarks: (68, 2) for one face or (N, 68, 2) for several.

        ``frame="photo"``: the points are in the photo's pixels (as ``translate`` writes them), and each set goes to
        the face it lies on; ``frame="aligned"``: they are in the model's S x S frame of each face (the faces'
        ``landmarks``), one set per face found, left to right. Faces given no landmarks are left out. Without
        alignment the input is the frame, so the two agree. Stage II reads the label whose displacement is nearest.
        """
        self._require_expression_model()
        if frame not in ("photo", "aligned"):
            raise LandmarkGANError(f"frame is 'photo' (the photo's pixels) or 'aligned' (the model's frame), got "
                                   f"{quoted(frame)}")
        points = _landmark_sets(landmarks)
        found = self.find_faces(image, align, faces)
        if frame == "photo" and all(face.matrix is not None for face in found.faces):
            chosen = _nearest_faces(points, found)
            found = found.chosen(chosen)
            points = [apply_transform(face.matrix, p) for face, p in zip(found.faces, points[np.argsort(chosen)])]
        elif len(points) != len(found.faces):
            raise LandmarkGANError(f"{len(points)} set(s) of landmarks for {len(found.faces)} face(s): in the aligned "
                                   "frame give one set per face, left to right")
        displacements = self.displacements(found)
        targets = [Target(d.source, np.asarray(p, dtype=np.float64), {d.nearest_label(p - d.source): 1.0})
                   for d, p in zip(displacements, points)]
        return self.render_found(found, targets, ControlLabel("your landmarks", "edited", {"landmarks": "given"}))

    def morph(self, image: ImageInput, expression: str | Mapping[str, float] | None = None,
              intensity: float | None = None, align: bool = True, faces: FaceChoice = "all",
              regions: Mapping[str, float] | None = None, like: ImageInput | None = None,
              frames: int = 16) -> list[PhotoTranslation]:
        """``frames`` translations from the faces' own expression (intensity 0) to the one asked (as in
        :meth:`__call__`), at evenly spaced intensities: the frames of a morph."""
        self._require_expression_model()
        if isinstance(frames, bool) or not isinstance(frames, numbers.Integral) or not 2 <= frames <= MAX_FRAMES:
            raise LandmarkGANError(f"a morph has from 2 to {MAX_FRAMES} frames, got {quoted(frames)}")
        control = self.control(expression, intensity, regions, like, align)
        found = self.find_faces(image, align, faces)
        displacements = self.displacements(found)
        return [self.render_control(found, control.scaled(k / (frames - 1)), displacements) for k in range(frames)]

    def restore(self, image: ImageInput, expression: str = RESTORED_EXPRESSION, intensity: int | None = None,
                align: bool = True, mask: MaskInput | None = None, degrade: bool = False) -> Translation:
        """Restore one face with a model of a restoration task (:attr:`task` colorize, inpaint or sketch);
        ``expression`` and ``intensity`` are the face's own (neutral by default).

        The input is what the model was trained on: a grey photo (a colour one is made grey first), a face whose
        hole is painted white or given as ``mask`` (an image or array of the input's size, white / True where
        the face is missing), or a pencil sketch. ``degrade=True`` makes that from a whole face as the training
        data were made: grey, the seeded hole over an eye, the nose or the mouth (placed from the face's landmarks,
        found when the photo is aligned), or the pencil sketch. ``result.source`` is the input the model read.
        """
        if self.task == "expression":
            raise LandmarkGANError("this model translates expressions; call pipe(image, expression) instead of restore")
        label = self.check_label(expression, intensity)
        if mask is not None and self.task != "inpaint":
            raise LandmarkGANError(f"a mask is for an inpainting model; this one was trained for {self.task}")
        if mask is not None and degrade:
            raise LandmarkGANError("give a mask or degrade=True (the seeded hole), not both")
        pixels = image if isinstance(image, torch.Tensor) else _pixels(image)
        face = self.prepare(pixels, align, str(image) if isinstance(image, (str, os.PathLike)) else None)
        face.face = self._restoration_input(face, pixels, mask, degrade)
        result = self.translate_faces(face.face[None], [label], _stacked(face.landmarks, 1))[0]
        result.source_landmarks, result.matrix = face.landmarks, face.matrix
        return result

    def _require_expression_model(self) -> None:
        if self.task != "expression":
            raise LandmarkGANError(f"this model restores faces ({self.task}) and keeps their expression: call "
                                   "pipe.restore(image) instead")

    def _restoration_input(self, face: AlignedInput, pixels: np.ndarray | torch.Tensor, mask: MaskInput | None,
                           degrade: bool) -> np.ndarray:
        """The aligned face as the restoration model reads it: grey, with its hole, or sketched (see restore)."""
        if self.task == "colorize":
            return greyscale(face.face)
        if self.task == "sketch":
            return sketch(face.face) if degrade else face.face
        if mask is not None:
            height, width = pixels.shape[-2:] if isinstance(pixels, torch.Tensor) else pixels.shape[:2]
            return fill_hole(face.face, self._mask_in_frame(_mask_pixels(mask, height, width), face))
        if degrade:
            if face.landmarks is None:
                raise LandmarkGANError("the seeded hole is placed from the face's landmarks, which are found when "
                                       "the photo is aligned: align it, or give the hole as a mask")
            return fill_hole(face.face, hole_mask(self.image_size, face.landmarks, HOLE_SEED))
        return face.face

    def _mask_in_frame(self, mask: np.ndarray, face: AlignedInput) -> np.ndarray:
        """A mask of the input image (H, W) bool, moved like the face into the model's S x S frame."""
        size = self.image_size
        grey = np.repeat(mask.astype(np.uint8)[..., None] * 255, 3, axis=2)
        if face.matrix is not None:
            moved = warp_image(grey, face.matrix, size, fill=(0, 0, 0))
        else:
            moved = np.asarray(Image.fromarray(grey).resize((size, size), Image.Resampling.BILINEAR))
        return moved[..., 0] >= 128

    def translate_all(self, image: ImageInput, align: bool = True, faces: FaceChoice = "all") -> list[PhotoTranslation]:
        """Translate the faces of a photo to every expression (and intensity) the model knows, in :meth:`labels`
        order."""
        self._require_expression_model()
        return self._translate_photo(image, self.labels(), align, faces)

    def _translate_photo(self, image: ImageInput, labels: list[tuple[str, int]], align: bool,
                         faces: FaceChoice) -> list[PhotoTranslation]:
        return self.translate_found(self.find_faces(image, align, faces), labels)

    def translate_found(self, photo: PhotoFaces, labels: Sequence[tuple[str, int]]) -> list[PhotoTranslation]:
        """Each label's translation of faces already found (:meth:`find_faces`), all faces and labels in one batch;
        the labels are checked here."""
        labels = [self.check_label(e, i) for e, i in labels]
        crops = np.stack([face.face for face in photo.faces])
        count = len(labels)
        aligned = all(face.matrix is not None for face in photo.faces)
        results = self.translate_faces(
            np.repeat(crops, count, axis=0), [label for _ in photo.faces for label in labels],
            np.stack([np.repeat(face.landmarks[None], count, axis=0) for face in photo.faces]).reshape(-1, 68, 2)
            if aligned else None,
            [face.matrix for face in photo.faces for _ in labels] if aligned else None)
        settings = self.warp_settings
        translations = []
        for k in range(count):
            mine = [results[f * count + k] for f in range(len(photo.faces))]
            for face, result in zip(photo.faces, mine):
                result.source_landmarks, result.box = face.landmarks, face.box
            translations.append(PhotoTranslation(mine, photo.pixels, settings, list(photo.skipped)))
        return translations

    @property
    def warp_settings(self) -> WarpSettings:
        """How this model's stage II warps faces (what pasting them back into a photo needs)."""
        c = self.model.config
        return WarpSettings(c.generator, c.warp_regularisation, max(c.image_size // 2, 32))


def _landmark_sets(landmarks: np.ndarray | Sequence) -> np.ndarray:
    """Landmarks for :meth:`LandmarkGANPipeline.edit` as (N, 68, 2) float64, checked."""
    try:
        points = np.asarray(landmarks, dtype=np.float64)
    except (TypeError, ValueError):
        raise LandmarkGANError(f"landmarks must be 68 (x, y) points per face, got {quoted(landmarks)}") from None
    points = points[None] if points.ndim == 2 else points
    if points.ndim != 3 or points.shape[1:] != (68, 2) or not len(points):
        raise LandmarkGANError(f"landmarks must be (68, 2) points for one face or (N, 68, 2) for several, got shape "
                               f"{np.shape(landmarks)}")
    if not np.isfinite(points).all():
        raise LandmarkGANError("the landmarks hold NaN or infinite coordinates")
    return points


def _nearest_faces(points: np.ndarray, photo: PhotoFaces) -> list[int]:
    """For each set of landmarks in the photo's pixels (N, 68, 2), the face found whose landmarks are nearest."""
    detected = np.stack([apply_transform(invert_transform(face.matrix), face.landmarks) for face in photo.faces])
    chosen = [int(np.linalg.norm(detected - p, axis=2).mean(axis=1).argmin()) for p in points]
    if len(set(chosen)) != len(chosen):
        raise LandmarkGANError("two sets of landmarks lie on the same face; give one set per face")
    return chosen


def _stacked(landmarks: np.ndarray | None, count: int) -> np.ndarray | None:
    """One face's landmarks repeated for a batch of ``count`` translations (None stays None)."""
    return None if landmarks is None else np.repeat(np.asarray(landmarks)[None], count, axis=0)


def _pixels(image: ImageInput) -> np.ndarray:
    """Any supported image input (path, PIL image, array) as RGB uint8 (H, W, 3)."""
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    if isinstance(image, Image.Image):
        return to_rgb(image)
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise LandmarkGANError(f"image arrays must be uint8 0..255, got {image.dtype}")
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
            raise LandmarkGANError(f"image arrays must be (H, W, 3) RGB or (H, W) grey, got shape {image.shape}")
        check_size(image.shape[1], image.shape[0], "the image", max_pixels=None)
        if image.ndim == 2 or image.shape[2] == 1:
            return np.repeat(image.reshape(image.shape[:2])[..., None], 3, axis=2)
        return np.ascontiguousarray(image[..., :3])
    raise LandmarkGANError(f"cannot read a {type(image).__name__} as an image; pass a path, PIL image, array or tensor")


def _mask_pixels(mask: MaskInput, height: int, width: int) -> np.ndarray:
    """An inpainting mask (an image file, PIL image or array; white / non-zero = missing) as (H, W) bool, checked
    to be the size of the image it belongs to."""
    if isinstance(mask, np.ndarray) and mask.ndim == 2:
        if not (mask.dtype == bool or np.issubdtype(mask.dtype, np.number)):
            raise LandmarkGANError(f"a mask array must hold booleans or numbers, got {mask.dtype}")
        values = mask.astype(bool) if mask.dtype == bool else np.nan_to_num(mask.astype(np.float64)) > 0
    else:
        values = _pixels(mask).max(axis=2) >= 128
    if values.shape != (height, width):
        raise LandmarkGANError(f"the mask is {values.shape[1]}x{values.shape[0]} but the image {width}x{height}; "
                               "give a mask of the image's size (white where the face is missing)")
    if not values.any():
        raise LandmarkGANError("the mask marks nothing as missing; paint the hole white (or True)")
    return values


def _checked_detector(detector: str | object) -> str | object:
    """A detector name, checked, or a detector object (anything with ``detect_one``)."""
    if isinstance(detector, str) and detector not in DETECTORS:
        raise LandmarkGANError(f"unknown face detector {quoted(detector)}; use one of: {', '.join(DETECTORS)}")
    if not isinstance(detector, str) and not hasattr(detector, "detect_one"):
        raise LandmarkGANError(f"detector must be one of {', '.join(DETECTORS)} or an object with detect_one, "
                               f"got {quoted(detector)}")
    return detector
