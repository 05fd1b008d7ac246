"""Model folders, the translation pipeline and ``landmarkgan translate``, with bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from landmarkgan.cli import main
from landmarkgan.data.images import load_image, save_image
from landmarkgan.data.synthetic import render_face, sample_identity
from landmarkgan.errors import LandmarkGANError
from landmarkgan.inference import LandmarkGANPipeline
from landmarkgan.inference.loading import load_model
from landmarkgan.landmarks.ibug68 import ALIGNED_TEMPLATE, STABLE_POINTS
from landmarkgan.models import LandmarkGAN, ModelConfig

from helpers import SIZE, tiny_model

ASTRONAUT = data.astronaut()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    tiny_model().save_pretrained(folder, metadata={"made_by": "test"})
    return folder


def test_save_and_load_round_trip(model_dir: Path, tmp_path: Path) -> None:
    original = tiny_model()
    loaded = LandmarkGAN.from_pretrained(model_dir)
    assert not loaded.training and loaded.metadata == {"made_by": "test"}
    assert loaded.config == original.config
    for (name, a), (_, b) in zip(original.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    record = json.loads((model_dir / "config.json").read_text())
    assert record["format"] == "landmarkgan-model/1" and record["model"]["image_size"] == SIZE


def test_generators_only_half_precision_folder(tmp_path: Path) -> None:
    model = tiny_model().eval()
    model.save_pretrained(tmp_path, discriminators=False, dtype=torch.float16)
    loaded = LandmarkGAN.from_pretrained(tmp_path)
    keys = set(__import__("safetensors.torch", fromlist=["load_file"]).load_file(tmp_path / "model.safetensors"))
    assert not any(k.startswith(("dl.", "de.")) for k in keys) and any(k.startswith("ge.") for k in keys)
    x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    le, li = torch.tensor([1, 2]), torch.tensor([4, 1])
    with torch.no_grad():
        a, b = model.translate(x, le, li), loaded.translate(x, le, li)
    assert (a["image"] - b["image"]).abs().max() < 0.02  # float16 weights, float32 maths
    assert (a["landmarks"] - b["landmarks"]).abs().max() < 0.05


def test_damaged_model_folders_are_named(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(LandmarkGANError, match="does not exist"):
        LandmarkGAN.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(LandmarkGANError, match="no config.json"):
        LandmarkGAN.from_pretrained(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(LandmarkGANError, match="not readable JSON"):
        LandmarkGAN.from_pretrained(broken)
    (broken / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(LandmarkGANError, match="not a landmarkgan model config"):
        LandmarkGAN.from_pretrained(broken)
    (broken / "config.json").write_text((model_dir / "config.json").read_text())
    (broken / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes()[:500])
    with pytest.raises(LandmarkGANError, match="truncated or corrupt"):
        LandmarkGAN.from_pretrained(broken)
    other = tmp_path / "other"
    tiny_model(ngf=16).save_pretrained(other)
    (broken / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    with pytest.raises(LandmarkGANError, match="do not fit"):
        LandmarkGAN.from_pretrained(broken)
    with pytest.raises(LandmarkGANError, match="neither a model folder"):
        load_model(tmp_path)
    unfitted = LandmarkGAN(ModelConfig(image_size=SIZE, ngf=8, ndf=8, n_layers_D=2))
    with pytest.raises(LandmarkGANError, match="not fitted"):
        unfitted.save_pretrained(tmp_path / "unfitted")


@pytest.fixture(scope="module")
def pipe(model_dir: Path) -> LandmarkGANPipeline:
    return LandmarkGANPipeline.from_pretrained(model_dir, device="cpu")


def test_labels_and_their_checks(pipe: LandmarkGANPipeline) -> None:
    assert pipe.intensities == [1, 2, 3, 4] and pipe.image_size == SIZE
    assert len(pipe.labels()) == 1 + 6 * 4 and pipe.labels()[0] == ("neutral", 0)
    assert pipe.check_label("Happiness", None) == ("happy", 4)
    assert pipe.check_label("SU", 2) == ("surprise", 2)
    with pytest.raises(LandmarkGANError, match="unknown expression 'bored'") as error:
        pipe.check_label("bored", None)
    assert str(error.value).endswith("use one of: " + ", ".join(pipe.expressions))  # what this model knows only
    assert "contempt" not in str(error.value)
    with pytest.raises(LandmarkGANError, match="does not know 'contempt'"):
        pipe.check_label("contempt", None)
    with pytest.raises(LandmarkGANError, match="intensity must be one of"):
        pipe.check_label("happy", 7)
    with pytest.raises(LandmarkGANError, match="neutral has no intensity"):
        pipe.check_label("neutral", 2)


def test_photo_is_detected_aligned_and_translated(pipe: LandmarkGANPipeline) -> None:
    result = pipe(Image.fromarray(ASTRONAUT), "surprise", 3)
    assert result.image.shape == result.landmark_image.shape == result.source.shape == (SIZE, SIZE, 3)
    assert result.landmarks.shape == (68, 2) and (result.expression, result.intensity) == ("surprise", 3)
    stable = (result.source_landmarks[list(STABLE_POINTS)] + 0.5) / SIZE
    assert np.abs(stable - ALIGNED_TEMPLATE).mean() < 0.03  # the photo's face sits in the model's frame
    record = result.to_json()
    assert (record["width"], record["height"]) == (512, 512) and len(record["faces"]) == 1
    in_photo = np.array(record["faces"][0]["landmarks"])
    assert ((in_photo > [150, 50]) & (in_photo < [300, 230])).all()  # back on the astronaut's face
    assert np.allclose(in_photo, np.array(result.faces[0].to_json()["landmarks_in_photo"]), atol=0.01)
    assert result.overlay().shape == (SIZE, SIZE, 3)


def test_a_translation_needs_its_expression_and_prints_in_one_line(pipe: LandmarkGANPipeline) -> None:
    """pipe(image) without an expression is an error, not a silent default; a result's repr names what it holds
    instead of printing its pixel arrays."""
    face, _ = render_face(sample_identity(np.random.default_rng(3)), "neutral", 0, SIZE)
    with pytest.raises(LandmarkGANError, match="give the expression to change to, or like= another photo"):
        pipe(face, align=False)
    result = pipe(face, "sad", 2, align=False)
    assert repr(result) == f"PhotoTranslation(sad 2, 1 face(s) in a {SIZE}x{SIZE} photo)"
    assert repr(result.faces[0]) == f"Translation(sad 2, {SIZE}x{SIZE} face)"
    found = pipe(ASTRONAUT, "happy").faces[0]
    assert repr(found).startswith("Translation(happy 4, ") and f" face at {found.box})" in repr(found)


def test_inputs_of_every_kind_agree(pipe: LandmarkGANPipeline, tmp_path: Path) -> None:
    face, _ = render_face(sample_identity(np.random.default_rng(3)), "neutral", 0, SIZE)
    path = save_image(face, tmp_path / "face.png")
    tensor = torch.from_numpy(np.array(face)).permute(2, 0, 1).float() / 127.5 - 1
    outputs = [pipe(x, "happy", 2, align=False).image for x in (path, str(path), face, Image.fromarray(face))]
    outputs.append(pipe(tensor, "happy", 2).image)
    outputs.append(pipe(tensor[None], "happy", 2).image)
    for out in outputs[1:]:
        assert np.array_equal(out, outputs[0])
    everything = pipe.translate_all(face, align=False)
    assert [(r.expression, r.intensity) for r in everything] == pipe.labels()
    happy2 = next(r for r in everything if (r.expression, r.intensity) == ("happy", 2))
    assert np.abs(happy2.image.astype(int) - outputs[0].astype(int)).max() <= 1  # batch of 25 vs batch of 1


def test_bad_inputs_get_clear_errors(pipe: LandmarkGANPipeline, tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(LandmarkGANError, match="cannot read"):
        pipe(text, "happy")
    truncated = tmp_path / "cut.jpg"
    Image.fromarray(ASTRONAUT).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:3000])
    with pytest.raises(LandmarkGANError, match="corrupt or truncated"):
        pipe(truncated, "happy")
    huge = tmp_path / "huge.png"
    Image.new("1", (10000, 6000)).save(huge)
    with pytest.raises(LandmarkGANError, match="10000x6000 pixels .* more than the limit of 50 megapixels"):
        pipe(huge, "happy")
    with pytest.raises(LandmarkGANError, match="no face found"):
        pipe(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8), "happy")
    face = ASTRONAUT[20:276, 90:346]
    with pytest.raises(LandmarkGANError, match="2 faces found"):
        pipe.prepare(np.concatenate([face, face[:, ::-1]], axis=1))  # one face is asked for (restoring)
    with pytest.raises(LandmarkGANError, match="has 2 face.*there is no face 5"):
        pipe(np.concatenate([face, face[:, ::-1]], axis=1), "happy", faces=[5])
    with pytest.raises(LandmarkGANError, match="faces must be 'all', 'largest'"):
        pipe(face, "happy", faces="everyone")
    with pytest.raises(LandmarkGANError, match="must be a square"):
        pipe(ASTRONAUT[:, :300], "happy", align=False)
    with pytest.raises(LandmarkGANError, match="tensor input must be one float image"):
        pipe(torch.zeros(2, 3, SIZE, SIZE), "happy")
    with pytest.raises(LandmarkGANError, match="uint8"):
        pipe(np.zeros((SIZE, SIZE, 3), np.float32), "happy")
    with pytest.raises(LandmarkGANError, match="cannot read a dict"):
        pipe({}, "happy")


def test_cli_translate_one_all_and_batches(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    photo = save_image(ASTRONAUT, tmp_path / "in" / "astronaut.png")
    assert main(["translate", str(photo), "-e", "angry", "--intensity", "2", "-o", str(out), "--model", str(model_dir)]) == 0
    assert load_image(out / "astronaut_angry2.png").shape == ASTRONAUT.shape  # the whole photo, at its size
    assert f"astronaut.png: 1 face changed -> {out / 'astronaut_angry2.png'}" in capsys.readouterr().out
    record = json.loads((out / "astronaut_angry2.json").read_text())
    assert record["expression"] == "angry" and (record["width"], record["height"]) == (512, 512)
    assert len(record["faces"]) == 1 and len(record["faces"][0]["landmarks"]) == 68
    assert not (out / "astronaut_angry2_face0.png").exists()  # crops only on request

    assert main(["translate", str(photo), "-e", "angry", "--crops", "-o", str(out), "--model", str(model_dir)]) == 0
    assert load_image(out / "astronaut_angry4_face0.png").shape == (SIZE, SIZE, 3)
    crop = json.loads((out / "astronaut_angry4_face0_landmarks.json").read_text())
    assert len(crop["landmarks"]) == 68 and "landmarks_in_photo" in crop
    assert (out / "astronaut_angry4_face0_overlay.png").is_file()

    assert main(["translate", str(photo), "--all", "-o", str(out), "--model", str(model_dir)]) == 0
    folder = out / "astronaut"
    assert len(list(folder.glob("astronaut_*.png"))) == 25 and len(list(folder.glob("astronaut_*.json"))) == 25
    sheet = load_image(folder / "astronaut_sheet.jpg")
    assert sheet.shape[0] > 5 * 256 and sheet.shape[1] > 8 * 256  # input row + 4 levels, input column + 7

    noise = save_image(np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8), tmp_path / "in" / "noise.png")
    capsys.readouterr()
    assert main(["translate", str(tmp_path / "in"), "-e", "sad", "-o", str(out), "--model", str(model_dir)]) == 1
    printed = capsys.readouterr().out
    assert "translated 1 of 2" in printed and f"skipped {noise}: no face found" in printed
    assert main(["translate", str(tmp_path / "in" / "*.png"), "-e", "fear", "--intensity", "1", "-o", str(out),
                 "--model", str(model_dir)]) == 1
    assert (out / "astronaut_fear1.png").is_file()


def test_cli_translate_gives_inputs_that_share_a_name_their_own_outputs(model_dir: Path, tmp_path: Path) -> None:
    """a/me.png, b/me.png, b/me.jpg in one run: each is written under its own name, none overwritten."""
    from landmarkgan.cli.translate import output_stems

    faces = [render_face(sample_identity(np.random.default_rng(seed)), "neutral", 0, SIZE)[0] for seed in (1, 2, 3)]
    paths = [save_image(faces[0], tmp_path / "a" / "me.png"), save_image(faces[1], tmp_path / "b" / "me.png"),
             tmp_path / "b" / "me.jpg", save_image(faces[0], tmp_path / "b" / "you.png")]
    Image.fromarray(faces[2]).save(paths[2], quality=95)
    assert list(output_stems(paths).values()) == ["a_me_png", "b_me_png", "b_me_jpg", "you"]
    assert list(output_stems([paths[0], paths[1]]).values()) == ["a_me", "b_me"]
    assert list(output_stems([paths[1], paths[2]]).values()) == ["me_png", "me_jpg"]
    assert list(output_stems([paths[0], paths[0].with_name("ME.png")]).values()) == ["a_me_png", "a_ME_png_2"]
    out = tmp_path / "out"
    assert main(["translate", *map(str, paths), "-e", "sad", "--no-align", "-o", str(out), "--model", str(model_dir)]) == 0
    written = {p.name for p in out.iterdir()}
    assert {"a_me_png_sad4.png", "b_me_png_sad4.png", "b_me_jpg_sad4.jpg", "you_sad4.png"} <= written
    assert json.loads((out / "b_me_jpg_sad4.json").read_text())["input"] == str(paths[2])
    assert not np.array_equal(load_image(out / "a_me_png_sad4.png"), load_image(out / "b_me_png_sad4.png"))


def test_cli_translate_errors(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    photo = save_image(ASTRONAUT, tmp_path / "a.png")
    cases = [
        (["translate", str(tmp_path / "missing.png"), "-e", "happy"], "no such file"),
        (["translate", str(photo), "-e", "bored", "--model", str(model_dir)], "unknown expression 'bored'"),
        (["translate", str(photo), "-e", "happy", "--model", str(tmp_path / "nomodel")], "does not exist"),
        (["translate", str(photo), "--all", "--intensity", "2", "--model", str(model_dir)], "--intensity goes with"),
        (["translate", str(photo), "-e", "happy", "--device", "cuda:7", "--model", str(model_dir)], "no GPU is visible"
         if not torch.cuda.is_available() else "cuda"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err


def test_refinement_strength_in_the_pipeline_and_translate(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A warp-generator model's pipeline blends in the asked part of its refinement: 0 is the warp alone, 0.5 half way
    (to a grey level of rounding); ``translate --refinement`` writes the same face, and a bad strength is refused."""
    folder = tiny_model(generator="warp", stage2_landmark_image="drawn").save_pretrained(tmp_path / "warp")
    pipe = LandmarkGANPipeline.from_pretrained(folder, device="cpu")
    face, _ = render_face(sample_identity(np.random.default_rng(3)), "neutral", 0, SIZE)
    own, none, half = (p(face, "surprise", 4, align=False).image.astype(int)
                       for p in (pipe, pipe.with_refinement(0), pipe.with_refinement(0.5)))
    assert pipe.refinement == 1.0 and pipe.with_refinement(0).model is pipe.model
    assert np.abs(own - none).mean() > 1  # the untrained refinement changes the warp
    assert np.abs(half - (own + none) / 2).max() <= 1
    path = save_image(face, tmp_path / "face.png")
    assert main(["translate", str(path), "-e", "surprise", "--no-align", "--refinement", "0.5", "-o",
                 str(tmp_path / "out"), "--model", str(folder)]) == 0
    assert np.array_equal(load_image(tmp_path / "out" / "face_surprise4.png"), half)
    with pytest.raises(LandmarkGANError, match="a number from 0"):
        pipe.with_refinement(2)
    assert main(["translate", str(path), "-e", "happy", "--refinement", "nan", "--model", str(folder)]) == 2
    assert "refinement strength is a number from 0" in capsys.readouterr().err


