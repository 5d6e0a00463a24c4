"""Pictures: per-class grids, interpolation, GIFs, training progress, loss curves, and sample.py end to end."""

import json
import math
import subprocess
import sys
import types

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image
from torch import nn
from torchvision.utils import save_image

from gan_lab.errors import UserError
from gan_lab.jobs.command_line import check_overrides
from gan_lab.plots import panels, plot_metrics, smooth
from gan_lab.sampling import (
    end_of_training_pictures,
    interpolate,
    interpolate_labels,
    interpolate_latents,
    latents,
    progress_gif,
    progress_sheet,
    run_sample,
    sample_per_class,
    write_interpolation,
)
from gan_lab.sampling import modes as sampling_modes
from gan_lab.training.checkpoint import save_checkpoint
from tests.conftest import CONF_DIR, REPO, TINY, compose

CPU = torch.device("cpu")


class TinyConditionalGenerator(nn.Module):
    """A class-conditional generator with the label-embedding hook (embed_labels + forward_embedded).
    It remembers its last inputs so tests can check what a sampling mode fed it."""

    def __init__(self, latent_dim: int = 4, num_classes: int = 3, embed_dim: int = 5, image_size: int = 4):
        super().__init__()
        self.latent_dim, self.num_classes, self.channels, self.image_size = latent_dim, num_classes, 1, image_size
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.net = nn.Linear(latent_dim + embed_dim, image_size * image_size)
        self.last_inputs = None

    def embed_labels(self, labels):
        return self.embed(labels)

    def forward_embedded(self, z, emb):
        return torch.tanh(self.net(torch.cat([z, emb], dim=1))).view(-1, 1, self.image_size, self.image_size)

    def forward(self, z, cond=None):
        self.last_inputs = (z.clone(), cond.clone())
        return self.forward_embedded(z, self.embed_labels(cond))


class NoHookConditionalGenerator(TinyConditionalGenerator):
    embed_labels = None  # a conditional model that does not expose its embedding


def tiny_generator(seed=0) -> TinyConditionalGenerator:
    torch.manual_seed(seed)
    return TinyConditionalGenerator().eval()


# -- per-class grid -----------------------------------------------------------------------------------
def test_per_class_grid_changes_only_the_label_down_a_column():
    G = tiny_generator()
    images = sample_per_class(G, columns=4, seed=0, device=CPU)
    z, labels = G.last_inputs
    assert images.shape == (3 * 4, 1, 4, 4)
    assert torch.equal(labels.view(3, 4), torch.arange(3).view(3, 1).expand(3, 4))  # row r is class r
    z = z.view(3, 4, -1)
    assert torch.equal(z[0], z[1]) and torch.equal(z[0], z[2])  # each column keeps its z
    assert len({tuple(row.tolist()) for row in z[0]}) == 4  # and the columns differ
    rows = images.view(3, 4, -1)
    for r in (1, 2):
        assert (rows[r] - rows[0]).abs().amax(dim=1).min() > 1e-4  # a new label changes every image
    assert torch.equal(images, sample_per_class(G, columns=4, seed=0, device=CPU))  # seeded
    with pytest.raises(UserError, match="class-conditional"):
        sample_per_class(nn.Identity(), columns=4, seed=0, device=CPU)


# -- interpolation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_latent_interpolation_ends_are_the_generator_outputs_at_z1_and_z2(method):
    G = tiny_generator()
    strips = interpolate_latents(G, pairs=2, steps=5, method=method, seed=3, device=CPU)
    assert strips.shape == (2, 5, 1, 4, 4)
    ends = latents(4, G.latent_dim, 3, CPU)
    with torch.no_grad():
        for i, label in enumerate((0, 1)):  # pair i keeps class i % K
            cond = torch.tensor([label])
            assert torch.equal(strips[i, 0], G(ends[2 * i : 2 * i + 1], cond)[0])
            assert torch.equal(strips[i, -1], G(ends[2 * i + 1 : 2 * i + 2], cond)[0])
    assert not torch.equal(strips[0, 1], strips[0, 0])


