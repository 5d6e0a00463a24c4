"""The worker data path: DataLoader workers on the seeded plan give the in-process batches, so runs and
resumes are bit-exact whichever path (and storage) built them; data_wait is logged."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_lab.data.paired import PairedImages
from gan_lab.training.checkpoint import load_checkpoint
from gan_lab.training.data_loading import BatchPlan, BatchSource
from gan_lab.training.run import train
from tests.conftest import TINY, compose
from tests.fakes import all_params


def random_folder(root: Path, n: int, size: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8), mode="L").save(root / f"{i:03d}.png")
    return root


def paired_set(tmp_path: Path) -> PairedImages:
    rng = np.random.default_rng(1)
    folder = tmp_path / "pairs" / "train"
    folder.mkdir(parents=True)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (10, 20, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return PairedImages(str(tmp_path / "pairs"), image_size=6, load_size=10, cache_dir=str(tmp_path / "cache"))


def test_plan_slices_one_global_batch_over_ranks():
    ranks = [BatchPlan(seed=3, num_examples=40, batch_size=4, world_size=2, rank=r) for r in range(2)]
    single = BatchPlan(seed=3, num_examples=40, batch_size=8)
    for n in (0, 4, 5, 11):  # 5 batches per epoch: 5 and 11 are in later epochs
        assert torch.equal(torch.cat([p.indices(n) for p in ranks]), single.indices(n))
    epoch0 = torch.cat([single.indices(n) for n in range(5)])
    assert sorted(epoch0.tolist()) == list(range(40))  # every example once per epoch


@pytest.mark.parametrize("storage", ["memory", "mmap"])
def test_workers_yield_exactly_the_in_process_batches_from_any_start(tmp_path, storage):
    data = paired_set(tmp_path)
    data.storage = storage
    data.setup()
    plan = BatchPlan(seed=5, num_examples=len(data), batch_size=3, world_size=2, rank=1)
    in_process = BatchSource(data, plan, torch.device("cpu"), stop=9)
    workers = BatchSource(data, plan, torch.device("cpu"), num_workers=2, stop=9)
    for n in [3, 4, 2, 3, 4, 5, 6, 7, 8]:  # starts mid-run (a resume), jumps back (the iterator restarts)
        a, b = in_process.get(n), workers.get(n)
        assert torch.equal(a.real, b.real) and torch.equal(a.cond, b.cond), f"batch {n} differs"
    assert workers._iterator is None  # stopped at the end of the plan: no workers left behind
    assert in_process.take_wait_seconds() > 0 and in_process.take_wait_seconds() == 0.0


def test_training_through_workers_and_mmap_equals_in_memory_and_resumes_exactly(tmp_path):
    root = random_folder(tmp_path / "images", n=40, size=16)
    common = [
        *TINY, "dataset=image_folder", f"dataset.root={root}", "dataset.image_size=16", "dataset.channels=1",
        f"dataset.cache_dir={tmp_path / 'cache'}", "trainer.batch_size=8", "trainer.log_every=1",
    ]
    workers = ["dataset.storage=mmap", "dataset.num_workers=2"]
    train(compose([*common, "dataset.storage=memory"]), tmp_path / "memory")
    train(compose([*common, *workers]), tmp_path / "workers")
    train(compose([*common, *workers, "trainer.max_steps=2"]), tmp_path / "resumed")
    train(compose([*common, *workers, "trainer.resume=auto"]), tmp_path / "resumed")

    reference = all_params(load_checkpoint(tmp_path / "memory" / "checkpoints" / "last.ckpt"))
    for run in ("workers", "resumed"):
        params = all_params(load_checkpoint(tmp_path / run / "checkpoints" / "last.ckpt"))
        for name, tensor in reference.items():
            assert torch.equal(params[name], tensor), f"{run}: {name} differs from the in-memory run"
    for run in ("memory", "workers"):
        records = [json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
        assert len(records) == 4 and all(0.0 < r["data_wait"] < 1.0 for r in records)
