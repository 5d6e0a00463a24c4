"""SLURM without a cluster: submitit's local executor runs a sweep through the code path a cluster uses
(the launcher pickles the job, submits it, a fresh process unpickles and runs it, results come back)."""

import json

import pytest
from hydra import compose as hydra_compose
from hydra import initialize_config_dir

from tests.conftest import CONF_DIR, TINY
from tests.test_sweeps import run_train

pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install gan_lab[dev] (submitit launcher)")


def test_submitit_local_runs_a_two_job_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_train(
        ["--multirun", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5", f"hydra.sweep.dir={sweep}",
         "dataset=synthetic", "dataset.size=64", *TINY, "trainer.max_steps=2", "trainer.num_threads=1", "seed=0,1"],
        tmp_path, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(".")) == ["0", "1"]
    for job in ("0", "1"):
        result = json.loads((sweep / job / "result.json").read_text())
        assert result["status"] == "finished" and result["final"]["step"] == 2
        assert (sweep / job / "checkpoints" / "last.ckpt").is_file()
    # submitit really ran them as its own jobs: its submission folder holds one result file per job
    assert len(list((sweep / ".submitit").glob("*/*_result.pkl"))) == 2


def test_slurm_config_requeues_preempted_and_timed_out_jobs():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose("config", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert launcher.additional_parameters.requeue is True  # sbatch --requeue
    assert launcher.max_num_timeout > 0 and launcher.signal_delay_s > 0
    assert {"partition", "timeout_min", "gpus_per_node"} <= set(launcher)