def test_label_interpolation_keeps_z_and_ends_at_the_two_classes():
    G = tiny_generator()
    strips = interpolate_labels(G, pairs=1, steps=4, method="lerp", seed=0, device=CPU, labels=[0, 2])
    z = latents(1, G.latent_dim, 0, CPU)
    with torch.no_grad():
        assert torch.equal(strips[0, 0], G(z, torch.tensor([0]))[0])
        assert torch.equal(strips[0, -1], G(z, torch.tensor([2]))[0])
        middle = G.forward_embedded(z, G.embed_labels(torch.tensor([0, 2])).mean(0, keepdim=True))[0]
    assert torch.allclose(strips[0, 1], G.forward_embedded(z, G.embed_labels(torch.tensor([0])) * 2 / 3 +
                                                           G.embed_labels(torch.tensor([2])) / 3)[0], atol=1e-6)
    assert not torch.allclose(strips[0, 1], middle)  # a third of the way, not the middle
    with pytest.raises(UserError, match="embed_labels"):
        interpolate_labels(NoHookConditionalGenerator(), pairs=1, steps=3, method="lerp", seed=0, device=CPU)


def test_the_model_zoo_conditional_generators_provide_the_embedding_hook():
    from gan_lab.models.conditional import ConditionalDCGANGenerator, ConditionalMLPGenerator

    torch.manual_seed(0)
    for G in (ConditionalMLPGenerator(latent_dim=8, image_size=8, num_classes=3, embed_dim=4, hidden=(16,)),
              ConditionalDCGANGenerator(latent_dim=8, image_size=8, num_classes=3, embed_dim=4, base_width=4)):
        G.eval()
        strips = interpolate_labels(G, pairs=2, steps=3, method="lerp", seed=1, device=CPU)
        z = latents(2, 8, 1, CPU)
        with torch.no_grad():
            assert torch.equal(strips[1, 0], G(z[1:], torch.tensor([1]))[0])  # pair 1: class 1 -> class 2
            assert torch.equal(strips[1, -1], G(z[1:], torch.tensor([2]))[0])


