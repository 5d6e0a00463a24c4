"""The TensorBoard logger: scalars, sample grids and the config land in event files; a resume replaces the
stale events; it composes with W&B in the logger group."""

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from gan_lab.tracking import Tracker
from tests.conftest import CONF_DIR

pytest.importorskip("tensorboard", reason="pip install tensorboard (a gan_lab dependency)")


def events(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_tensorboard_gets_scalars_images_and_the_config(tmp_path):
    grid = tmp_path / "grid.png"
    Image.new("RGB", (20, 10), (255, 0, 0)).save(grid)
    tracker = Tracker(tmp_path, {"tensorboard": True}, {"trainer": {"max_steps": 4}, "seed": 3})
    tracker.log({"step": 2, "g_loss": 1.5, "d_loss": float("nan"), "note": "text"})
    tracker.log({"step": 4, "g_loss": 0.5, "eval/classifier_fid": 90.0})
    tracker.log_image(4, "samples", grid)
    tracker.finish()
    acc = events(tmp_path / "tensorboard")
    assert [(e.step, e.value) for e in acc.Scalars("g_loss")] == [(2, 1.5), (4, 0.5)]
    assert [e.step for e in acc.Scalars("eval/classifier_fid")] == [4]
    assert "note" not in acc.Tags()["scalars"]
    (image,) = acc.Images("samples")
    assert (image.step, image.width, image.height) == (4, 20, 10)
    config_text = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "max_steps: 4" in config_text and "seed: 3" in config_text
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == 2  # the local log is kept as before


def test_a_resume_purges_the_stale_events(tmp_path):
    first = Tracker(tmp_path, {"tensorboard": True}, {})
    for step in (1, 2, 3, 4):  # killed after step 4; the checkpoint was at step 2
        first.log({"step": step, "g_loss": float(step)})
    first.finish()
    resumed = Tracker(tmp_path, {"tensorboard": True}, {})
    for step in (3, 4, 5):
        resumed.log({"step": step, "g_loss": 10.0 * step})
    resumed.finish()
    assert [(e.step, e.value) for e in events(tmp_path / "tensorboard").Scalars("g_loss")] == [
        (1, 1.0), (2, 2.0), (3, 30.0), (4, 40.0), (5, 50.0)]


def test_no_tensorboard_on_other_ranks_or_when_off(tmp_path):
    Tracker(tmp_path / "rank1", {"tensorboard": True}, {}, enabled=False).log({"step": 1, "g_loss": 1.0})
    Tracker(tmp_path / "off", {"tensorboard": False}, {}).log({"step": 1, "g_loss": 1.0})
    assert not (tmp_path / "rank1").exists() and not (tmp_path / "off" / "tensorboard").exists()


def test_logger_group_composes_wandb_and_tensorboard():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        both = compose("config", overrides=["logger=[wandb,tensorboard]", "logger.mode=offline"]).logger
        default = compose("config").logger
    GlobalHydra.instance().clear()
    assert both.wandb is True and both.tensorboard is True and both.mode == "offline" and both.project == "gan_lab"
    assert default.wandb is False and default.tensorboard is False
