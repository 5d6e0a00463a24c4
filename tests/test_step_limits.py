"""Step limits: training stops at whichever of trainer.max_steps / max_epochs comes first (PyTorch Lightning's
convention), for every recipe; train_seconds continues over a resume; a changed run length under a
length-dependent LR schedule is announced."""

import json

import pytest

from gan_lab.config import validate_trainer
from gan_lab.errors import UserError
from gan_lab.training.checkpoint import load_checkpoint, save_checkpoint
from gan_lab.training.run import train
from gan_lab.training.trainer import step_limit
from tests.conftest import TINY, compose
from tests.recipes_tiny import RECIPES, has_data, tiny_recipe

SYNTHETIC = ["dataset=synthetic", "dataset.size=64", *TINY]  # 64 images, batch 16: 4 steps per epoch
QUIET = [
    "trainer.batch_size=4", "trainer.log_every=1", "trainer.sample_every=1000", "trainer.checkpoint_every=1000",
    "trainer.num_samples=4", "trainer.progress_bar=false", "trainer.precision=fp32", "trainer.channels_last=false",
]


def steps_logged(run_dir) -> list[int]:
    return [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_the_first_limit_reached_wins_and_is_named():
    assert step_limit(20, 5, 468, 1) == (20, "trainer.max_steps=20")  # the README's dcgan_mnist example
    assert step_limit(2000, 1, 468, 1) == (468, "trainer.max_epochs=1")
    assert step_limit(None, 2, 468, 1) == (936, "trainer.max_epochs=2")
    assert step_limit(100, None, 468, 5) == (100, "trainer.max_steps=100")
    assert step_limit(None, 1, 10, 5) == (2, "trainer.max_epochs=1")  # 5 D batches per step: ceil(10 / 5)
    assert step_limit(None, 0.5, 3, 1) == (2, "trainer.max_epochs=0.5")  # a part epoch rounds up


def test_both_limits_null_is_one_clear_error():
    cfg = compose([*SYNTHETIC, "trainer.max_steps=null"]).trainer
    with pytest.raises(UserError, match=r"trainer.max_steps and trainer.max_epochs are both null"):
        validate_trainer(cfg)
    assert validate_trainer(compose([*SYNTHETIC, "trainer.max_steps=null", "trainer.max_epochs=1"]).trainer)


def test_recipes_measured_in_epochs_have_no_step_limit_of_their_own():
    """Else the default max_steps=2000 would cut e.g. dcgan_mnist's 5 epochs (2340 steps) short."""
    for recipe in RECIPES:
        trainer = compose([f"experiment={recipe}"]).trainer
        assert (trainer.max_steps is None) != (trainer.max_epochs is None), recipe


@pytest.mark.parametrize("recipe", RECIPES)
def test_max_steps_stops_every_recipe_with_its_max_epochs_left_set(recipe, tmp_path, capsys):
    if not has_data(recipe):
        pytest.skip(f"{recipe}: its data is not under $GAN_LAB_DATA")
    cfg = compose([*tiny_recipe(recipe, tmp_path / "data"), *QUIET, "trainer.max_steps=3"])
    run_dir = tmp_path / "run"
    train(cfg, run_dir)
    assert steps_logged(run_dir) == [1, 2, 3]
    assert load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["step"] == 3
    assert "| 3 steps (trainer.max_steps=3) of batch 4" in capsys.readouterr().err


def test_max_epochs_stops_at_one_epoch_under_the_default_max_steps(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(compose([*SYNTHETIC, "trainer.max_steps=2000", "trainer.max_epochs=1", "trainer.log_every=1"]), run_dir)
    assert steps_logged(run_dir) == [1, 2, 3, 4]  # 64 images // batch 16
    assert "| 4 steps (trainer.max_epochs=1) of batch 16" in capsys.readouterr().err


def test_train_seconds_continue_after_a_resume(tmp_path):
    overrides = [*SYNTHETIC, "trainer.max_steps=2", "trainer.log_every=1"]
    train(compose(overrides), tmp_path)
    last = tmp_path / "checkpoints" / "last.ckpt"
    state = load_checkpoint(last)
    first_run = state["train_seconds"]
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert first_run == records[-1]["train_seconds"] > 0
    state["train_seconds"] = 1000.0  # as if the first part had taken 1000 s
    save_checkpoint({k: v for k, v in state.items() if k != "format"}, last)
    train(compose([*SYNTHETIC, "trainer.max_steps=4", "trainer.log_every=1", "trainer.resume=auto"]), tmp_path)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert 1000.0 < records[2]["train_seconds"] < records[3]["train_seconds"] < 1000.0 + 60
    assert load_checkpoint(last)["train_seconds"] == records[3]["train_seconds"]


def test_a_changed_run_length_under_a_length_dependent_schedule_warns_in_one_line(tmp_path, capsys):
    overrides = [*SYNTHETIC, "scheduler=linear_decay", "trainer.max_steps=2"]
    train(compose(overrides), tmp_path / "scheduled")
    capsys.readouterr()
    train(compose([*overrides, "trainer.max_steps=4", "trainer.resume=auto"]), tmp_path / "scheduled")
    lines = [line for line in capsys.readouterr().err.splitlines() if "run length changed" in line]
    assert lines == [
        "warning: the run length changed on resume (2 -> 4 steps, trainer.max_steps=4); the learning-rate schedule "
        "follows the 4-step schedule from step 2 on, so its rate jumps to that schedule's value (docs/reliability.md)"
    ]
    # Without a schedule (or with the same length) the run length is free to change, silently.
    train(compose([*SYNTHETIC, "trainer.max_steps=2"]), tmp_path / "constant")
    capsys.readouterr()
    train(compose([*SYNTHETIC, "trainer.max_steps=4", "trainer.resume=auto"]), tmp_path / "constant")
    assert "run length changed" not in capsys.readouterr().err
