"""pix2pix: paired loader, U-Net and PatchGAN shapes, the L1 + GAN loss, a training step and a short run."""

import json
import math

import pytest
import torch
from PIL import Image

from gan_lab.data.paired import PairedImages
from gan_lab.errors import UserError
from gan_lab.losses import Pix2PixLoss
from gan_lab.models.pix2pix import PatchDiscriminator, UNetGenerator
from tests.conftest import compose

HALF = 36  # side of each half on disk = the default load_size for image_size 32 (32 * 286 / 256)


def random_half(seed: int, size: int = HALF) -> torch.Tensor:
    return torch.randint(0, 256, (size, size, 3), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def make_facades(root, splits=(("train", 4), ("val", 3))):
    """A tiny pix2pix-packed folder: photo A on the left, label map B = 255 - A on the right (lossless PNG)."""
    for split, n in splits:
        (root / split).mkdir(parents=True)
        for i in range(1, n + 1):
            a = random_half(100 * len(split) + i)
            Image.fromarray(torch.cat([a, 255 - a], dim=1).numpy()).save(root / split / f"{i}.png")
    return root


def paired(root, **kwargs) -> PairedImages:
    defaults = {"image_size": 32, "direction": "BtoA"}
    return PairedImages(str(root), **{**defaults, **kwargs}).setup()


# -- data ---------------------------------------------------------------------------
def test_jitter_crops_and_flips_source_and_target_identically(tmp_path):
    data = paired(make_facades(tmp_path / "facades"))
    assert data.images.shape == (4, 3, HALF, HALF)  # kept at load_size, cropped per batch
    crops = set()
    for seed in range(12):
        batch = data.get_batch(torch.arange(4), torch.Generator().manual_seed(seed))
        assert batch.real.shape == batch.cond.shape == (4, 3, 32, 32)
        target, source = (batch.real + 1) * 127.5, (batch.cond + 1) * 127.5
        # B = 255 - A pixel for pixel: any crop or flip applied to one image but not the other breaks it.
        torch.testing.assert_close(target, 255 - source, atol=1e-3, rtol=0)
        crops.add(tuple(batch.real[0, 0, 0, :3].tolist()))
    assert len(crops) > 3, "random crops/flips should vary with the generator"
    again = data.get_batch(torch.arange(4), torch.Generator().manual_seed(3))
    assert torch.equal(again.real, data.get_batch(torch.arange(4), torch.Generator().manual_seed(3)).real)


def test_direction_chooses_which_half_is_the_source(tmp_path):
    root = make_facades(tmp_path / "facades")
    left = random_half(100 * len("train") + 1)  # A of train/1.png
    no_jitter = {"load_size": 32}
    a_to_b = paired(root, direction="AtoB", image_size=HALF, load_size=HALF)
    b_to_a = paired(root, direction="BtoA", image_size=HALF, load_size=HALF)
    assert torch.equal(a_to_b.sources[0], left.permute(2, 0, 1))
    assert torch.equal(b_to_a.images[0], left.permute(2, 0, 1))
    assert torch.equal(a_to_b.images, b_to_a.sources) and torch.equal(a_to_b.sources, b_to_a.images)
    assert paired(root, **no_jitter).eval_pairs("val")[0].shape == (3, 3, 32, 32)


def test_a_and_b_folders_layout(tmp_path):
    root = tmp_path / "pairs"
    for side in ("A", "B"):
        (root / side / "train").mkdir(parents=True)
    for name in ("x.png", "y.png"):
        a = random_half(len(name) + ord(name[0]))
        Image.fromarray(a.numpy()).save(root / "A" / "train" / name)
        Image.fromarray((255 - a).numpy()).save(root / "B" / "train" / name)
    data = paired(root, direction="AtoB")
    assert data.describe().endswith("[folders, train, AtoB])")
    assert torch.equal(data.images, 255 - data.sources)
    preview = data.preview_batch(8)  # no val split: the preview falls back to training pairs
    assert preview.real.shape == (2, 3, 32, 32)


def test_odd_width_side_by_side_file_is_a_clear_error(tmp_path):
    root = make_facades(tmp_path / "facades")
    Image.new("RGB", (2 * HALF + 1, HALF)).save(root / "train" / "9.png")
    with pytest.raises(UserError, match=r"9\.png is 73x36.*even width"):
        paired(root)


def test_decoded_split_is_cached_on_disk_and_reused(tmp_path):
    root = make_facades(tmp_path / "facades")
    first = paired(root, cache_dir=str(tmp_path / "cache"))
    cached = list((tmp_path / "cache" / "paired").glob("*.u8"))
    assert len(cached) == 1
    (root / "train" / "1.png").rename(root / "train" / "1.bak")  # a changed file list means a new key
    assert paired(root, cache_dir=str(tmp_path / "cache")).images.shape[0] == 3
    (root / "train" / "1.bak").rename(root / "train" / "1.png")
    assert torch.equal(paired(root, cache_dir=str(tmp_path / "cache")).images, first.images)


def test_preview_grid_rows_are_source_generated_target(tmp_path):
    data = paired(make_facades(tmp_path / "facades"))
    preview = data.preview_batch(2)
    fake = torch.zeros_like(preview.real)
    images = data.preview_images(fake, preview)
    assert images.shape == (6, 3, 32, 32) and data.preview_nrow(6) == 3
    assert torch.equal(images[3], preview.cond[1]) and torch.equal(images[4], fake[1])
    assert torch.equal(images[5], preview.real[1])


# -- models ---------------------------------------------------------------------------
@pytest.mark.parametrize("size, dropout_blocks", [(128, 2), (256, 3)])
def test_unet_output_has_the_input_shape(size, dropout_blocks):
    G = UNetGenerator(image_size=size, base_width=4)
    assert G.latent_dim == 0 and len(G.encoders) == int(math.log2(size))
    assert sum(isinstance(m, torch.nn.Dropout) for m in G.modules()) == dropout_blocks
    x = torch.rand(1, 3, size, size) * 2 - 1
    y = G(None, x)
    assert y.shape == x.shape and y.abs().max() <= 1


def reference_unet(input_nc: int, output_nc: int, num_downs: int, ngf: int) -> torch.nn.Module:
    """The layers of junyanz/pytorch-CycleGAN-and-pix2pix models/networks.py UnetGenerator (netG=unet_256 / unet_128,
    norm=batch, so use_bias=False; use_dropout=True, pix2pix's default), nested block by block from the innermost
    out. Only the layers are rebuilt (the skip concatenations live in forward): enough to count parameters."""
    nn = torch.nn

    def block(outer, inner, sub=None, input_nc=None, outermost=False, innermost=False, dropout=False):
        down = nn.Conv2d(input_nc or outer, inner, 4, 2, 1, bias=False)
        if outermost:
            return nn.Sequential(down, sub, nn.ReLU(), nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1), nn.Tanh())
        if innermost:
            up = nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False)
            return nn.Sequential(nn.LeakyReLU(0.2), down, nn.ReLU(), up, nn.BatchNorm2d(outer))
        up = nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1, bias=False)
        layers = [nn.LeakyReLU(0.2), down, nn.BatchNorm2d(inner), sub, nn.ReLU(), up, nn.BatchNorm2d(outer)]
        return nn.Sequential(*layers, *([nn.Dropout(0.5)] if dropout else []))

    unet = block(ngf * 8, ngf * 8, innermost=True)
    for _ in range(num_downs - 5):
        unet = block(ngf * 8, ngf * 8, unet, dropout=True)
    unet = block(ngf * 4, ngf * 8, unet)
    unet = block(ngf * 2, ngf * 4, unet)
    unet = block(ngf, ngf * 2, unet)
    return block(output_nc, ngf, unet, input_nc=input_nc, outermost=True)


