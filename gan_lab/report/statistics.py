"""Seed statistics: variants, mean with a bootstrap confidence interval, paired comparison with a baseline.

A variant is one combination of the swept parameters except the seed. Its finished jobs are its seeds.
Intervals are percentile bootstrap intervals of the mean (scipy.stats.bootstrap, fixed generator, so a
report is reproducible). With 3 seeds there are only 10 distinct resamples: the interval is a rough
guide, and the report warns below 3 seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from gan_lab.errors import UserError
from gan_lab.report.collect import Job, is_finite
from gan_lab.sweeps import SEED_KEY, variant_label

CONFIDENCE = 0.95
RESAMPLES = 9999
BOOTSTRAP_SEED = 0
MIN_SEEDS = 3
# metric names (substrings) where larger is better; everything else (FIDs, KL, losses) is read as lower is better
HIGHER_IS_BETTER = ("accuracy", "classes_covered", "precision", "recall", "inception_score", "isc", "d_real")
PROTOCOL = (
    f"mean over the finished seeds, [{CONFIDENCE:.0%} percentile bootstrap CI of the mean] (scipy.stats.bootstrap, "
    f"{RESAMPLES} resamples, seed {BOOTSTRAP_SEED})"
)


def lower_is_better(metric: str) -> bool:
    return not any(word in metric.lower() for word in HIGHER_IS_BETTER)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; nan for a single value)."""
    x = np.asarray(values, dtype=float)
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else float("nan")


def _bootstrap(values: np.ndarray):
    return stats.bootstrap(
        (values,), np.mean, confidence_level=CONFIDENCE, n_resamples=RESAMPLES, method="percentile",
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )


@dataclass
class Summary:
    n: int
    mean: float = math.nan
    std: float = math.nan
    low: float = math.nan  # CI of the mean; nan below 2 values
    high: float = math.nan


def summarize(values: list[float]) -> Summary:
    x = np.asarray([v for v in values if is_finite(v)], dtype=float)
    if len(x) == 0:
        return Summary(0)
    mean, std = mean_std(list(x))
    if len(x) < 2:
        return Summary(1, mean, std)
    if np.ptp(x) == 0:  # all seeds equal: the bootstrap is degenerate, the interval is the value
        return Summary(len(x), mean, std, mean, mean)
    ci = _bootstrap(x).confidence_interval
    return Summary(len(x), mean, std, float(ci.low), float(ci.high))


@dataclass
class Variant:
    label: str
    params: dict[str, str]
    jobs: list[Job]

    @property
    def finished(self) -> list[Job]:
        return [j for j in self.jobs if j.status == "finished"]

    def values(self, metric: str) -> list[float]:
        return [j.final[metric] for j in self.finished if is_finite(j.final.get(metric))]

    def summary(self, metric: str) -> Summary:
        return summarize(self.values(metric))


def group_variants(jobs: list[Job], keys: list[str]) -> list[Variant]:
    variant_keys = [k for k in keys if k != SEED_KEY]
    variants: dict[tuple, Variant] = {}
    for job in jobs:
        params = {k: job.overrides.get(k, "") for k in variant_keys}
        ident = tuple(params.values())
        if ident not in variants:
            variants[ident] = Variant(variant_label(params), params, [])
        variants[ident].jobs.append(job)
    return list(variants.values())


def few_seed_warnings(variants: list[Variant]) -> list[str]:
    return [
        f"{v.label}: only {len(v.finished)} finished seed(s); with fewer than {MIN_SEEDS} the interval and the "
        f"comparison say little (run more seeds)"
        for v in variants
        if len(v.finished) < MIN_SEEDS
    ]


# -- the paired comparison --------------------------------------------------------------------------------------


def _same_value(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return float(a) == float(b)  # 0 and 0.0, 2e-4 and 0.0002
    except ValueError:
        return False


def parse_baseline(text: str | None, variants: list[Variant]) -> tuple[str, str] | None:
    """--baseline key=value (default: the first variant's value of the first swept parameter)."""
    keys = list(variants[0].params) if variants else []
    if not keys:
        if text:
            raise UserError(f"--baseline {text}: this sweep has a single variant, there is nothing to compare")
        return None
    if not text:
        return keys[0], variants[0].params[keys[0]]
    key, sep, value = text.partition("=")
    if not sep or key not in keys:
        raise UserError(f"--baseline must be key=value with key one of the swept parameters ({', '.join(keys)}), "
                        f"got {text!r}")
    if not any(_same_value(v.params[key], value) for v in variants):
        seen = sorted({v.params[key] for v in variants})
        raise UserError(f"--baseline {text} matches no variant; {key} takes the values {', '.join(seen)}")
    return key, value


@dataclass
class Comparison:
    variant: Variant
    baseline: Variant
    metric: str
    seeds: list[str]  # the seeds both ran (paired)
    differences: list[float]  # variant - baseline, per seed
    mean: float
    low: float
    high: float
    wins: int  # seeds on which the variant is better
    p_better: float  # share of bootstrap resamples of the mean difference in which the variant is better

    @property
    def lower_is_better(self) -> bool:
        return lower_is_better(self.metric)


def paired_comparisons(variants: list[Variant], baseline: tuple[str, str], metrics: list[str]) -> list[Comparison]:
    """Each variant against the baseline variant that agrees with it on every other swept parameter,
    seed by seed (the same seed is the same initialisation and data order)."""
    key, value = baseline
    out = []
    for v in variants:
        if _same_value(v.params[key], value):
            continue
        others = {k: x for k, x in v.params.items() if k != key}
        base = next((b for b in variants if _same_value(b.params[key], value)
                     and all(b.params[k] == x for k, x in others.items())), None)
        if base is None:
            continue
        for metric in metrics:
            ours = {j.seed: j.final[metric] for j in v.finished if is_finite(j.final.get(metric))}
            theirs = {j.seed: j.final[metric] for j in base.finished if is_finite(j.final.get(metric))}
            seeds = sorted(ours.keys() & theirs.keys(), key=lambda s: (len(s), s))
            if not seeds:
                continue
            diff = np.array([ours[s] - theirs[s] for s in seeds])
            sign = -1.0 if lower_is_better(metric) else 1.0  # sign * diff > 0: the variant is better
            wins = int(np.sum(sign * diff > 0))
            if len(diff) < 2 or np.ptp(diff) == 0:
                low = high = float(diff.mean()) if len(diff) >= 2 else math.nan
                p = float(np.mean(sign * diff > 0) + 0.5 * np.mean(diff == 0)) if len(diff) >= 2 else math.nan
            else:
                result = _bootstrap(diff)
                low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
                boot = sign * result.bootstrap_distribution
                p = float(np.mean(boot > 0) + 0.5 * np.mean(boot == 0))  # ties count half
            out.append(Comparison(v, base, metric, seeds, list(diff), float(diff.mean()), low, high, wins, p))
    return out