def test_refinement_below_one_is_refused_for_the_papers_generator(model_dir: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(LandmarkGANError, match="needs the warp generator"):
        LandmarkGANPipeline.from_pretrained(model_dir, device="cpu", refinement=0.5)
    photo = save_image(ASTRONAUT, tmp_path / "a.png")
    assert main(["translate", str(photo), "-e", "happy", "--refinement", "0", "--model", str(model_dir)]) == 2
    assert "needs the warp generator" in capsys.readouterr().err


def test_augment_writes_every_other_label_as_a_data_set(model_dir: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    from landmarkgan.data.manifest import read_manifest
    from landmarkgan.data.synthetic import synthesize_dataset

    real = synthesize_dataset(tmp_path / "data", num_identities=3, size=48, intensities=(4,), test_fraction=0.34)
    train = [s for s in real if s.split == "train"]
    assert main(["augment", str(tmp_path / "data"), str(tmp_path / "aug"), "--model", str(model_dir),
                 "--batch-size", "16"]) == 0
    assert f"from {len(train)} images" in capsys.readouterr().out
    generated = read_manifest(tmp_path / "aug")
    assert len(generated) == len(train) * 24  # 25 labels, less the one each face already has
    by_source: dict[str, set] = {}
    for s in generated:
        by_source.setdefault(s.extra["source"], set()).add((s.expression, s.intensity))
        assert s.split == "train" and s.extra["generated"] is True
        assert load_image(tmp_path / "aug" / s.image).shape == (SIZE, SIZE, 3)
    for s in train:
        own = (s.expression, s.intensity)
        assert own not in by_source[s.image] and len(by_source[s.image]) == 24
        assert {g.subject for g in generated if g.extra["source"] == s.image} == {s.subject}

    assert main(["augment", str(tmp_path / "nowhere"), str(tmp_path / "aug2"), "--model", str(model_dir)]) == 2
    assert "does not exist" in capsys.readouterr().err
    synthesize_dataset(tmp_path / "contempt", num_identities=2, size=32, intensities=(4,),
                       expressions=("neutral", "contempt"), test_fraction=0.0)
    assert main(["augment", str(tmp_path / "contempt"), str(tmp_path / "aug3"), "--model", str(model_dir)]) == 2
    assert "contempt that the model does not know" in capsys.readouterr().err
    assert main(["augment", str(tmp_path / "contempt"), str(tmp_path / "aug4"), "--split", "test",
                 "--model", str(model_dir)]) == 2
    assert "has no test images" in capsys.readouterr().err


@pytest.mark.parametrize("fmt, name", [("torchscript", "model.pt"), ("onnx", "model.onnx")])
def test_export_matches_eager_pytorch(model_dir: Path, tmp_path: Path, fmt: str, name: str,
                                      capsys: pytest.CaptureFixture) -> None:
    from landmarkgan.inference.export import example_inputs, run_exported

    assert main(["export", str(tmp_path / name), "--model", str(model_dir)]) == 0
    printed = capsys.readouterr().out
    assert f"exported {fmt}" in printed
    difference = float(printed.rsplit(":", 1)[1])
    assert difference < 1e-4
    sidecar = json.loads((tmp_path / f"{name}.json").read_text())
    assert sidecar["expressions"][1] == "happy" and sidecar["intensity_levels"] == 4
    # the exported graph is the pipeline's translation: same face, same label, same output
    model = LandmarkGAN.from_pretrained(model_dir)
    x, labels = example_inputs(model, batch=1, seed=5)
    image, landmarks, _ = run_exported(tmp_path / name, fmt, x, labels)
    with torch.no_grad():
        eager = model.translate(x, labels[:, :7].argmax(1), labels[:, 7:].argmax(1) + 1)
    assert np.abs(image - eager["image"].numpy()).max() < 1e-4
    assert np.abs(landmarks - eager["landmarks"].numpy()).max() < 1e-3


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
@pytest.mark.parametrize("colours", ["free", "palette"])
def test_export_of_the_warp_generator_matches_eager_pytorch(tmp_path: Path, fmt: str, colours: str) -> None:
    """ONNX has no linear solver: the warp's thin-plate spline is solved by elimination in the exported graph. The
    palette refinement's sampling of the source's colours exports too."""
    from landmarkgan.inference.export import example_inputs, export_model, run_exported

    model = tiny_model(generator="warp", stage2_landmark_image="drawn", refinement_colours=colours).eval()
    path, difference = export_model(model, tmp_path / f"warp.{fmt}", fmt)
    assert difference < 1e-4
    x, labels = example_inputs(model, batch=2, seed=3)
    image, landmarks, landmark_image = run_exported(path, fmt, x, labels)
    with torch.no_grad():
        eager = model.translate(x, labels[:, :7].argmax(1), labels[:, 7:].argmax(1) + 1)
    assert np.abs(image - eager["image"].numpy()).max() < 1e-4
    assert np.abs(landmark_image - eager["landmark_image"].numpy()).max() < 1e-4


def test_export_at_a_refinement_strength(tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture) -> None:
    """The strength is fixed in the graph and named in its JSON: 0 gives the warp alone, 0.5 the pipeline's blend."""
    from landmarkgan.inference.export import example_inputs, export_model, run_exported

    model = tiny_model(generator="warp", stage2_landmark_image="drawn").eval()
    x, labels = example_inputs(model, batch=2, seed=3)
    le, li = labels[:, :7].argmax(1), labels[:, 7:].argmax(1) + 1
    for strength in (0.0, 0.5):
        path, difference = export_model(model, tmp_path / f"warp{strength}.pt", "torchscript", refinement=strength)
        assert difference < 1e-4
        assert json.loads(path.with_suffix(".pt.json").read_text())["refinement"] == strength
        image = run_exported(path, "torchscript", x, labels)[0]
        with torch.no_grad():
            eager = model.translate(x, le, li, refinement=strength)
        assert np.abs(image - eager["image"].numpy()).max() < 1e-4
    with torch.no_grad():
        trained = model.translate(x, le, li)
    assert np.abs(image - trained["image"].numpy()).max() > 1e-3  # 0.5 is not the model as trained
    warp_only = run_exported(tmp_path / "warp0.0.pt", "torchscript", x, labels)[0]
    assert np.abs(warp_only - trained["warped"].numpy()).max() < 1e-4

    assert main(["export", str(tmp_path / "paper.pt"), "--model", str(model_dir), "--refinement", "0.5"]) == 2
    assert "needs the warp generator" in capsys.readouterr().err
    assert not (tmp_path / "paper.pt").exists()
    assert main(["export", str(tmp_path / "folder"), "--model", str(model_dir), "--refinement", "0.5"]) == 2
    assert "a model folder keeps the model as trained" in capsys.readouterr().err
    assert not (tmp_path / "folder").exists()


def test_export_a_model_folder_from_a_training_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from landmarkgan.data.synthetic import synthesize_dataset
    from landmarkgan.training.config import Config
    from landmarkgan.training.trainer import Trainer

    synthesize_dataset(tmp_path / "data", num_identities=4, size=SIZE, intensities=(4,), test_fraction=0.25)
    config = Config.from_dict({"model": {"image_size": SIZE, "ngf": 8, "ndf": 8, "n_layers_D": 2, "identity_loss": False},
                               "train": {"data": str(tmp_path / "data"), "out": str(tmp_path / "run"), "max_steps": 2,
                                         "tensorboard": False}})
    Trainer(config, progress_bar=False).train()
    assert main(["export", str(tmp_path / "folder"), "--model", str(tmp_path / "run"), "--generators-only", "--half",
                 "--description", "two steps of training"]) == 0
    assert "wrote model folder" in capsys.readouterr().out
    loaded = LandmarkGAN.from_pretrained(tmp_path / "folder")
    assert loaded.metadata["description"] == "two steps of training" and loaded.metadata["step"] == 2
    assert loaded.config == load_model(tmp_path / "run").config