def reference_patchgan(input_nc: int, ndf: int, n_layers: int = 3) -> torch.nn.Module:
    """The reference NLayerDiscriminator (netD=basic, norm=batch): biases only in the first and the last conv."""
    nn = torch.nn
    layers, mult = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2)], 1
    for n in range(1, n_layers + 1):
        previous, mult = mult, min(2**n, 8)
        stride = 2 if n < n_layers else 1
        layers += [nn.Conv2d(ndf * previous, ndf * mult, 4, stride, 1, bias=False), nn.BatchNorm2d(ndf * mult)]
        layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers, nn.Conv2d(ndf * mult, 1, 4, 1, 1))


def layer_signature(net: torch.nn.Module) -> tuple:
    """Parameter count, the sorted parameter shapes, and how many layers of each kind (order-free)."""
    shapes = sorted(tuple(p.shape) for p in net.parameters())
    kinds = sorted(type(m).__name__ for m in net.modules() if not list(m.children()))
    return sum(p.numel() for p in net.parameters()), shapes, kinds


@pytest.mark.parametrize("size, num_downs, ngf", [(256, 8, 64), (128, 7, 64), (256, 8, 8)])
def test_unet_and_patchgan_match_the_reference_layer_for_layer(size, num_downs, ngf):
    """unet_256 / unet_128 and the 70x70 PatchGAN of junyanz/pytorch-CycleGAN-and-pix2pix: the same parameters
    (54,413,955 for unet_256 at ngf=64, 3 -> 3 channels) and the same layers, ReLU / Tanh / Dropout included."""
    ours = layer_signature(UNetGenerator(channels=3, image_size=size, base_width=ngf))
    assert ours == layer_signature(reference_unet(3, 3, num_downs, ngf))
    if (size, ngf) == (256, 64):
        assert ours[0] == 54_413_955
    assert layer_signature(PatchDiscriminator(image_size=size, base_width=ngf)) == layer_signature(
        reference_patchgan(6, ngf)
    )


