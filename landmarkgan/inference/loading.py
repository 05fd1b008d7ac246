"""Finding a trained model: the built-in default, a model folder, a training run or one of its checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

from landmarkgan.assets import asset_path
from landmarkgan.data.degradations import TASKS
from landmarkgan.errors import LandmarkGANError, quoted
from landmarkgan.models.landmarkgan import MODEL_CONFIG_NAME, LandmarkGAN
from landmarkgan.models.weights import load_into, load_weights

DEFAULT_MODEL = "default_model"


def default_model_path() -> Path:
    """The built-in default model folder shipped inside the package."""
    return asset_path(DEFAULT_MODEL)


def load_model(path: str | os.PathLike | None = None) -> LandmarkGAN:
    """A trained model in eval mode on the CPU, from:

    * None: the built-in default model;
    * a model folder (``config.json`` + ``model.safetensors``, see ``LandmarkGAN.save_pretrained``);
    * a training run folder (its newest checkpoint) or one checkpoint folder; a run trained with
      ``train.ema`` gives its generators' averaged weights (``ema.safetensors``), the ones it is meant to be used with.
    """
    folder = default_model_path() if path is None else Path(path)
    if not folder.exists():
        what = "the built-in default model" if path is None else "model folder"
        raise LandmarkGANError(f"{what} {folder} does not exist; pass --model with a model folder or a training run")
    try:
        return _load(folder)
    except (MemoryError, RuntimeError) as e:  # a config within the limits that this machine still cannot hold
        if not isinstance(e, MemoryError) and "alloc" not in str(e):
            raise
        raise LandmarkGANError(f"not enough memory to build the model in {folder}; use a machine with more "
                               "memory or a smaller model") from None


def check_task(model: LandmarkGAN, task: str | None) -> None:
    """Refuse ``model`` for ``task`` when it was trained for another one (``task=None`` takes any model)."""
    if task is None or task == model.config.task:
        return
    if task not in TASKS:
        raise LandmarkGANError(f"unknown task {quoted(task)}; choose one of {', '.join(TASKS)}")
    raise LandmarkGANError(
        f"this model was trained for the {model.config.task} task, not {task}: use it with --task "
        f"{model.config.task} (task={model.config.task!r}), or train a model with model.task={task}")


def _load(folder: Path) -> LandmarkGAN:
    if (folder / MODEL_CONFIG_NAME).is_file():
        return LandmarkGAN.from_pretrained(folder)
    from landmarkgan.training.checkpoint import CONFIG_NAME, latest_checkpoint, load_ema, read_progress
    from landmarkgan.training.config import Config
    from landmarkgan.training.ema import averaged_weights

    checkpoint = latest_checkpoint(folder) if (folder / "checkpoints").is_dir() else folder
    if checkpoint is None or not (checkpoint / CONFIG_NAME).is_file():
        raise LandmarkGANError(
            f"{folder} is neither a model folder (with {MODEL_CONFIG_NAME}) nor a training run or checkpoint "
            "(with config.yaml); pass the folder `landmarkgan train --out` wrote or one made by save_pretrained"
        )
    config = Config.load(checkpoint / CONFIG_NAME)
    progress = read_progress(checkpoint)
    model = LandmarkGAN(config.model)
    weights = load_weights(checkpoint)  # translation never opens the training state
    averaged = load_ema(checkpoint)
    if averaged is not None:
        weights |= averaged_weights(averaged)
    load_into(model, weights, checkpoint)
    model.metadata = {"checkpoint": str(checkpoint), "step": progress.step, "data": config.train.data,
                      "weights": "average" if averaged is not None else "last"}
    return model.eval()
