"""Classifier metrics on the synthetic squares (one-class generators, conditional accuracy, the cache), the
per-dataset recipes, and CIFAR-10 end to end on a tiny JPEG tree."""

import math

import pytest
import torch
import torch.nn.functional as F

from benchmarks.prewarm_classifier import main as prewarm
from gan_lab.data.synthetic import SyntheticImages
from gan_lab.errors import UserError
from gan_lab.evaluation.classifier import classifier_metrics, describe, load_or_train_classifier, mode_coverage
from gan_lab.evaluation.classifier_nets import SmallClassifier, random_crop_flip, recipe_for
from gan_lab.evaluation.common import generate_samples
from gan_lab.evaluation.run import evaluate_checkpoint, format_table
from gan_lab.jobs.train import train
from tests.conftest import compose
from tests.evaluation_helpers import TemplateGenerator, class_templates
from tests.recipes_tiny import save_noise, tiny_recipe


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    data = SyntheticImages(size=400, image_size=8, num_classes=4).setup()
    model, info = load_or_train_classifier(data, cache, epochs=3, width=8, batch_size=32, lr=3e-3)
    return data, cache, model, info


def test_mode_coverage_by_hand():
    one_class = mode_coverage(torch.full((50,), 3), num_classes=10)
    assert one_class["classes_covered"] == 1
    assert one_class["kl_to_uniform"] == pytest.approx(math.log(10))
    balanced = mode_coverage(torch.arange(40) % 4, num_classes=4)
    assert balanced["classes_covered"] == 4 and balanced["kl_to_uniform"] == pytest.approx(0.0, abs=1e-12)
    rare = mode_coverage(torch.tensor([0] * 99 + [1]), num_classes=2, min_share=0.1)  # 1% < 10% of 50%
    assert rare["classes_covered"] == 1 and rare["histogram"] == [99, 1]


def test_classifier_is_trained_once_and_cached_with_its_test_accuracy(trained):
    data, cache, _, info = trained
    assert info["trained_now"] and info["test_accuracy"] > 0.9 and info["test_size"] == 400
    _, again = load_or_train_classifier(data, cache, epochs=3, width=8, batch_size=32, lr=3e-3)
    assert not again["trained_now"] and again["test_accuracy"] == info["test_accuracy"]


def test_a_generator_that_always_draws_one_class_covers_one_class(trained):
    data, cache, model, info = trained
    templates = class_templates(data.images, data.labels, data.num_classes)
    images, labels = generate_samples(TemplateGenerator(templates, fixed_class=2), 60, seed=0)
    results = classifier_metrics(images, labels, model, info, data, "test", cache)
    assert results["mode_coverage"]["value"] == 1
    assert results["mode_coverage"]["histogram"][2] == 60
    assert "class_accuracy" not in results
    assert results["classifier_fid"]["value"] > 0


def test_conditional_accuracy_counts_hits_per_requested_class(trained):
    data, cache, model, info = trained
    templates = class_templates(data.images, data.labels, data.num_classes)
    images, labels = generate_samples(TemplateGenerator(templates, conditional=True), 40, seed=0)
    assert labels.tolist() == [0, 1, 2, 3] * 10
    results = classifier_metrics(images, labels, model, info, data, "test", cache)
    assert results["class_accuracy"]["value"] == 1.0 and results["class_accuracy"]["per_class"] == [1.0] * 4
    assert results["mode_coverage"]["value"] == 4
    # The reference statistics are cached: a second evaluation reads them (the suite's order is random, so this
    # test computes its own first entry instead of relying on another test's).
    again = classifier_metrics(images, labels, model, info, data, "test", cache)
    assert again["classifier_fid"]["reference_cache_hit"]
    assert again["classifier_fid"]["value"] == pytest.approx(results["classifier_fid"]["value"])


def test_unlabelled_data_is_refused(tmp_path):
    with pytest.raises(UserError, match="labelled dataset"):
        load_or_train_classifier(SyntheticImages(size=8, num_classes=0), tmp_path)


# -- one recipe per kind of dataset (issue 18): MNIST's unchanged, a stronger judge for RGB images ----------
def test_grey_data_keeps_the_mnist_recipe_and_its_cache_name_rgb_data_gets_the_conv_recipe():
    grey, rgb = recipe_for(1), recipe_for(3)
    assert (grey.net, grey.width, grey.epochs, grey.batch_size, grey.lr, grey.augment, grey.cosine) == (
        "small", 32, 2, 128, 1e-3, False, False
    )
    assert grey.name(0) == "w32-e2-b128-lr0.001-s0"  # the name MNIST classifiers were cached under
    assert rgb.net == "conv" and rgb.augment and rgb.cosine and rgb.epochs >= 10
    assert rgb.name(0) == f"conv-w{rgb.width}-e{rgb.epochs}-b128-lr0.001-s0-aug-cos"
    assert recipe_for(3, epochs=1, width=None).epochs == 1 and recipe_for(3, epochs=1).width == rgb.width


