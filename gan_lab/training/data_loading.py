"""Where the trainer's batches come from: the seeded data order, and who assembles the batches.

The data order is a pure function (BatchPlan): global batch n of the run holds
the examples perm_e[n' * G : (n' + 1) * G] of the seeded permutation of epoch e
(n = e * batches_per_epoch + n', G the global batch), and rank r takes its
slice of it; the augmentation of a batch is seeded by (seed, n, r). So a batch
does not depend on who builds it or when, and resuming needs no loader state.

BatchSource hands the trainer batch n either by building it in the training
process (num_workers=0: an index lookup in the in-memory or memory-mapped
tensor) or from a torch DataLoader whose sampler yields exactly the plan's
(n, indices) from the requested batch on, so num_workers processes decode,
crop and flip ahead of the step (prefetch_factor batches each) while the step
computes. Either way it measures the time the step waited for data; the trainer
logs it as `data_wait`, the share of wall time between two log records.
"""

from __future__ import annotations

import time

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from gan_lab.data.base import Batch, ImageData


class BatchPlan:
    """Example indices and augmentation seed of every (global batch number, rank); picklable for workers."""

    def __init__(self, seed: int, num_examples: int, batch_size: int, world_size: int = 1, rank: int = 0):
        self.seed, self.num_examples = seed, num_examples
        self.batch_size, self.world_size, self.rank = batch_size, world_size, rank
        self.global_batch_size = batch_size * world_size
        self.batches_per_epoch = num_examples // self.global_batch_size  # drop_last
        self._perm_epoch, self._perm = -1, None

    def permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._perm_epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm, self._perm_epoch = torch.randperm(self.num_examples, generator=gen), epoch
        return self._perm

    def indices(self, batch_number: int) -> torch.Tensor:
        """This rank's part of the n-th global batch."""
        epoch, position = divmod(batch_number, self.batches_per_epoch)
        start = position * self.global_batch_size + self.rank * self.batch_size
        return self.permutation(epoch)[start : start + self.batch_size]

    def augmentation_generator(self, batch_number: int, generator: torch.Generator | None = None) -> torch.Generator:
        generator = generator or torch.Generator()
        return generator.manual_seed((self.seed * 7_919 + batch_number) * 64 + self.rank)

    def batch(self, data: ImageData, batch_number: int, generator: torch.Generator | None = None) -> Batch:
        return data.get_batch(self.indices(batch_number), self.augmentation_generator(batch_number, generator))


class PlannedBatches(Sampler):
    """Yields (batch number, this rank's indices) for batch numbers start, start + 1, ..., stop - 1."""

    def __init__(self, plan: BatchPlan, start: int, stop: int):
        self.plan, self.start, self.stop = plan, start, stop

    def __iter__(self):
        for n in range(self.start, self.stop):
            yield n, self.plan.indices(n)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


class _PlannedBatchDataset(Dataset):
    """dataset[(n, indices)] is batch n, built exactly as the in-process path builds it."""

    def __init__(self, data: ImageData, plan: BatchPlan):
        self.data, self.plan = data, plan

    def __getitem__(self, item) -> Batch:
        n, indices = item
        return self.data.get_batch(indices, self.plan.augmentation_generator(n))


def _one_thread_per_worker(worker_id: int) -> None:
    torch.set_num_threads(1)  # workers share the cores with the step; intra-op threads would oversubscribe


class BatchSource:
    """Batch n on the trainer's device, built in-process or by DataLoader workers, timing the wait."""

    def __init__(
        self, data: ImageData, plan: BatchPlan, device: torch.device, memory_format=torch.contiguous_format,
        num_workers: int = 0, stop: int | None = None, prefetch_factor: int = 2,
    ):
        self.data, self.plan, self.device, self.memory_format = data, plan, device, memory_format
        self.num_workers, self.prefetch_factor = num_workers, prefetch_factor
        self.stop = stop
        self.wait_seconds = 0.0
        self._generator = torch.Generator()
        self._iterator = None
        self._next = -1  # the batch number the iterator yields next

    def get(self, batch_number: int) -> Batch:
        start = time.perf_counter()
        if self.num_workers == 0:
            batch = self.plan.batch(self.data, batch_number, self._generator)
        else:
            batch = self._from_workers(batch_number)
        batch = batch.to(self.device, self.memory_format)
        self.wait_seconds += time.perf_counter() - start
        return batch

    def _from_workers(self, batch_number: int) -> Batch:
        if self._iterator is None or batch_number != self._next:  # first batch, or a jump (resume)
            self.close()
            stop = self.stop if self.stop is not None and self.stop > batch_number else batch_number + 1
            loader = DataLoader(
                _PlannedBatchDataset(self.data, self.plan), batch_size=None,
                sampler=PlannedBatches(self.plan, batch_number, stop), num_workers=self.num_workers,
                prefetch_factor=self.prefetch_factor, pin_memory=self.device.type == "cuda",
                worker_init_fn=_one_thread_per_worker,
            )
            self._iterator, self._stop_of_iterator = iter(loader), stop
        batch = next(self._iterator)
        self._next = batch_number + 1
        if self._next >= self._stop_of_iterator:  # the last planned batch: let the workers exit now
            self.close()
        return batch

    def take_wait_seconds(self) -> float:
        """Seconds spent waiting for batches since the last call."""
        seconds, self.wait_seconds = self.wait_seconds, 0.0
        return seconds

    def close(self) -> None:
        self._iterator = None  # the DataLoader iterator shuts its workers down when dropped
