"""The adversarial trainer: steps change both networks, resume equals an uninterrupted run."""

import json

import torch

from gan_lab.jobs.train import train
from gan_lab.training.checkpoint import load_checkpoint
from tests.conftest import TINY, compose, local_trainer

SYNTHETIC = ["dataset=synthetic", "dataset.size=64", *TINY]


def params(state_dict):
    return {k: v.clone() for k, v in state_dict.items()}


def test_one_step_changes_generator_and_discriminator(tmp_path):
    trainer = local_trainer(compose(SYNTHETIC), tmp_path)
    G, D = trainer.G, trainer.D
    g_before, d_before = params(G.state_dict()), params(D.state_dict())
    logs = trainer.train_step()
    assert trainer.step == 1
    assert set(logs) >= {"d_loss", "g_loss"} and all(torch.isfinite(v) for v in logs.values())
    changed_g = [k for k, v in G.state_dict().items() if "weight" in k and not torch.equal(v, g_before[k])]
    changed_d = [k for k, v in D.state_dict().items() if "weight" in k and not torch.equal(v, d_before[k])]
    assert len(changed_g) == len([k for k in g_before if "weight" in k])
    assert len(changed_d) == len([k for k in d_before if "weight" in k])


def test_data_order_is_a_seeded_permutation_per_epoch(tmp_path):
    trainer = local_trainer(compose(SYNTHETIC), tmp_path)
    per_epoch = trainer.batches_per_epoch
    assert per_epoch == 64 // 16
    epoch0 = torch.cat([trainer.batch_indices(i) for i in range(per_epoch)])
    epoch1 = torch.cat([trainer.batch_indices(per_epoch + i) for i in range(per_epoch)])
    assert sorted(epoch0.tolist()) == list(range(64)) == sorted(epoch1.tolist())
    assert not torch.equal(epoch0, epoch1)
    assert torch.equal(trainer.batch_indices(1), epoch0[16:32])  # a pure function of the batch number


def test_run_writes_checkpoints_samples_and_metrics(tmp_path):
    record = train(compose(SYNTHETIC), tmp_path)
    assert record["step"] == 4
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "last.ckpt", "step_0000002.ckpt", "step_0000004.ckpt"
    ]
    assert sorted(p.name for p in (tmp_path / "samples").glob("step_*")) == ["step_0000002.png", "step_0000004.png"]
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [2, 4]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "img_per_s", "train_seconds"} <= set(lines[0])
    assert 0 < lines[0]["train_seconds"] < lines[1]["train_seconds"]  # cumulative training wall time
    state = load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert state["step"] == 4
    assert state["config"]["model"]["generator"]["base_width"] == 8  # resolved config travels along
    assert {"generator", "discriminator", "opt_g", "opt_d", "rng"} <= set(state)


def test_resume_equals_uninterrupted_run(tmp_path):
    overrides = [*SYNTHETIC, "trainer.max_steps=6", "trainer.ema_decay=0.9", "trainer.n_critic=2"]
    train(compose(overrides), tmp_path / "straight")

    # The same run, stopped after 2 steps (as a kill after that checkpoint would), then resumed twice.
    interrupted = tmp_path / "interrupted"
    train(compose([*overrides, "trainer.max_steps=2"]), interrupted)
    train(compose([*overrides, "trainer.max_steps=4", "trainer.resume=auto"]), interrupted)
    train(compose([*overrides, "trainer.resume=auto"]), interrupted)

    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    b = load_checkpoint(interrupted / "checkpoints" / "last.ckpt")
    assert a["step"] == b["step"] == 6
    for key in ("generator", "discriminator", "ema"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"
    assert a["opt_g"]["state"][0]["exp_avg"].equal(b["opt_g"]["state"][0]["exp_avg"])
    steps = [json.loads(x)["step"] for x in (interrupted / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6], "metrics.jsonl has one record per logged step after resuming"


def test_resume_from_explicit_checkpoint_path(tmp_path):
    overrides = [*SYNTHETIC, "trainer.max_steps=2"]
    train(compose(overrides), tmp_path / "a")
    ckpt = tmp_path / "a" / "checkpoints" / "last.ckpt"
    record = train(compose([*SYNTHETIC, f"trainer.resume={ckpt}"]), tmp_path / "b")
    assert record["step"] == 4
