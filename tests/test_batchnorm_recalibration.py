"""trainer.bn_recalibration: BatchNorm statistics of the sampling generator recomputed on fresh latents, on a copy,
stored in checkpoints for evaluate.py / sample.py, without changing G, the EMA or the training trajectory."""

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_lab.errors import UserError
from gan_lab.evaluation.run import evaluate_checkpoint, evaluation_request
from gan_lab.jobs.train import train
from gan_lab.loading import load_generator
from gan_lab.models.dcgan import DCGANGenerator
from gan_lab.training.batchnorm_recalibration import (
    build_recalibration,
    recalibrate_batchnorm,
    recalibration_inputs,
)
from gan_lab.training.checkpoint import load_checkpoint
from tests.conftest import TINY, compose, local_trainer

SYNTHETIC = ["dataset=synthetic", "dataset.size=64", "dataset.image_size=8", *TINY, "trainer.max_steps=3"]
ON = ["trainer.bn_recalibration.batches=3"]


class TwoLayerGenerator(nn.Module):
    """z -> linear -> dropout -> BN -> ReLU -> linear -> BN: two BatchNorm layers whose inputs are easy to
    compute by hand (the second one's depends on the first normalising by its batch)."""

    latent_dim = 5

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.drop, self.bn1 = nn.Linear(5, 6), nn.Dropout(0.5), nn.BatchNorm1d(6)
        self.fc2, self.bn2 = nn.Linear(6, 4), nn.BatchNorm1d(4, momentum=0.3)
        nn.init.uniform_(self.bn1.weight, 0.5, 2.0), nn.init.uniform_(self.bn1.bias, -1.0, 1.0)

    def forward(self, z, cond=None):
        return self.bn2(self.fc2(torch.relu(self.bn1(self.drop(self.fc1(z))))))


class NoisyGenerator(TwoLayerGenerator):
    """Draws from torch's global RNG inside forward, as StyleGAN's noise inputs do."""

    def forward(self, z, cond=None):
        return super().forward(z + torch.randn_like(z), cond)


@torch.no_grad()
def by_hand(net: TwoLayerGenerator, batches: int, batch_size: int, seed: int):
    """The average over batches of each BatchNorm input's per-batch mean and unbiased variance (eval-mode
    dropout, batch statistics in the first BatchNorm), on z drawn from torch.Generator().manual_seed(seed)."""
    gen = torch.Generator().manual_seed(seed)
    sums = {"m1": 0, "v1": 0, "m2": 0, "v2": 0}
    for _ in range(batches):
        x1 = net.fc1(torch.randn(batch_size, 5, generator=gen))
        h = torch.relu(F.batch_norm(x1, None, None, net.bn1.weight, net.bn1.bias, training=True))
        x2 = net.fc2(h)
        for key, x in (("1", x1), ("2", x2)):
            sums["m" + key] = sums["m" + key] + x.mean(0) / batches
            sums["v" + key] = sums["v" + key] + x.var(0, unbiased=True) / batches
    return sums


def test_statistics_equal_the_mean_and_variance_of_the_batchnorm_inputs_computed_by_hand():
    net = TwoLayerGenerator()
    with torch.no_grad():
        net.train()(torch.randn(8, 5) * 3 + 1)  # running statistics that recalibration must replace, not extend
    assert recalibrate_batchnorm(net, batches=4, batch_size=16, seed=7) == 2
    expected = by_hand(net, 4, 16, 7)
    torch.testing.assert_close(net.bn1.running_mean, expected["m1"])
    torch.testing.assert_close(net.bn1.running_var, expected["v1"])
    torch.testing.assert_close(net.bn2.running_mean, expected["m2"])
    torch.testing.assert_close(net.bn2.running_var, expected["v2"])
    assert int(net.bn1.num_batches_tracked) == int(net.bn2.num_batches_tracked) == 4


def test_convolutional_batchnorm_statistics_match_the_inputs_seen_in_train_mode():
    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=8, channels=1, image_size=16, base_width=16)
    recalibrate_batchnorm(G, batches=3, batch_size=10, seed=3)
    bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    recomputed = {bn: (bn.running_mean.clone(), bn.running_var.clone()) for bn in bns}  # before the pass below
    seen: dict[nn.Module, list] = {}
    hooks = [bn.register_forward_pre_hook(lambda m, args: seen.setdefault(m, []).append(args[0])) for bn in bns]
    with torch.no_grad():
        G.train()
        for z, cond in recalibration_inputs(G, 3, 10, 3, "cpu"):
            G(z, cond)
    for hook in hooks:
        hook.remove()
    for bn in bns:
        means = torch.stack([x.mean((0, 2, 3)) for x in seen[bn]]).mean(0)
        variances = torch.stack([x.var((0, 2, 3), unbiased=True) for x in seen[bn]]).mean(0)
        torch.testing.assert_close(recomputed[bn][0], means)
        torch.testing.assert_close(recomputed[bn][1], variances)