def test_slerp_between_unit_vectors_stays_on_the_sphere_at_even_angles():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 16, generator=gen, dtype=torch.float64)
    a, b = a / a.norm(), b / b.norm()
    path = interpolate(a, b, 11, "slerp")
    assert torch.allclose(path.norm(dim=1), torch.ones(11, dtype=torch.float64), atol=1e-12)
    omega = torch.arccos(a @ b)
    angles = torch.arccos((path[:-1] * path[1:]).sum(1).clamp(-1, 1))
    assert torch.allclose(angles, torch.full((10,), float(omega) / 10, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(path[5], (a + b) / (a + b).norm(), atol=1e-12)  # the midpoint bisects the arc
    lerp_mid = interpolate(a, b, 3, "lerp")[1]
    assert torch.allclose(lerp_mid, (a + b) / 2) and lerp_mid.norm() < 1  # lerp cuts inside the sphere
    with pytest.raises(UserError, match="lerp or slerp"):
        interpolate(a, b, 3, "cubic")


def test_interpolation_files_strips_and_a_gif_with_steps_frames(tmp_path):
    strips = interpolate_latents(tiny_generator(), pairs=3, steps=6, method="slerp", seed=0, device=CPU)
    paths = write_interpolation(strips, tmp_path / "interp.png", frame_ms=100)
    names = sorted(p.name for p in paths)
    assert names == ["interp.gif", "interp.png", "interp_pair0.png", "interp_pair1.png", "interp_pair2.png"]
    cell = 4 + 2
    assert Image.open(tmp_path / "interp.png").size == (6 * cell + 2, 3 * cell + 2)  # a row per pair
    assert Image.open(tmp_path / "interp_pair1.png").size == (6 * cell + 2, cell + 2)
    gif = Image.open(tmp_path / "interp.gif")
    assert gif.n_frames == 6 and gif.info["loop"] == 0


# -- training progress -----------------------------------------------------------------------------------
def fake_run(tmp_path, steps=(100, 200, 300), size=8, n=6, nrow=3):
    """A run dir whose grid at step s holds images of constant brightness s / 1000 + i / 100."""
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    (run / ".hydra").mkdir()
    OmegaConf.save(OmegaConf.create({"dataset": {"image_size": size}}), run / ".hydra" / "config.yaml")
    for step in steps:
        values = torch.tensor([step / 1000 + i / 100 for i in range(n)]).view(n, 1, 1, 1)
        save_image(values.expand(n, 1, size, size), run / "samples" / f"step_{step:07d}.png", nrow=nrow)
    return run


def test_progress_image_has_one_row_per_saved_grid_and_a_gif_frame_each(tmp_path):
    run = fake_run(tmp_path)
    sheet = progress_sheet(run, k=4, image_size=8)
    cell = 8 + 2
    assert sheet.height == 3 * cell + 2  # three grids saved -> three rows
    margin = sheet.width - (4 * cell + 2)  # the step labels sit left of the images
    for row, step in enumerate((100, 200, 300)):
        for col in range(4):  # the first k images of that grid, in reading order
            pixel = sheet.getpixel((margin + 2 + col * cell + 4, 2 + row * cell + 4))
            assert pixel[0] == int((step / 1000 + col / 100) * 255 + 0.5)  # save_image's rounding
    stacked = progress_sheet(run, k=0, image_size=8)
    assert stacked.height == 3 * Image.open(run / "samples" / "step_0000100.png").height
    assert Image.open(progress_gif(run, tmp_path / "p.gif", 100)).n_frames == 3
    with pytest.raises(UserError, match="no sample grids"):
        progress_sheet(tmp_path, k=4, image_size=8)


# -- loss curves ---------------------------------------------------------------------------------------
def test_smoothing_is_a_debiased_moving_average():
    assert smooth([1.0, 3.0], 0.0) == [1.0, 3.0]
    first, second = smooth([1.0, 3.0], 0.5)
    assert first == pytest.approx(1.0) and second == pytest.approx((0.25 + 1.5) / 0.75)


def test_loss_plot_written_from_a_small_metrics_file_with_wgan_keys(tmp_path):
    records = [
        {"step": s, "epoch": s / 10, "d_loss": -1.0 / s, "g_loss": 0.5 + s, "wasserstein": 2.0 / s, "gp": 0.1,
         "img_per_s": 300.0}
        for s in range(1, 21)
    ]
    records[5]["g_loss"] = "nan"  # how the tracker writes a non-finite value
    records[19]["fid"] = 42.0  # evaluated once
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"step": 21, "d_lo')
    out = plot_metrics(tmp_path / "metrics.jsonl", tmp_path / "plots" / "curves.png")
    assert out.is_file() and Image.open(out).size[0] > 500
    assert panels(["d_loss", "g_loss", "wasserstein", "gp", "fid", "d_real", "d_fake"]) == [
        ("losses", ["d_loss", "g_loss"]), ("D(x) and D(G(z))", ["d_real", "d_fake"]),
        ("fid", ["fid"]), ("gp", ["gp"]), ("wasserstein", ["wasserstein"]),
    ]
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(UserError, match="no logged metrics"):
        plot_metrics(tmp_path / "empty.jsonl", tmp_path / "x.png")


# -- sample.py's modes on checkpoints -----------------------------------------------------------------------
def conditional_checkpoint(tmp_path):
    G = tiny_generator()
    config = {"model": {"generator": {"_target_": "tests.test_sampling.TinyConditionalGenerator"}}}
    path = tmp_path / "run" / "checkpoints" / "last.ckpt"
    save_checkpoint({"generator": G.state_dict(), "ema": None, "config": config, "step": 1}, path)
    return path


def sample_cfg(**overrides):
    return compose([f"{key}={value}" for key, value in overrides.items()], config_name="sample")


def test_conditional_checkpoint_per_class_and_label_interpolation(tmp_path):
    # The checkpoint names a generator in tests/, outside gan_lab: only a trusted file may build it.
    ckpt = conditional_checkpoint(tmp_path)
    trusted = {"ckpt": str(ckpt), "trust_checkpoint": True}
    [grid] = run_sample(sample_cfg(**trusted, mode="per_class", columns=5))
    assert grid == tmp_path / "run" / "samples" / "per_class_seed0.png"
    assert Image.open(grid).size == (5 * 6 + 2, 3 * 6 + 2)  # a row per class
    written = run_sample(sample_cfg(**trusted, mode="interpolate", over="label", steps=4, pairs=2))
    assert [p.name for p in written] == [
        "interp_label_slerp_seed0.png", "interp_label_slerp_seed0_pair0.png", "interp_label_slerp_seed0_pair1.png",
        "interp_label_slerp_seed0.gif",
    ]
    first = (tmp_path / "run" / "samples" / "interp_label_slerp_seed0.png").read_bytes()
    run_sample(sample_cfg(**trusted, mode="interpolate", over="label", steps=4, pairs=2))
    assert (tmp_path / "run" / "samples" / "interp_label_slerp_seed0.png").read_bytes() == first  # reproducible
    with pytest.raises(UserError, match="unknown mode 'mosaic'; choose one of: curves, grid, interpolate"):
        check_overrides(CONF_DIR, "sample", [f"ckpt={ckpt}", "mode=mosaic"])


def test_translate_delegates_to_the_pix2pix_function(tmp_path, monkeypatch):
    ckpt = conditional_checkpoint(tmp_path)
    cfg = sample_cfg(ckpt=str(ckpt), mode="translate", input="facades/", out=str(tmp_path / "t"))
    calls = []

    def fake_translate(ckpt, input_path, out_dir, eval_mode="train", seed=0, **options):
        calls.append((ckpt, input_path, out_dir, eval_mode, seed))
        return [tmp_path / "t" / "0.png"]

    monkeypatch.setattr(sampling_modes, "translate_images", fake_translate)
    assert run_sample(cfg) == [tmp_path / "t" / "0.png"]
    assert calls == [(str(ckpt), "facades/", str(tmp_path / "t"), "train", 0)]
    with pytest.raises(UserError, match="mode=translate needs input="):
        run_sample(sample_cfg(ckpt=str(ckpt), mode="translate"))


def test_end_of_training_writes_and_logs_the_loss_plot_and_an_interpolation_gif(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "d_loss": 1.0, "g_loss": s}) + "\n"
                                                    for s in (1, 2)))
    logged = []
    tracker = types.SimpleNamespace(metrics_path=tmp_path / "metrics.jsonl",
                                    log_file=lambda name, path: logged.append((name, path.name)))
    trainer = types.SimpleNamespace(run_dir=tmp_path, sampling_generator=tiny_generator(), seed=0, device=CPU,
                                    cfg=types.SimpleNamespace(sample_mode="eval"))
    written = end_of_training_pictures(trainer, tracker)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "plots/curves.png", "samples/interpolation.png", "samples/interpolation.gif"]
    assert logged == [("loss_curves", "curves.png"), ("interpolation", "interpolation.gif")]
    assert not trainer.sampling_generator.training  # left in the mode it was in


