"""Classifier metrics on the synthetic squares: one-class generators, conditional accuracy, the cache."""

import math

import pytest
import torch

from gan_lab.data.synthetic import SyntheticImages
from gan_lab.errors import UserError
from gan_lab.evaluation.classifier import classifier_metrics, load_or_train_classifier, mode_coverage
from gan_lab.evaluation.common import generate_samples
from tests.evaluation_helpers import TemplateGenerator, class_templates


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
    assert results["classifier_fid"]["reference_cache_hit"]  # computed by the previous test


def test_unlabelled_data_is_refused(tmp_path):
    with pytest.raises(UserError, match="labelled dataset"):
        load_or_train_classifier(SyntheticImages(size=8, num_classes=0), tmp_path)