def test_momentum_and_every_modules_training_flag_are_restored():
    net = TwoLayerGenerator().train()
    net.drop.eval()  # a mixed state: a submodule's own mode must survive too
    flags = {name: m.training for name, m in net.named_modules()}
    recalibrate_batchnorm(net, batches=2, batch_size=8, seed=0)
    assert {name: m.training for name, m in net.named_modules()} == flags
    assert net.bn1.momentum == 0.1 and net.bn2.momentum == 0.3


def test_global_rng_is_untouched_and_the_result_depends_on_the_seed_only():
    def buffers_after(seed, global_seed):
        torch.manual_seed(global_seed)
        net = NoisyGenerator()  # draws from the global RNG in forward
        torch.manual_seed(global_seed)
        before = torch.get_rng_state()
        recalibrate_batchnorm(net, batches=2, batch_size=8, seed=seed)
        assert torch.equal(torch.get_rng_state(), before), "the training's RNG stream moved"
        return torch.cat([net.bn1.running_mean, net.bn2.running_var])

    assert torch.equal(buffers_after(5, global_seed=1), buffers_after(5, global_seed=2))
    assert not torch.equal(buffers_after(5, global_seed=1), buffers_after(6, global_seed=1))


def test_conditional_generators_get_balanced_labels_over_all_batches():
    from gan_lab.models.conditional import ConditionalDCGANGenerator

    G = ConditionalDCGANGenerator(latent_dim=4, channels=1, image_size=8, num_classes=3, embed_dim=2, base_width=8)
    labels = torch.cat([cond for _, cond in recalibration_inputs(G, 3, 5, 0, "cpu")])
    assert labels.tolist() == [i % 3 for i in range(15)]
    assert recalibrate_batchnorm(G, batches=3, batch_size=5, seed=0) > 0


def test_a_generator_without_batchnorm_is_left_alone_and_said_once(capsys, tmp_path):
    net = nn.Sequential(nn.Linear(3, 3))
    net.latent_dim = 3
    state = {k: v.clone() for k, v in net.state_dict().items()}
    assert recalibrate_batchnorm(net, batches=2, batch_size=4, seed=0) == 0
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())

    mlp = ["model=mlp", "model.generator.batch_norm=false", "model.generator.hidden=[8]",
           "model.discriminator.hidden=[8]", "model.generator.latent_dim=4"]
    cfg = compose([*(o for o in SYNTHETIC if not o.startswith("model.")), *mlp, "trainer.ema_decay=0.9", *ON])
    trainer = local_trainer(cfg, tmp_path)
    assert trainer.bn_recalibration is None and trainer.sampling_generator is trainer.ema.model
    lines = [line for line in capsys.readouterr().err.splitlines() if "bn_recalibration" in line]
    assert lines == ["trainer.bn_recalibration: MLPGenerator has no BatchNorm layers; nothing to recompute"]


def test_a_generator_without_latents_is_refused_in_one_line():
    net = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))  # e.g. pix2pix's U-Net: the source image is its input
    cfg = compose([*SYNTHETIC, *ON]).trainer.bn_recalibration
    with pytest.raises(UserError, match="takes no z.*bn_recalibration.batches=0"):
        build_recalibration(cfg, net, run_seed=0, batch_size=4)


