"""python -m gan_lab.report on synthetic sweep dirs: statuses, seed statistics, the paired comparison,
time to quality, eval tables, partial sweeps, plots, the CLI's errors."""

import csv
import math

import numpy as np
import pytest

from gan_lab.errors import UserError
from gan_lab.report import main, mean_std, write_report
from gan_lab.report.curves import Curve, area_under_curve, training_minutes
from gan_lab.report.statistics import summarize
from tests.report_fakes import make_job, make_quality_sweep, make_sweep, write_multirun_yaml

# eval/classifier_fid at steps 50..200 for seeds 0, 1, 2: seeds differ a lot, EMA is better on each by 2, 3, 1
FIDS = {
    "0": [[300, 200, 120, 100], [250, 150, 80, 60], [400, 300, 200, 180]],
    "0.99": [[290, 190, 110, 98], [240, 140, 70, 57], [390, 290, 190, 179]],
}


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_mean_std_is_sample_std():
    mean, std = mean_std([1.0, 2.0, 3.0])
    assert mean == 2.0 and std == pytest.approx(1.0)  # sqrt(((1-2)^2 + 0 + (3-2)^2) / 2)
    mean, std = mean_std([5.0])
    assert mean == 5.0 and math.isnan(std)


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible():
    values = [3.0, 1.0, 4.0, 1.5, 5.0]
    s = summarize(values)
    assert s.n == 5 and s.mean == pytest.approx(2.9)
    assert min(values) <= s.low < s.mean < s.high <= max(values)  # a CI of the mean lies inside the data
    assert (s.low, s.high) == (summarize(values).low, summarize(values).high)  # fixed bootstrap generator
    assert math.isnan(summarize([7.0]).low) and summarize([7.0]).mean == 7.0  # one seed: no interval
    same = summarize([2.0, 2.0, 2.0])
    assert (same.low, same.high) == (2.0, 2.0)
    assert summarize([float("nan"), 1.0]).n == 1  # a diverged seed is not averaged in


def test_seeds_aggregate_into_mean_and_interval(tmp_path):
    report = write_report(make_sweep(tmp_path), plots=False)
    variants = read_csv(report.parent / "variants.csv")
    assert [v["loss.real_label"] for v in variants] == ["1.0", "0.9"]
    assert "seed" not in variants[0]  # seeds are what we average over
    assert variants[0]["finished"] == "3" and variants[0]["jobs"] == "3"
    assert variants[0]["g_loss.mean"] == "2" and variants[0]["g_loss.std"] == "1" and variants[0]["g_loss.n"] == "3"
    assert 1 <= float(variants[0]["g_loss.ci_low"]) < 2 < float(variants[0]["g_loss.ci_high"]) <= 3
    assert variants[0]["d_loss.mean"] == "20"
    assert variants[0]["fid.classifier_fid.mean"] == "1"  # eval/fid.json: {"value": v, ...} -> v
    assert variants[0]["fid.mode_coverage.classes_covered.mean"] == "10"
    assert not [k for k in variants[0] if "protocol" in k or "num_samples" in k]  # the protocol's numbers skipped
    # 0.9: the failed seed is left out; 4 and 6 -> mean 5, std sqrt(2)
    assert variants[1]["finished"] == "2" and variants[1]["g_loss.mean"] == "5"
    assert variants[1]["g_loss.std"] == f"{math.sqrt(2):.4g}"
    md = (report.parent / "variants.md").read_text()
    assert "| 1.0 | 3/3 |" in md and "2 [" in md  # mean [low, high]


def test_fewer_than_three_seeds_warns(tmp_path):
    report = write_report(make_sweep(tmp_path), plots=False)
    text = report.read_text()
    assert "loss.real_label=0.9: only 2 finished seed(s)" in text
    assert "loss.real_label=1.0: only" not in text  # 3 seeds: no warning
    assert "only 2 finished seed(s)" in (report.parent / "report.html").read_text()