# -- the command line, against a real (tiny) training run ---------------------------------------------------------
def test_sample_py_writes_every_promised_file_for_a_tiny_training_run(tmp_path):
    from gan_lab.jobs.train import train

    run = tmp_path / "run"
    cfg = compose(["dataset=synthetic", "dataset.size=64", *TINY, "trainer.max_steps=2", "trainer.sample_every=1"])
    train(cfg, run)
    # The end of training drew the loss curves and an interpolation GIF.
    assert (run / "plots" / "curves.png").is_file()
    assert Image.open(run / "samples" / "interpolation.gif").n_frames == 8

    result = subprocess.run(
        [sys.executable, str(REPO / "sample.py"), "--multirun", f"run={run}", "mode=grid,interpolate,progress,curves",
         "n=9", "pairs=2", "steps=3", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    expected = [
        run / "samples" / "grid_seed0.png",
        run / "samples" / "interp_z_slerp_seed0.png",
        run / "samples" / "interp_z_slerp_seed0_pair0.png",
        run / "samples" / "interp_z_slerp_seed0_pair1.png",
        run / "samples" / "interp_z_slerp_seed0.gif",
        run / "plots" / "progress.png",
        run / "plots" / "progress.gif",
        run / "plots" / "curves.png",
    ]
    assert result.stdout.split() == [str(p) for p in expected]
    assert Image.open(expected[0]).size == (3 * 34 + 2, 3 * 34 + 2)
    assert Image.open(expected[4]).n_frames == 3
    assert Image.open(expected[5]).height == 2 * 34 + 2  # grids saved at steps 1 and 2
    assert math.isclose(Image.open(expected[6]).n_frames, 2)