def test_off_by_default_and_checked_by_the_schema():
    from gan_lab.config import validate_trainer

    assert compose(SYNTHETIC).trainer.bn_recalibration.batches == 0
    with pytest.raises(UserError, match="bn_recalibration.batches must be >= 0"):
        validate_trainer(compose([*SYNTHETIC, "trainer.bn_recalibration.batches=-1"]).trainer)
    ddp = ["trainer.strategy=ddp", "trainer.sync_batchnorm=true", *ON]
    with pytest.raises(UserError, match="sync_batchnorm=false"):
        validate_trainer(compose([*SYNTHETIC, *ddp]).trainer)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same tiny run with the option off and on (seed 0, EMA on, a grid and checkpoint every 2 steps)."""
    root = tmp_path_factory.mktemp("bnrecal")
    base = [*SYNTHETIC, "trainer.ema_decay=0.9", "trainer.ema_buffers=copy", f"paths.cache_dir={root}/cache"]
    train(compose(base), root / "off")
    train(compose([*base, *ON]), root / "on")
    return root


def test_the_option_changes_only_the_sampling_statistics_not_g_d_or_the_ema(runs):
    off, on = (load_checkpoint(runs / name / "checkpoints" / "last.ckpt") for name in ("off", "on"))
    assert off["bn_recalibration"] is None
    for key in ("generator", "discriminator", "ema"):  # the trajectory and the EMA's own state (resume) unchanged
        assert off[key].keys() == on[key].keys()
        assert all(torch.equal(off[key][k], on[key][k]) for k in off[key]), f"{key} differs"
    entry = on["bn_recalibration"]
    assert entry["weights"] == "ema" and entry["batches"] == 3 and entry["batch_size"] == 16
    g_off, _, s_off = load_generator(runs / "off" / "checkpoints" / "last.ckpt")
    g_on, _, s_on = load_generator(runs / "on" / "checkpoints" / "last.ckpt")
    assert s_off["used_bn_recalibration"] is None and s_on["used_bn_recalibration"]["batches"] == 3
    stats = [k for k in g_on.state_dict() if k.endswith(("running_mean", "running_var"))]
    assert stats and all(not torch.equal(g_on.state_dict()[k], g_off.state_dict()[k]) for k in stats)
    assert all(torch.equal(g_on.state_dict()[k], entry["buffers"][k]) for k in stats)
    weights = [k for k in g_on.state_dict() if k not in entry["buffers"]]
    assert all(torch.equal(g_on.state_dict()[k], g_off.state_dict()[k]) for k in weights)
    # asked not to: the statistics training kept, as in the run without the option
    g_kept, _, s_kept = load_generator(runs / "on" / "checkpoints" / "last.ckpt", bn_recalibration=False)
    assert s_kept["used_bn_recalibration"] is None
    assert all(torch.equal(g_kept.state_dict()[k], g_off.state_dict()[k]) for k in g_off.state_dict())
    # G's weights (ema=false) are not the ones the statistics were computed for: not applied
    _, _, s_raw = load_generator(runs / "on" / "checkpoints" / "last.ckpt", use_ema=False)
    assert s_raw["used_bn_recalibration"] is None


def test_grids_and_metrics_see_the_recalibrated_copy_and_the_checkpoint_the_same_statistics(tmp_path):
    cfg = compose([*SYNTHETIC, "trainer.ema_decay=0", *ON])  # no EMA: a copy of G
    trainer = local_trainer(cfg, tmp_path)
    trainer.fit()
    G = trainer.sampling_generator
    assert G is not trainer.G and not G.training and trainer.G.training
    entry = trainer.bn_recalibration_entry()
    assert entry["weights"] == "generator"
    assert all(torch.equal(G.state_dict()[k], v) for k, v in entry["buffers"].items())
    assert any(not torch.equal(trainer.G.state_dict()[k], v) for k, v in entry["buffers"].items())
    assert trainer.sampling_generator is G  # once per step: the same copy, not computed again


def test_evaluation_records_whether_it_used_recomputed_statistics(runs):
    def evaluate(run, *extra):
        cfg = compose(
            [f"ckpt={runs}/{run}/checkpoints/last.ckpt", "metrics=[parzen]", "num_samples=16", "reference_size=16",
             "parzen.validation=16", f"paths.cache_dir={runs}/cache", *extra],
            config_name="evaluate",
        )
        return cfg, evaluate_checkpoint(cfg)[0]["protocol"]

    cfg, protocol = evaluate("on")
    assert protocol["bn_recalibration"] == {"weights": "ema", "batches": 3, "batch_size": 16,
                                            "seed": protocol["bn_recalibration"]["seed"]}
    assert "bn_recalibration" not in evaluation_request(cfg)  # requests of earlier results stay equal
    cfg, protocol = evaluate("on", "bn_recalibration=false", "name=kept")
    assert protocol["bn_recalibration"] is None and evaluation_request(cfg)["bn_recalibration"] is False
    assert json.loads((runs / "on" / "eval" / "kept.json").read_text())["protocol"]["bn_recalibration"] is None
    assert evaluate("off")[1]["bn_recalibration"] is None


def test_a_resumed_run_with_the_option_ends_as_the_uninterrupted_one(tmp_path):
    run = [*SYNTHETIC, "trainer.max_steps=4", "trainer.ema_decay=0.9", "trainer.ema_buffers=average", *ON]
    train(compose(run), tmp_path / "straight")
    train(compose([*run, "trainer.max_steps=2"]), tmp_path / "resumed")
    train(compose([*run, "trainer.resume=auto"]), tmp_path / "resumed")
    a, b = (load_checkpoint(tmp_path / name / "checkpoints" / "last.ckpt") for name in ("straight", "resumed"))
    assert a["step"] == b["step"] == 4
    for key in ("generator", "ema"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), f"{key} differs"
    buffers_a, buffers_b = a["bn_recalibration"]["buffers"], b["bn_recalibration"]["buffers"]
    assert all(torch.equal(buffers_a[k], buffers_b[k]) for k in buffers_a)


def test_recalibration_is_not_training_time_and_a_nested_pause_counts_once(tmp_path):
    import time

    from gan_lab.training.trainer import TrainClock

    clock = TrainClock()
    with clock.paused():
        time.sleep(0.05)
        with clock.paused():  # a recalibration inside an evaluation
            time.sleep(0.05)
    assert 0.1 <= clock.paused_seconds < 0.15
    trainer = local_trainer(compose([*SYNTHETIC, *ON]), tmp_path)
    trainer.sampling_generator  # noqa: B018 - the recalibration runs here
    assert trainer.clock.paused_seconds > 0