def test_jobs_table_marks_the_failed_job(tmp_path):
    report = write_report(make_sweep(tmp_path), plots=False)
    jobs = read_csv(report.parent / "jobs.csv")
    assert len(jobs) == 6
    assert list(jobs[0])[:4] == ["job", "loss.real_label", "seed", "status"]  # swept params only, not fixed ones
    statuses = {j["job"]: j["status"] for j in jobs}
    assert statuses["5"] == "failed" and list(statuses.values()).count("finished") == 5
    assert jobs[5]["error"] == "UserError: loss went to the moon"
    assert jobs[1]["g_loss"] == "2" and jobs[1]["step"] == "20"
    text = report.read_text()
    assert "1 failed" in text and "## Failed jobs" in text and "loss went to the moon" in text


def test_paired_comparison_pairs_by_seed(tmp_path):
    sweep = make_quality_sweep(tmp_path, FIDS)
    report = write_report(sweep, plots=False, baseline="trainer.ema_decay=0.0")  # 0.0 matches the typed 0
    rows = read_csv(report.parent / "comparison.csv")
    fid = next(r for r in rows if r["metric"] == "eval/classifier_fid")
    assert fid["variant"] == "trainer.ema_decay=0.99" and fid["vs"] == "trainer.ema_decay=0"
    assert fid["better"] == "lower" and fid["paired seeds"] == "0,1,2"
    # last values: 98-100, 57-60, 179-180 -> -2, -3, -1: better on every seed although seeds differ by 120
    assert fid["difference (variant - baseline)"].startswith("-2 [-3, -1")
    assert fid["better on"] == "3/3 seeds" and fid["P(better)"] == "1"
    assert "baseline trainer.ema_decay=0" in report.read_text()


def test_baseline_errors_name_the_fix(tmp_path):
    sweep = make_quality_sweep(tmp_path, FIDS)
    with pytest.raises(UserError, match="key one of the swept parameters \\(trainer.ema_decay\\)"):
        write_report(sweep, plots=False, baseline="loss.real_label=0.9")
    with pytest.raises(UserError, match="matches no variant; trainer.ema_decay takes the values 0, 0.99"):
        write_report(sweep, plots=False, baseline="trainer.ema_decay=0.5")
    assert not (sweep / "report").exists()  # refused before writing anything


def test_baseline_with_two_swept_parameters_compares_like_with_like(tmp_path):
    sweep = tmp_path / "grid"
    sweep.mkdir()
    write_multirun_yaml(sweep, ["optimizer.lr=1e-4,1e-3", "trainer.ema_decay=0,0.99", "seed=0,1"])
    num = 0
    for lr, base in (("1e-4", 100.0), ("1e-3", 10.0)):
        for ema, gain in (("0", 0.0), ("0.99", -1.0)):
            for seed in (0, 1):
                make_job(sweep, num, {"optimizer.lr": lr, "trainer.ema_decay": ema, "seed": seed},
                         {"eval/classifier_fid": base + gain + seed})
                num += 1
    rows = read_csv(write_report(sweep, plots=False, baseline="trainer.ema_decay=0").parent / "comparison.csv")
    fid = {r["variant"]: r for r in rows if r["metric"] == "eval/classifier_fid"}
    assert set(fid) == {"optimizer.lr=1e-4, trainer.ema_decay=0.99", "optimizer.lr=1e-3, trainer.ema_decay=0.99"}
    assert fid["optimizer.lr=1e-3, trainer.ema_decay=0.99"]["vs"] == "optimizer.lr=1e-3, trainer.ema_decay=0"
    assert all(r["difference (variant - baseline)"] == "-1 [-1, -1]" for r in fid.values())


def test_time_to_quality_thresholds_auc_and_best_vs_last(tmp_path):
    sweep = make_quality_sweep(tmp_path, {"0": FIDS["0"], "0.99": FIDS["0.99"]})
    report = write_report(sweep, plots=True, thresholds=[150, 90])
    ttq = {r["variant"]: r for r in read_csv(report.parent / "time_to_quality.csv")}
    base = ttq["trainer.ema_decay=0"]
    assert base["seeds"] == "3" and base["best at step (median)"] == "200"
    assert base["best eval/classifier_fid"].startswith("113.3 [")  # (100 + 60 + 180) / 3
    assert base["last eval/classifier_fid"].startswith("113.3 [") and base["last step"] == "200"
    # AUC over millions of images (batch 100: 5000 images between evaluations): seed 0 (250 + 160 + 110) x 0.005
    # = 2.6, seed 1 1.925, seed 2 3.95
    assert base["AUC (metric x M images)"].startswith("2.825 [")
    reach = [r for r in read_csv(report.parent / "thresholds.csv") if r["variant"] == "trainer.ema_decay=0"]
    at150, at90 = reach
    assert at150["eval/classifier_fid"] == "<= 150" and at150["seeds reaching it"] == "2/3"  # seed 2 never
    # seed 0 reaches 150 at step 150 (15000 images, 1.5 min), seed 1 at step 100 (10000 images, 1 min)
    assert at150["images seen (median)"] == "12,500" and at150["training minutes (median)"] == "1.25"
    assert at90["seeds reaching it"] == "1/3" and at90["step (median)"] == "150"
    text = report.read_text()
    assert "every 50 steps during training" in text and "2000 generated images" in text  # the protocol, from config
    assert (report.parent / "quality_eval_classifier_fid.png").stat().st_size > 5000