def test_unet_rejects_sizes_it_cannot_reach_one_pixel_from():
    with pytest.raises(UserError, match="power-of-two"):
        UNetGenerator(image_size=96)


@pytest.mark.parametrize("size, side", [(128, 14), (256, 30)])
def test_patchgan_map_shape_and_70px_receptive_field(size, side):
    D = PatchDiscriminator(image_size=size, base_width=4).eval()  # eval: BatchNorm does not mix positions
    x = torch.zeros(1, 3, size, size, requires_grad=True)
    logits = D(x, torch.zeros(1, 3, size, size))
    assert logits.shape == (1, 1, side, side)
    logits[0, 0, side // 2, side // 2].backward()
    rows = x.grad.abs().sum(dim=(0, 1, 3)).nonzero()
    assert int(rows.max() - rows.min() + 1) == 70


# -- loss ---------------------------------------------------------------------------
class ConstantLogits(torch.nn.Module):
    """A stand-in discriminator: logit 0 (probability 1/2) on every patch."""

    def forward(self, x, cond):
        return torch.zeros(x.shape[0], 1, 4, 4) + 0 * x.mean()


def test_generator_loss_is_gan_bce_plus_lambda_times_l1():
    loss = Pix2PixLoss(lambda_l1=100.0)
    fake = torch.tensor([0.0, 1.0, -1.0, 0.5]).view(1, 1, 2, 2).expand(1, 3, 2, 2)
    real = torch.tensor([0.5, 0.0, -1.0, 1.0]).view(1, 1, 2, 2).expand(1, 3, 2, 2)
    value, logs = loss.generator_loss(ConstantLogits(), fake, torch.zeros(1, 3, 2, 2), real)
    l1 = (0.5 + 1.0 + 0.0 + 0.5) / 4  # mean absolute difference, the same in every channel
    assert float(logs["g_l1"]) == pytest.approx(l1)
    assert float(logs["g_gan"]) == pytest.approx(math.log(2))  # BCE(sigmoid(0), 1) averaged over patches
    assert float(value) == pytest.approx(math.log(2) + 100 * l1)
    d_value, _ = loss.discriminator_loss(ConstantLogits(), real, fake, torch.zeros(1, 3, 2, 2))
    assert float(d_value) == pytest.approx(0.5 * (math.log(2) + math.log(2)))  # halved, as in the paper


# -- training -----------------------------------------------------------------------------
def tiny_pix2pix(root, cache) -> list[str]:
    return [
        "experiment=pix2pix_facades",
        f"dataset.root={root}",
        "dataset.image_size=32",
        f"paths.cache_dir={cache}",
        "model.generator.base_width=4",
        "model.discriminator.base_width=4",
        "trainer.max_epochs=null",
        "trainer.max_steps=2",
        "trainer.log_every=1",
        "trainer.sample_every=2",
        "trainer.checkpoint_every=2",
        "trainer.num_samples=2",
        "trainer.progress_bar=false",
        "trainer.device=cpu",
    ]


def test_one_training_step_changes_generator_and_discriminator(tmp_path):
    from tests.conftest import local_trainer

    cfg = compose(tiny_pix2pix(make_facades(tmp_path / "facades"), tmp_path / "cache"))
    trainer = local_trainer(cfg, tmp_path)
    G, D = trainer.G, trainer.D
    g_before = {k: v.clone() for k, v in G.state_dict().items()}
    d_before = {k: v.clone() for k, v in D.state_dict().items()}
    logs = trainer.train_step()
    assert {"d_loss", "g_loss", "g_gan", "g_l1"} <= set(logs)
    for net, before in ((G, g_before), (D, d_before)):
        weights = [k for k in before if k.endswith("weight")]
        assert all(not torch.equal(net.state_dict()[k], before[k]) for k in weights)


def test_two_step_run_writes_translation_grid_then_evaluates_and_translates(tmp_path):
    from gan_lab.jobs.evaluate_paired import evaluate_paired_job
    from gan_lab.jobs.train import train
    from gan_lab.sampling.translate import translate

    root = make_facades(tmp_path / "facades")
    run_dir = tmp_path / "run"
    train(compose(tiny_pix2pix(root, tmp_path / "cache")), run_dir)
    grid = Image.open(run_dir / "samples" / "step_0000002.png")
    assert grid.size == (3 * 34 + 2, 2 * 34 + 2)  # rows of source | generated | target, 32px + 2px padding

    ckpt = run_dir / "checkpoints" / "last.ckpt"
    # metrics=[]: L1 / PSNR / SSIM only, no feature network (FID / KID: tests/test_paired_fidelity.py)
    args = [f"ckpt={ckpt}", "split=[train,val]", "eval_mode=eval", "metrics=[]"]
    out = evaluate_paired_job(compose(args, "evaluate_paired"))
    result = json.loads(out.read_text())
    assert result["protocol"]["eval_mode"] == "eval" and result["step"] == 2
    assert "fid" not in result["metrics"]["val"] and result["protocol"]["fidelity"] is None
    assert result["metrics"]["train"]["num_pairs"] == 4 and result["metrics"]["val"]["num_pairs"] == 3
    assert 0 < result["metrics"]["val"]["l1"] < 2 and -1 <= result["metrics"]["val"]["ssim"] <= 1

    written = translate(ckpt, root / "val", tmp_path / "translated")
    assert [p.name for p in written] == ["1.png", "2.png", "3.png"]
    assert Image.open(written[0]).size == (32, 32)


def test_resume_is_exact_although_grids_draw_dropout_noise(tmp_path):
    from gan_lab.jobs.train import train
    from gan_lab.training.checkpoint import load_checkpoint

    root = make_facades(tmp_path / "facades")
    overrides = [*tiny_pix2pix(root, tmp_path / "cache"), "dataset.image_size=64", "scheduler=none"]
    overrides.append("trainer.max_steps=4")
    train(compose(overrides), tmp_path / "straight")
    # 64px: the U-Net has a dropout block. Stopping at step 3 draws an extra grid (in train mode, so
    # with dropout) before the checkpoint; that must not shift the random stream of the training steps.
    train(compose([*overrides, "trainer.max_steps=3"]), tmp_path / "interrupted")
    train(compose([*overrides, "trainer.resume=auto"]), tmp_path / "interrupted")
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    b = load_checkpoint(tmp_path / "interrupted" / "checkpoints" / "last.ckpt")
    for name, tensor in a["generator"].items():
        assert torch.equal(tensor, b["generator"][name]), f"generator.{name} differs after resume"
