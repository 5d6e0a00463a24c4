"""Sweeps: thread shares, W&B grouping, the objective, launcher / Optuna configs, and real tiny multiruns."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from gan_lab.errors import UserError
from gan_lab.report import write_report
from gan_lab.sweeps import (
    JobInfo,
    objective_value,
    parse_overrides,
    sweep_override_keys,
    threads_per_job,
    wandb_settings,
    write_result,
)
from gan_lab.tracking import read_metrics

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "dataset.limit=256",
    "trainer.max_epochs=null",
    "trainer.max_steps=2",
    "trainer.batch_size=32",
    "model.generator.base_width=8",
    "model.discriminator.base_width=8",
    "trainer.num_samples=4",
    "trainer.log_every=1",
    "trainer.progress_bar=false",
]
JOBLIB = "JoblibLauncher"


# -- units ----------------------------------------------------------------------------------------------------------


def test_threads_split_the_cores_between_joblib_workers(monkeypatch):
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    job = lambda n_jobs: JobInfo(multirun=True, launcher_target=JOBLIB, launcher={"n_jobs": n_jobs})
    assert threads_per_job(job(2), cpu_count=8) == 4
    assert threads_per_job(job(3), cpu_count=8) == 2
    assert threads_per_job(job(-1), cpu_count=8) == 1  # joblib's -1: one worker per core
    assert threads_per_job(job(-2), cpu_count=8) == 1  # 7 workers
    assert threads_per_job(job(4), cpu_count=2) == 1  # never 0
    assert threads_per_job(JobInfo(multirun=False), cpu_count=8) is None  # a single run keeps torch's default
    assert threads_per_job(JobInfo(multirun=True, launcher_target="BasicLauncher"), cpu_count=8) is None
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "6")
    assert threads_per_job(JobInfo(multirun=True, launcher_target="SlurmLauncher"), cpu_count=64) == 6


def test_wandb_settings_group_a_sweep():
    job = JobInfo(
        multirun=True,
        sweep_name="dcgan_mnist-2026-01-01_00-00-00",
        job_num=3,
        overrides={"seed": "1", "loss.real_label": "0.9"},
        experiment="dcgan_mnist",
    )
    settings = wandb_settings({"backend": "wandb", "group": None, "tags": ["mine"], "name": None}, job, "dcgan_mnist")
    assert settings["group"] == "dcgan_mnist-2026-01-01_00-00-00"
    assert settings["name"] == "3:seed=1,loss.real_label=0.9"
    assert settings["tags"] == ["mine", "dcgan_mnist", "sweep"]
    assert wandb_settings({"group": "fixed"}, job, "x")["group"] == "fixed"  # an explicit group wins
    single = wandb_settings({"group": None, "name": None}, JobInfo(experiment="dcgan_mnist"), "dcgan_mnist")
    assert single["group"] is None and single["name"] is None and single["tags"] == ["dcgan_mnist"]


def test_parse_overrides():
    assert parse_overrides(["a.b=1", "+c=x=y", "~d", "hydra/launcher=joblib"]) == {
        "a.b": "1",
        "c": "x=y",
        "d": "",
        "hydra/launcher": "joblib",
    }


def test_variant_key_matches_the_report(tmp_path):
    task = ["experiment=dcgan_mnist", "trainer.ema_decay=0,0.99", "seed=0,1,2", "+x=range(1,3)", "trainer.max_steps=9"]
    assert sweep_override_keys(task, {"optimizer.lr": "interval(1e-4, 1e-3)"}) == [
        "trainer.ema_decay", "seed", "x", "optimizer.lr"]
    job = JobInfo(multirun=True, sweep_name="s", job_num=4, swept_keys=["trainer.ema_decay", "seed"],
                  overrides={"experiment": "dcgan_mnist", "trainer.ema_decay": "0.99", "seed": "1"})
    assert job.variant == "trainer.ema_decay=0.99"  # the report's label of the variant: seeds are averaged over
    assert wandb_settings({}, job, "dcgan_mnist")["variant"] == "trainer.ema_decay=0.99"
    assert JobInfo().variant == "all jobs"


def test_objective_best_is_the_min_or_max_of_the_logged_values(tmp_path):
    records = [{"step": 1, "fid": 50.0}, {"step": 2, "fid": 30.0}, {"step": 3, "fid": "nan"}, {"step": 4, "fid": 40.0}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert objective_value(tmp_path, {"metric": "fid", "summary": "best"}) == 30.0
    assert objective_value(tmp_path, {"metric": "fid", "summary": "best", "direction": "maximize"}) == 50.0
    assert objective_value(tmp_path, {"metric": "fid"}) == 40.0  # default: the last value
    with pytest.raises(UserError, match="objective.summary must be last or best"):
        objective_value(tmp_path, {"metric": "fid", "summary": "mean"})


def test_objective_is_the_last_logged_value(tmp_path):
    records = [{"step": 10, "g_loss": 3.0, "fid": 50.0}, {"step": 20, "g_loss": 2.0}, {"step": 30, "g_loss": "nan"}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert objective_value(tmp_path, {"metric": "fid"}) == 50.0  # logged every eval_every steps only
    assert str(objective_value(tmp_path, {"metric": "g_loss"})) == "nan"  # Optuna records NaN as a failed trial
    assert objective_value(tmp_path, {"metric": None}, {"step": 30}) == {"step": 30}
    with pytest.raises(UserError, match="objective.metric=is_score was never logged; logged keys: fid, g_loss"):
        objective_value(tmp_path, {"metric": "is_score"})
    write_result(tmp_path, float("nan"), {"step": 30})
    assert json.loads((tmp_path / "result.json").read_text())["objective"] == "nan"


# -- configs ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def compose_cfg():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        yield lambda overrides: compose("config", overrides=overrides, return_hydra_config=True)
    GlobalHydra.instance().clear()


@pytest.mark.parametrize(
    ("launcher", "target"),
    [("joblib", JOBLIB), ("slurm", "SlurmLauncher"), ("submitit_slurm", "SlurmLauncher")],
)
def test_launcher_configs_compose(compose_cfg, launcher, target):
    if "slurm" in launcher:
        pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install gan_lab[slurm]")
    cfg = compose_cfg([f"hydra/launcher={launcher}"])
    assert cfg.hydra.launcher._target_.endswith(target)
    if launcher == "slurm":  # our defaults on top of submitit's schema
        assert cfg.hydra.launcher.cpus_per_task == 8 and cfg.hydra.launcher.gpus_per_node == 0
        assert "submitit_folder" in cfg.hydra.launcher


def test_optuna_search_composes(compose_cfg):
    cfg = compose_cfg(["hparams_search=dcgan_mnist_optuna"])
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper")
    assert cfg.hydra.mode.name == "MULTIRUN"
    assert sweeper.direction == cfg.objective.direction == "minimize"
    assert cfg.objective.metric == "eval/classifier_fid" and cfg.objective.summary == "best"  # not a GAN loss
    assert cfg.trainer.eval_every > 0 and cfg.eval_metric.name == "classifier_fid"  # so the metric is logged
    assert set(sweeper.params) == {"optimizer.lr", "loss.real_label", "trainer.batch_size"}
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler"


# -- real sweeps (subprocesses) ---------------------------------------------------------------------------------------


def run_train(args, tmp_path, timeout=240):
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "GAN_LAB_DATA": os.environ.get("GAN_LAB_DATA", "/work/shared/datasets"),
        "GAN_LAB_CACHE": str(tmp_path / "cache"),
    }
    env.pop("GAN_LAB_DEBUG", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_joblib_2x2_sweep_with_wandb_groups(tmp_path):
    sweep = tmp_path / "grid"
    proc = run_train(
        [
            "--multirun",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            f"hydra.sweep.dir={sweep}",
            "logger=[wandb,tensorboard]",
            "seed=0,1",
            "optimizer.lr=2e-4,1e-3",
            *TINY,
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    job_dirs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [p.name for p in job_dirs] == ["0", "1", "2", "3"]
    combos = set()
    for job in job_dirs:
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        combos.add(tuple(o for o in overrides if o.startswith(("seed=", "optimizer.lr="))))
        result = json.loads((job / "result.json").read_text())
        assert result["status"] == "finished" and result["final"]["step"] == 2
        assert (job / "checkpoints" / "last.ckpt").exists()
        # one offline W&B run per job, in the sweep's group, with the job's thread share in its config
        runs = list((job / "wandb").glob("offline-run-*/run-*.wandb"))
        assert len(runs) == 1
        data = runs[0].read_bytes()
        assert b"dcgan_mnist_fast-grid" in data and b"sweep" in data  # the default recipe names the group
        assert b'"num_threads":1' in data  # 2 cores / 2 jobs, recorded in the W&B config
        lr = next(o for o in overrides if o.startswith("optimizer.lr="))
        assert b"variant" in data and f'"{lr}"'.encode() in data  # config variant = the report's key, no seed
        assert list((job / "tensorboard").glob("events.out.tfevents.*"))  # the same jobs in TensorBoard
    assert len(combos) == 4
    report = write_report(sweep, plots=False)
    variants = {v["optimizer.lr"]: v for v in _csv(report.parent / "variants.csv")}
    assert variants["0.0002"]["finished"] == "2" and variants["0.001"]["g_loss.std"] != ""  # Hydra writes 2e-4 so
    # the report's tables as a W&B run in the sweep's group, offline, for `wandb sync` (in a process of its own:
    # W&B's service may still be writing the run file when finish() returns)
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    proc = subprocess.run([sys.executable, "-m", "gan_lab.report", str(sweep), "--no-plots", "--wandb"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0 and "in group dcgan_mnist_fast-grid" in proc.stdout, proc.stderr[-2000:]
    (summary,) = (report.parent / "wandb").glob("offline-run-*/run-*.wandb")
    data = summary.read_bytes()
    assert b"dcgan_mnist_fast-grid" in data and b"report/variants" in data and b"table-file" in data


def test_failing_job_does_not_stop_the_joblib_sweep(tmp_path):
    sweep = tmp_path / "fail"
    proc = run_train(
        [
            "--multirun",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            f"hydra.sweep.dir={sweep}",
            "optimizer.lr=2e-4,-1",
            *TINY,
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (sweep / "0" / "result.json").exists()
    assert "optimizer.generator.lr must be a positive number" in (sweep / "1" / "failed.txt").read_text()
    jobs = {j["job"]: j for j in _csv(write_report(sweep, plots=False).parent / "jobs.csv")}
    assert jobs["0"]["status"] == "finished" and jobs["1"]["status"] == "failed"
    assert "lr must be a positive number" in jobs["1"]["error"]


def test_two_trial_optuna_search(tmp_path):
    sweep = tmp_path / "optuna"
    proc = run_train(
        [
            "hparams_search=dcgan_mnist_optuna",
            "hydra.sweeper.n_trials=2",
            f"hydra.sweep.dir={sweep}",
            *TINY[:3],
            *TINY[4:],
            "trainer.eval_every=1",
            "eval_metric.num_samples=64",
            "eval_metric.classifier.epochs=1",
        ],
        tmp_path,
        timeout=480,  # each trial also trains (once) and applies the classifier of its objective
    )  # batch size is searched (64 or 128 of the 256 images)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    objectives = [json.loads((sweep / n / "result.json").read_text())["objective"] for n in ("0", "1")]
    for n, objective in zip(("0", "1"), objectives, strict=True):  # each trial: its best in-training value
        records = read_metrics(sweep / n / "metrics.jsonl")
        fids = [r["eval/classifier_fid"] for r in records if "eval/classifier_fid" in r]
        assert len(fids) == 2 and objective == min(fids)
    assert results["best_value"] == pytest.approx(min(objectives))  # direction: minimize
    assert set(results["best_params"]) == {"optimizer.lr", "loss.real_label", "trainer.batch_size"}


def _csv(path):
    import csv

    with open(path) as f:
        return list(csv.DictReader(f))