def test_a_cached_classifier_from_before_the_rgb_recipe_still_loads(tmp_path):
    data = SyntheticImages(size=64, image_size=8).setup()
    _, info = load_or_train_classifier(data, tmp_path, epochs=1, width=4, batch_size=32)
    saved = torch.load(info["path"], weights_only=True)
    old = {k: v for k, v in saved.items() if k not in ("net", "recipe", "train_threads")}  # the old file's keys
    torch.save(old, info["path"])
    model, again = load_or_train_classifier(data, tmp_path, epochs=1, width=4, batch_size=32)
    assert not again["trained_now"] and isinstance(model, SmallClassifier)
    assert again["test_accuracy"] == info["test_accuracy"] and "small, 1 epochs" in describe(again)


def every_crop_of(image: torch.Tensor, pad: int) -> torch.Tensor:
    """All shifts within the reflect padding of one (C, H, W) image, and their mirror images."""
    padded, size = F.pad(image[None], (pad,) * 4, mode="reflect")[0], image.shape[-1]
    shifts = [padded[:, dy : dy + size, dx : dx + size] for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)]
    return torch.stack(shifts + [s.flip(2) for s in shifts])


def test_random_crop_flip_shifts_within_the_padding_and_flips():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6)
    flipped = []
    for seed in range(10):
        for original, out in zip(x, random_crop_flip(x, torch.Generator().manual_seed(seed), pad=0), strict=True):
            assert torch.equal(out, original) or torch.equal(out, original.flip(2))
            flipped.append(torch.equal(out, original.flip(2)))
    assert 0 < sum(flipped) < len(flipped)  # some mirrored, some not
    outs = torch.cat([random_crop_flip(x, torch.Generator().manual_seed(s), pad=2) for s in range(20)])
    for i, out in enumerate(outs):  # each output is a crop (or its mirror) of its own image
        assert (every_crop_of(x[i % 2], 2) == out).flatten(1).all(1).any()
    assert len({tuple(o.flatten().tolist()) for o in outs}) > 10  # the shifts and flips vary
    same_seed = [random_crop_flip(x, torch.Generator().manual_seed(3), pad=2) for _ in range(2)]
    assert torch.equal(*same_seed)


def test_cifar10_classifier_metrics_end_to_end_on_a_tiny_jpeg_tree(tmp_path, capsys):
    """A tiny class-conditional CIFAR-10 run, the prewarm command caching its classifier, then evaluate.py
    metrics=[classifier] using that very file: class accuracy with the judge's test accuracy beside it."""
    for split, n in (("train", 3), ("test", 2)):
        for k in range(10):
            for i in range(n):
                save_noise(tmp_path / "cifar10-jpeg" / split / f"class{k}" / f"{i}.png", (16, 16), 100 * k + i)
    data = [f"paths.data_dir={tmp_path}", f"paths.cache_dir={tmp_path}", "dataset.download=false",
            "dataset.image_size=16"]
    quick = ["trainer.max_epochs=null", "trainer.max_steps=2", "trainer.batch_size=4", "trainer.progress_bar=false",
             "trainer.sample_every=2", "trainer.checkpoint_every=2", "trainer.num_samples=10"]
    train(compose([*tiny_recipe("cwgan_gp_cifar10"), *data, *quick]), tmp_path / "run")

    info = prewarm(["--dataset", "cifar10", "--threads", "1", "--epochs", "1", "--width", "4", *data])
    assert info["trained_now"] and info["net"] == "conv" and info["recipe"]["augment"]
    assert info["train_size"] == 30 and info["test_size"] == 20 and 0 <= info["test_accuracy"] <= 1
    assert "classifier test acc" in capsys.readouterr().out

    cfg = compose([f"ckpt={tmp_path}/run/checkpoints/last.ckpt", "metrics=[classifier]", "num_samples=20",
                   f"paths.data_dir={tmp_path}", f"paths.cache_dir={tmp_path}", "classifier.epochs=1",
                   "classifier.width=4"], config_name="evaluate")
    report, _ = evaluate_checkpoint(cfg)
    accuracy = report["metrics"]["class_accuracy"]
    assert len(accuracy["per_class"]) == 10 and 0 <= accuracy["value"] <= 1
    judge = accuracy["classifier"]
    assert judge["path"] == info["path"] and not judge["trained_now"]  # the file the prewarm command cached
    assert judge["test_accuracy"] == info["test_accuracy"]
    lines = [line for line in format_table(report).splitlines() if line.startswith(("class_accuracy", "classifier_"))]
    assert len(lines) == 2 and all(f"classifier test acc {info['test_accuracy']:.4f} (conv, 1 epochs)" in line
                                   for line in lines)
