"""python -m gan_lab.report on synthetic sweep dirs: statuses, seed aggregation, partial sweeps, plots."""

import csv
import json
import math

import pytest
import yaml

from gan_lab.report import main, mean_std, write_report


def make_job(sweep, num, overrides, finals=None, status="finished", steps=(10, 20), eval_json=None):
    """A job dir as train.py leaves it: .hydra/overrides.yaml, metrics.jsonl, result.json or failed.txt."""
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"{k}={v}" for k, v in overrides.items()]))
    if finals is not None:
        records = []
        for i, step in enumerate(steps):  # the last record carries the final values, earlier ones other values
            later = len(steps) - 1 - i
            records.append({"step": step, "img_per_s": 100.0, **{k: v + later for k, v in finals.items()}})
        (job / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if status == "finished":
        (job / "result.json").write_text(json.dumps({"status": "finished"}))
    elif status == "failed":
        (job / "failed.txt").write_text("UserError: loss went to the moon\n\nTraceback ...\n")
    if eval_json is not None:
        (job / "eval").mkdir()
        (job / "eval" / "fid.json").write_text(json.dumps(eval_json))
    return job


def make_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    task = ["experiment=dcgan_mnist", "loss.real_label=1.0,0.9", "seed=0,1,2", "trainer.max_steps=20"]
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": task}}}))
    num = 0
    g_losses = {"1.0": [1.0, 2.0, 3.0], "0.9": [4.0, 6.0, None]}  # None: that job failed
    for label in ("1.0", "0.9"):
        for seed in range(3):
            value = g_losses[label][seed]
            overrides = {"experiment": "dcgan_mnist", "loss.real_label": label, "seed": seed, "trainer.max_steps": 20}
            if value is None:
                make_job(sweep, num, overrides, status="failed")
            else:
                make_job(
                    sweep,
                    num,
                    overrides,
                    {"g_loss": value, "d_loss": 10 * value},
                    eval_json={
                        "metrics": {
                            "classifier_fid": {"value": value / 2, "num_samples": 100, "classifier": "lenet"},
                            "mode_coverage": {"classes_covered": 10, "kl_to_uniform": 0.1},
                        },
                        "protocol": {"step": 20, "num_samples": 100},
                    },
                )
            num += 1
    return sweep


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_mean_std_is_sample_std():
    mean, std = mean_std([1.0, 2.0, 3.0])
    assert mean == 2.0 and std == pytest.approx(1.0)  # sqrt(((1-2)^2 + 0 + (3-2)^2) / 2)
    mean, std = mean_std([5.0])
    assert mean == 5.0 and math.isnan(std)


def test_seeds_aggregate_into_mean_and_std(tmp_path):
    sweep = make_sweep(tmp_path)
    report = write_report(sweep, plots=False)
    variants = read_csv(report.parent / "variants.csv")
    assert [v["loss.real_label"] for v in variants] == ["1.0", "0.9"]
    assert "seed" not in variants[0]  # seeds are what we average over
    assert variants[0]["finished"] == "3/3"
    assert variants[0]["g_loss"] == "2 +- 1"
    assert variants[0]["d_loss"] == "20 +- 10"
    assert variants[0]["fid.classifier_fid"] == "1 +- 0.5"  # eval/fid.json: {"value": v, ...} -> v
    assert variants[0]["fid.mode_coverage.classes_covered"] == "10 +- 0"
    assert not [k for k in variants[0] if "protocol" in k or "num_samples" in k]  # numbers of the protocol skipped
    # 0.9: the failed seed is left out; 4 and 6 -> mean 5, std sqrt(2)
    assert variants[1]["finished"] == "2/3"
    assert variants[1]["g_loss"] == f"5 +- {math.sqrt(2):.4g}"


def test_jobs_table_marks_the_failed_job(tmp_path):
    sweep = make_sweep(tmp_path)
    report = write_report(sweep, plots=False)
    jobs = read_csv(report.parent / "jobs.csv")
    assert len(jobs) == 6
    assert list(jobs[0])[:4] == ["job", "loss.real_label", "seed", "status"]  # swept params only, not fixed ones
    statuses = {j["job"]: j["status"] for j in jobs}
    assert statuses["5"] == "failed" and list(statuses.values()).count("finished") == 5
    assert jobs[5]["error"] == "UserError: loss went to the moon"
    assert jobs[1]["g_loss"] == "2" and jobs[1]["step"] == "20"
    text = report.read_text()
    assert "1 failed" in text and "## Failed jobs" in text and "loss went to the moon" in text


def test_partial_sweep_and_plots(tmp_path):
    sweep = make_sweep(tmp_path)
    # a job still running: metrics so far, no result.json -> listed, not averaged
    make_job(sweep, 6, {"loss.real_label": "0.8", "seed": 0}, {"g_loss": 100.0}, status="unfinished", steps=(10,))
    report = write_report(sweep, metrics=["g_loss", "fid.classifier_fid"])
    jobs = {j["job"]: j for j in read_csv(report.parent / "jobs.csv")}
    assert jobs["6"]["status"] == "unfinished" and jobs["6"]["g_loss"] == "100"
    variants = {v["loss.real_label"]: v for v in read_csv(report.parent / "variants.csv")}
    assert variants["0.8"]["finished"] == "0/1" and variants["0.8"]["g_loss"] == ""
    for name in ("curve_g_loss.png", "final_g_loss.png", "final_fid.classifier_fid.png"):
        assert (report.parent / name).stat().st_size > 1000
    assert "![curve_g_loss.png](curve_g_loss.png)" in report.read_text()


def test_cli_prints_table_and_rejects_missing_dir(tmp_path, capsys):
    sweep = make_sweep(tmp_path)
    main([str(sweep), "--metrics", "g_loss", "--no-plots", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert "| loss.real_label | finished | g_loss |" in out
    assert not list((tmp_path / "out").glob("*.png"))
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "nope")])
    assert exit_info.value.code == 2