def test_default_thresholds_lie_between_the_start_and_the_best(tmp_path):
    sweep = make_quality_sweep(tmp_path, FIDS)
    report = write_report(sweep, plots=False)
    levels = [float(r["eval/classifier_fid"].removeprefix("<= ")) for r in read_csv(report.parent / "thresholds.csv")]
    # worst median start 300 (EMA off), best median best 98 (EMA on): a quarter, half, three quarters of the way
    assert levels[:3] == pytest.approx([249.5, 199, 148.5], abs=0.5)


def test_area_under_curve_and_minutes_across_a_resume():
    curve = Curve(np.array([1.0, 2.0]), np.array([0.0, 2e6]), np.array([0.0, 1.0]), np.array([4.0, 2.0]))
    assert area_under_curve(curve) == pytest.approx(6.0)  # (4 + 2) / 2 x 2 M images
    records = [{"step": 10, "train_seconds": 60}, {"step": 20, "train_seconds": 120},
               {"step": 30, "train_seconds": 30}]  # resumed at step 20: fit() counts from 0 again
    steps, minutes = training_minutes(records)
    assert list(steps) == [10, 20, 30] and list(minutes) == pytest.approx([1.0, 2.0, 2.5])


def test_eval_tables_carry_their_protocol(tmp_path):
    sweep = make_sweep(tmp_path)
    report = write_report(sweep, plots=False)
    text = report.read_text()
    head = "eval/fid.json: checkpoint last.ckpt, 100 samples (seed 0), EMA off, vs MNIST test (10000 images)"
    assert head in text and "project classifier features (test accuracy 0.9800)" in text
    rows = {r["variant"]: r for r in read_csv(report.parent / "eval_fid.csv")}
    assert rows["loss.real_label=1.0"]["classifier_fid"].startswith("1 [")  # mean of 0.5, 1, 1.5


def test_partial_sweep_and_plots(tmp_path):
    sweep = make_sweep(tmp_path)
    # a job still running: metrics so far, no result.json -> listed, not averaged
    make_job(sweep, 6, {"loss.real_label": "0.8", "seed": 0}, {"g_loss": 100.0}, status="unfinished", steps=(10,))
    report = write_report(sweep, metrics=["g_loss", "fid.classifier_fid"])
    jobs = {j["job"]: j for j in read_csv(report.parent / "jobs.csv")}
    assert jobs["6"]["status"] == "unfinished" and jobs["6"]["g_loss"] == "100"
    variants = {v["loss.real_label"]: v for v in read_csv(report.parent / "variants.csv")}
    assert variants["0.8"]["finished"] == "0" and variants["0.8"]["g_loss.mean"] == ""
    for name in ("curve_g_loss.png", "final_g_loss.png", "final_fid.classifier_fid.png"):
        assert (report.parent / name).stat().st_size > 1000
    assert "![curve_g_loss.png](curve_g_loss.png)" in report.read_text()


def test_cli_prints_table_and_rejects_bad_input(tmp_path, capsys):
    sweep = make_sweep(tmp_path)
    main([str(sweep), "--metrics", "g_loss", "--no-plots", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert "| loss.real_label | finished | g_loss |" in out and "report.html" in out
    assert not list((tmp_path / "out").glob("*.png"))
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "nope")])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main([str(sweep), "--baseline", "seed"])
    assert exit_info.value.code == 2 and "--baseline must be key=value" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit):
        main([str(empty)])
    assert "no jobs under" in capsys.readouterr().err
