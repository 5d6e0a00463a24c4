"""benchmarks/time_to_quality_table.py: the FID cell at M minutes is the latest evaluation at or before M."""

import json

import yaml

from benchmarks.time_to_quality_table import cell, evaluations


def fake_train_run(root, name, batch_size, fids, final_step=None):
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    (run / "eval").mkdir()
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"trainer": {"batch_size": batch_size, "n_critic": 1}}))
    for step, fid in fids:
        report = {"metrics": {"fid": {"value": fid}, "kid": {"value": fid / 1000}},
                  "protocol": {"step": step, "num_samples": 10000}}
        (run / "eval" / f"step_{step}-test-n10000.json").write_text(json.dumps(report))
    short = {"metrics": {"fid": {"value": 1.0}}, "protocol": {"step": 1, "num_samples": 2000}}
    (run / "eval" / "short.json").write_text(json.dumps(short))  # not FID-10k: never a cell
    if final_step is not None:
        (run / "result.json").write_text(json.dumps({"status": "finished", "final": {"step": final_step}}))
    return run


def test_cells_follow_minutes_at_the_idle_rate(tmp_path):
    # 100 img/s: step 300 x batch 100 = 30k images = 5 min, 600 = 10 min, 1200 = 20 min
    points, final = evaluations(fake_train_run(tmp_path, "a", 100, [(300, 30.0), (600, 20.0), (1200, 10.0)], 1200))
    assert final == 120000 and [p["images"] for p in points] == [30000, 60000, 120000]
    assert cell(points, 5, 100, 0, final)["fid"] == 30.0
    assert cell(points, 9, 100, 0, final)["fid"] == 30.0  # 10 min is past 9: the earlier one
    assert cell(points, 20, 100, 0, final)["fid"] == 10.0
    assert cell(points, 4, 100, 0, final) is None
    assert cell(points, 20, 100, 30000, final)["fid"] == 30.0  # capped: the recipe ended at 30k images
    late, final = evaluations(fake_train_run(tmp_path, "c", 100, [(306, 25.0), (1200, 10.0)], 1200))
    assert cell(late, 5, 100, 0, final)["fid"] == 25.0  # 5.1 min: within the 3% slack for checkpoint spacing
    assert cell(late, 4.8, 100, 0, final) is None


def test_no_cell_past_the_last_evaluation_unless_the_run_ended_there(tmp_path):
    points, final = evaluations(fake_train_run(tmp_path, "b", 100, [(300, 30.0)]))
    assert final is None  # still running
    assert cell(points, 5, 100, 0, final)["fid"] == 30.0
    assert cell(points, 20, 100, 0, final) is None
    ended, final = evaluations(fake_train_run(tmp_path, "d", 100, [(300, 30.0)], 300))
    assert cell(ended, 20, 100, 0, final)["fid"] == 30.0  # ended at 5 min: its result at 20 min
    longer, final = evaluations(fake_train_run(tmp_path, "e", 100, [(300, 30.0)], 1200))
    assert cell(longer, 20, 100, 0, final) is None  # trained on to 20 min, the end not evaluated
    assert evaluations(tmp_path / "not_started") == ([], None)


def test_hand_loop_outputs_are_read_by_images_seen(tmp_path):
    run = tmp_path / "hand"
    run.mkdir()
    snapshots = {"1000": {"images_seen": 1024}, "2000": {"images_seen": 2048}}
    (run / "train.json").write_text(json.dumps({"seed": 0, "snapshots": snapshots}))
    (run / "eval_images2000.json").write_text(json.dumps({"metrics": {"fid": {"value": 40.0}}}))
    points, final = evaluations(run)
    assert [(p["images"], p["fid"]) for p in points] == [(2048, 40.0)] and final is None
    assert cell(points, 1, 2048 / 60, 0, final)["fid"] == 40.0
    # the hand loop has no recipe end: a run stopped at its last snapshot gives no cell for later minutes
    assert cell(points, 2, 2048 / 60, 0, final) is None
