"""The LandmarkGAN trainer: stage I (Gl/Dl) and stage II (Ge/De) trained end to end, alternating.

Each iteration takes one batch and makes four optimiser steps, in the paper's order: with
Ge/De fixed, a Dl step then a Gl step; then, with Gl/Dl fixed, a De step then a Ge step. As in
pix2pix, each generator runs once per iteration: its discriminator's step judges the output
detached, its own step the same output through the just-updated discriminator. Two switches beyond the
paper: ``train.lr_decay_steps`` (pix2pix's linear decay of the learning rate to 0 at the end) and
``train.ema`` (an average of the generators' weights, the model a finished run is used with).
Checkpoints are atomic and hold everything needed to continue exactly (weights, optimiser
states, RNG states, position in the data), so ``--resume`` gives the same result as a run that
was never stopped; Ctrl-C or SIGTERM saves one before exiting.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from landmarkgan.data.dataset import ExpressionPairDataset
from landmarkgan.data.pairs import balanced_targets
from landmarkgan.data.images import save_image
from landmarkgan.devices import resolve_device
from landmarkgan.errors import LandmarkGANError
from landmarkgan.models.landmarkgan import LandmarkGAN
from landmarkgan.models.weights import load_into
from landmarkgan.training import distributed
from landmarkgan.training.checkpoint import Progress, latest_checkpoint, load_checkpoint, load_ema, save_checkpoint
from landmarkgan.training.config import Config
from landmarkgan.training.ema import WeightAverage
from landmarkgan.training.init import init_from
from landmarkgan.training.jitter import similarity_jitter
from landmarkgan.training.photometric import photometric_augment
from landmarkgan.training.sampler import ResumableSampler
from landmarkgan.training.samples import sample_grid
from landmarkgan.training.validation import heldout_metrics

log = logging.getLogger("landmarkgan.train")
LOG_NAME = "train_log.jsonl"

Batch = dict[str, torch.Tensor]
OPTIMISED = ("gl", "dl", "ge", "de")


class NonFiniteLoss(LandmarkGANError):
    """A loss became NaN or Inf; the run stops and keeps its last good checkpoint."""


class _Step(nn.Module):
    """What one optimiser step differentiates (a discriminator's loss, a generator's forward pass) as a module
    around the network it trains, so DDP syncs that network's gradients."""

    def __init__(self, trainable: nn.Module, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.trainable = trainable
        self.fn = fn

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Stop gradients into ``module`` for a generator step (pix2pix's set_requires_grad(D, False))."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def lr_factor(step: int, total: int, decay_steps: int) -> float:
    """pix2pix's schedule: the share of ``train.lr`` for the iteration after ``step`` of ``total``. 1 until the
    last ``decay_steps`` iterations, then falling linearly, to 1 / decay_steps on the last one (0: always 1)."""
    return 1.0 if decay_steps <= 0 else min(1.0, (total - step) / decay_steps)


def compiled_modules(networks: Iterable[nn.Module]) -> Iterator[nn.Module]:
    """The modules ``train.compile`` compiles: each network, or each member of a ModuleList of them (the dual
    discriminators, De with the expression classifier), since a ModuleList has no forward of its own."""
    for net in networks:
        if isinstance(net, nn.ModuleList):
            yield from compiled_modules(net)
        else:
            yield net


class Trainer:
    """Builds the data, model, optimisers and (optionally) DDP from a Config, then trains."""

    def __init__(self, config: Config, resume: bool = False, progress_bar: bool = True) -> None:
        self.config = config
        tc = config.train
        if not tc.data:
            raise LandmarkGANError("no training data: pass --data DIR (a folder with manifest.jsonl)")
        self.run_dir = Path(tc.out)
        self.device = resolve_device(tc.device, int(os.environ.get("LOCAL_RANK", "0")), option="train.device")
        if self.device.type == "cuda":  # NCCL's barrier, pinned memory and compiled kernels use the current GPU
            torch.cuda.set_device(self.device)
        self.dist = distributed.init_distributed(self.device.type)
        if self.dist.enabled and self.dist.is_main:
            log.info("distributed: %d process(es), backend %s", self.dist.world_size, torch.distributed.get_backend())
        self.progress_bar = progress_bar and self.dist.is_main
        torch.manual_seed(tc.seed)

        mc = config.model
        self.dataset = ExpressionPairDataset(
            tc.data, split="train", image_size=mc.image_size, pairs=tc.pairs, num_pairs=tc.num_pairs, seed=tc.seed,
            cache_mb=tc.cache_mb, task=mc.task,
        )
        if tc.balance_targets:
            self.dataset.pairs = balanced_targets(self.dataset.pairs, self.dataset.samples)
        if list(self.dataset.expressions) != mc.expressions:
            if resume:
                raise LandmarkGANError(
                    f"the data has expressions {list(self.dataset.expressions)} but the run being resumed was "
                    f"trained on {mc.expressions}; resume with the data it was trained on")
            log.info("model.expressions set from the data: %s", ", ".join(self.dataset.expressions))
            mc.expressions = list(self.dataset.expressions)
        if mc.num_intensities and not self.dataset.num_intensities:
            raise LandmarkGANError("model.num_intensities is set but the data has no intensity levels; set model.num_intensities=0")
        self.heldout = self._heldout_dataset()

        self.model = LandmarkGAN(mc)
        self.model.fit_pdm(self.dataset.train_landmarks())
        if tc.init and not resume:
            init_from(self.model, tc.init)
        self.model.to(self.device)
        if tc.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.identity_net = self._identity_net() if mc.identity_loss else None
        names = OPTIMISED if mc.has_stage1 else ("ge", "de")  # the baselines have no stage I
        # the networks each optimiser trains; the "de" step also trains the expression classifier Dc, if any
        self.networks = {name: self.model.stage2_critics if name == "de" else getattr(self.model, name) for name in names}
        if tc.compile:
            for net in compiled_modules(self.networks.values()):
                net.compile()
            if self.identity_net is not None:
                self.identity_net.compile()

        betas = (tc.beta1, tc.beta2)
        self.optimizers = {
            name: torch.optim.Adam(net.parameters(), lr=tc.lr, betas=betas, fused=True)
            for name, net in self.networks.items()
        }
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=tc.amp == "fp16")
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(tc.amp)
        self.steps = self._steps()
        self.ema = WeightAverage(self.model, tc.ema) if tc.ema else None

        self.progress = Progress()
        if resume:
            self._resume()
        elif latest_checkpoint(self.run_dir) is not None:
            raise LandmarkGANError(
                f"run folder {self.run_dir} already holds checkpoints; continue it with --resume or choose a new --out"
            )
        if self.dist.is_main:
            self.config.save(self.run_dir / "config.yaml")
        self.sampler = ResumableSampler(len(self.dataset), tc.batch_size, tc.seed, self.dist.rank, self.dist.world_size)
        if self.sampler.batches_per_epoch() == 0:
            raise LandmarkGANError(
                f"{len(self.dataset)} training pairs are fewer than one batch of {tc.batch_size} per process; lower train.batch_size"
            )
        self.writer = self._tensorboard()
        self._stop_requested = False
        self._running: dict[str, torch.Tensor] = {}  # logged values summed since the last log line
        self._identity_cache: dict[int, torch.Tensor] = {}  # F(y) per manifest row

    # -- set-up -------------------------------------------------------------------------------
    def _heldout_dataset(self) -> ExpressionPairDataset | None:
        tc, mc = self.config.train, self.config.model
        try:
            return ExpressionPairDataset(
                tc.data, split="test", image_size=mc.image_size, pairs="sample", num_pairs=tc.heldout_pairs, seed=tc.seed,
                expressions=self.dataset.expressions, task=mc.task,
            )
        except LandmarkGANError:
            return None  # a data set without test pairs: samples come from training pairs

    def _identity_net(self) -> nn.Module:
        from landmarkgan.models.identity import AlignedFaceEmbedding, load_face_recognition_net

        net = load_face_recognition_net(self.config.train.identity_weights)  # frozen, eval mode
        return AlignedFaceEmbedding(net).to(self.device)

    def _steps(self) -> dict[str, nn.Module]:
        """Per network: the discriminators' losses and the generators' forward passes (their losses are taken
        from the output, outside DDP's forward, as with any DDP model)."""
        m, nets = self.model, self.networks
        steps: dict[str, nn.Module] = {"de": _Step(nets["de"], m.stage2_discriminator_loss),
                                       "ge": _Step(nets["ge"], m.stage2_forward)}
        if m.gl is not None:
            steps |= {"dl": _Step(nets["dl"], m.stage1_discriminator_loss), "gl": _Step(nets["gl"], m.stage1_forward)}
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            # without the landmark loss, Gl's PDM head gets no gradient: only then are there unused parameters
            unused = not self.config.model.landmark_loss
            steps = {k: DistributedDataParallel(s, device_ids=ids, find_unused_parameters=unused) for k, s in steps.items()}
        return steps

    def _tensorboard(self):
        if not (self.config.train.tensorboard and self.dist.is_main):
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.warning("tensorboard is not installed; scalars go to the log only (pip install tensorboard)")
            return None
        return SummaryWriter(str(self.run_dir / "tensorboard"))

    # -- checkpoints --------------------------------------------------------------------------
    def _training_state(self) -> dict:
        state = {
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "scaler": self.scaler.state_dict(),
            "rng_cpu": torch.get_rng_state(),
        }
        if self.device.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def save(self) -> Path | None:
        """Write a checkpoint of the current state (rank 0 writes; every rank waits for it)."""
        path = None
        distributed.average_buffers(self.model, self.dist)
        if self.dist.is_main:
            path = save_checkpoint(
                self.run_dir, self.progress, self.model.state_dict(), self._training_state(),
                yaml.safe_dump(self.config.to_dict(), sort_keys=False), keep=self.config.train.keep_checkpoints,
                ema=self.ema.state_dict() if self.ema is not None else None,
            )
            self.config.save(self.run_dir / "config.yaml")
        distributed.barrier(self.dist)
        return path

    def _resume(self) -> None:
        ckpt = latest_checkpoint(self.run_dir)
        if ckpt is None:
            log.info("no checkpoint in %s: starting from scratch", self.run_dir)
            return
        progress, weights, state = load_checkpoint(ckpt)
        load_into(self.model, weights, ckpt)
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng_cpu"])
        if "rng_cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng_cuda"], self.device)
        if self.ema is not None:
            averaged = load_ema(ckpt)
            if averaged is None:
                log.warning("%s has no weight average: train.ema starts averaging from its weights", ckpt)
                self.ema = WeightAverage(self.model, self.config.train.ema)
            else:
                self.ema.load_state_dict(averaged)
        self.progress = progress
        log.info("resumed from %s at step %d (epoch %d)", ckpt, progress.step, progress.epoch)

    # -- one iteration ------------------------------------------------------------------------
    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _optimise(self, name: str, loss_fn: Callable[[], tuple[torch.Tensor, dict]], freeze: nn.Module | None
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One optimiser step of network ``name`` on ``loss_fn()``: (its loss, its logged parts), detached, on the device."""
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        with frozen(freeze) if freeze is not None else contextlib.nullcontext():
            with self._autocast():
                loss, parts = loss_fn()
            self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        return loss.detach(), {f"{name}/{k}": v for k, v in parts.items()}

    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Dl, Gl (stage I, Ge/De fixed), then De, Ge (stage II, Gl/Dl fixed); each generator runs once.

        The losses are checked once per iteration, after the four steps (one device synchronisation):
        a NaN or Inf stops the run before anything is saved, so the last checkpoint stays the last good one.
        """
        m, nets, steps = self.model, self.networks, self.steps
        losses, logs = {}, {}

        def step(name: str, loss_fn: Callable[[], tuple[torch.Tensor, dict]], freeze: nn.Module | None = None) -> None:
            losses[name], parts = self._optimise(name, loss_fn, freeze)
            logs.update(parts)

        if "gl" in nets:
            jitter = self.config.train.stage1_jitter
            moved = similarity_jitter(batch, jitter) if jitter else batch
            with self._autocast():
                stage1 = steps["gl"](moved)
            step("dl", lambda: steps["dl"](moved, fake=stage1.image))  # the loss judges it detached
            step("gl", lambda: m.stage1_generator_loss(moved, stage1=stage1), freeze=nets["dl"])
        if self.identity_net is not None:
            batch = {**batch, "target_identity": self._target_identity(batch)}
        if self.config.train.photometric:  # after F(y), which is of the clean target, cached
            batch = photometric_augment(batch, self.config.train.photometric)
        with self._autocast():
            out = steps["ge"](batch)
        step("de", lambda: steps["de"](batch, y_hat=out["image"]))  # the loss judges it detached
        step("ge", lambda: m.stage2_generator_loss(batch, identity_net=self.identity_net, out=out), freeze=nets["de"])
        self.scaler.update()
        if not distributed.all_finite(torch.stack([v.float() for v in losses.values()]), self.dist):
            bad = [f"the {n} loss became {v.item()}" for n, v in losses.items() if not torch.isfinite(v)]
            raise NonFiniteLoss(
                f"{'; '.join(bad) or 'a loss on another process became NaN or Inf'} at step {self.progress.step}; "
                f"the run stops and keeps its last good checkpoint in {self.run_dir / 'checkpoints'} "
                "(lower train.lr or use train.amp=off)"
            )
        return logs

    @torch.no_grad()
    def _target_identity(self, batch: Batch) -> torch.Tensor:
        """F(y) of the batch's real targets: F is frozen and y a data set image, so each is computed once."""
        rows = batch["target_index"].tolist()
        missing = [k for k, row in enumerate(rows) if row not in self._identity_cache]
        if missing:
            features = self.identity_net(batch["y"][missing].float())
            for k, f in zip(missing, features):
                self._identity_cache[rows[k]] = f
        return torch.stack([self._identity_cache[row] for row in rows])

    def _to_device(self, batch: Batch) -> Batch:
        """The batch on the training device; the manifest rows (``*_index``) stay on the CPU, where the
        F(y) cache reads them, so looking them up costs no device synchronisation."""
        out = {}
        for k, v in batch.items():
            if isinstance(v, torch.Tensor) and not k.endswith("_index"):
                v = v.to(self.device, non_blocking=True)
                if self.config.train.channels_last and v.dim() == 4:
                    v = v.contiguous(memory_format=torch.channels_last)
            out[k] = v
        return out

    # -- the loop -----------------------------------------------------------------------------
    def _request_stop(self, signum, frame) -> None:  # noqa: ARG002 (signal handler signature)
        self._stop_requested = True

    @property
    def stopped_early(self) -> bool:
        """Whether the last :meth:`train` was stopped (Ctrl-C or SIGTERM) before its budget: its checkpoint is
        saved, and the run continues with ``resume=True``."""
        return self._stop_requested

    def train(self) -> Progress:
        """Train until ``epochs`` (or ``max_steps``) are done; returns where training stopped."""
        tc = self.config.train
        per_epoch = self.sampler.batches_per_epoch()
        total = tc.epochs * per_epoch if tc.max_steps is None else min(tc.max_steps, tc.epochs * per_epoch)
        previous = signal.signal(signal.SIGTERM, self._request_stop) if self.dist.is_main else None
        bar = tqdm(total=total, initial=self.progress.step, disable=not self.progress_bar, desc="train", unit="step", dynamic_ncols=True)
        self.model.train()
        # one loader for the whole run: its worker processes, and the images they cache, live across
        # epochs; the sampler (read in this process) says where each epoch starts. A private generator:
        # iterating the loader must not draw from the global RNG (dropout's), or a resumed run would
        # diverge from an uninterrupted one (the data set itself draws no random numbers)
        loader = DataLoader(
            self.dataset, batch_size=tc.batch_size, sampler=self.sampler, num_workers=tc.num_workers,
            pin_memory=self.device.type == "cuda", persistent_workers=tc.num_workers > 0,
            generator=torch.Generator().manual_seed(tc.seed),
        )
        try:
            while self.progress.step < total and not self._stop_requested:
                self.sampler.set_position(self.progress.epoch, self.progress.batch_in_epoch)
                for batch in loader:
                    self._set_lr(lr_factor(self.progress.step, total, tc.lr_decay_steps))
                    logs = self.train_step(self._to_device(batch))
                    if self.ema is not None:
                        self.ema.update()
                    self.progress.step += 1
                    self.progress.batch_in_epoch += 1
                    if self.progress.batch_in_epoch == per_epoch:
                        self.progress.epoch += 1
                        self.progress.batch_in_epoch = 0
                    self._after_step(logs, bar)
                    if self.progress.step >= total or self._stop_requested:
                        break
        except KeyboardInterrupt:
            self._stop_requested = True
        finally:
            bar.close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        path = self.save()
        if self.dist.is_main:
            why = "stopped early" if self._stop_requested else "done"
            log.info("%s at step %d; checkpoint %s", why, self.progress.step, path)
        if self.writer is not None:
            self.writer.close()
        return self.progress

    def _set_lr(self, factor: float) -> None:
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = self.config.train.lr * factor

    def _after_step(self, logs: dict[str, torch.Tensor], bar: tqdm) -> None:
        tc, step = self.config.train, self.progress.step
        for k, v in logs.items():  # summed on the device; read back only when logged
            self._running[k] = self._running.get(k, 0.0) + v
        if step % tc.log_every == 0 and self.dist.is_main:
            means = {k: float(v) / tc.log_every for k, v in self._running.items()}
            bar.set_postfix({k.replace("/", ":"): f"{v:.3g}" for k, v in means.items() if k.endswith("total")})
            self._log_record({"step": step, "epoch": self.progress.epoch, "losses": means})
            if self.writer is not None:
                for k, v in means.items():
                    self.writer.add_scalar(f"loss/{k}", v, step)
        if step % tc.log_every == 0:
            self._running = {}
        if step % tc.sample_every == 0 and self.dist.is_main:
            self.write_samples()
        if step % tc.checkpoint_every == 0:
            self.save()
        bar.update(1)

    def _log_record(self, record: dict) -> None:
        """Append one JSON line to the run's ``train_log.jsonl`` (losses, held-out metrics)."""
        with open(self.run_dir / LOG_NAME, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def write_samples(self) -> Path:
        """Save a grid (source | generated landmarks | output | target) of held-out pairs, and log the
        held-out landmark error, L1 and PSNR; with ``train.ema``, of the averaged generators."""
        source = self.heldout if self.heldout is not None else self.dataset
        loader = DataLoader(source, batch_size=min(4, len(source)), generator=torch.Generator())  # keeps the global RNG
        batch = self._to_device(next(iter(loader)))
        was_training = self.model.training
        self.model.eval()
        with self.ema.applied() if self.ema is not None else contextlib.nullcontext():
            with torch.no_grad(), self._autocast():
                out = self.model.translate_batch(batch)
            metrics = heldout_metrics(self.model, source, self.device, max_pairs=len(source))
        self.model.train(was_training)
        grid = sample_grid(batch, out)
        path = save_image(grid, self.run_dir / "samples" / f"step_{self.progress.step:08d}.png")
        which = "held-out" if self.heldout is not None else "training"
        log.info("step %d, %s pairs: landmark error %.2f px, L1 %.3f, PSNR %.2f dB; samples %s", self.progress.step,
                 which, metrics["landmark_error_px"], metrics["l1"], metrics["psnr"], path)
        self._log_record({"step": self.progress.step, "heldout": metrics})
        if self.writer is not None:
            self.writer.add_image("samples", np.ascontiguousarray(grid), self.progress.step, dataformats="HWC")
            for k, v in metrics.items():
                if math.isfinite(v):
                    self.writer.add_scalar(f"heldout/{k}", v, self.progress.step)
        return path
