"""Run identity: method labels and the comparison of a stored run's config with a new one."""

from __future__ import annotations

import pytest

from benchmarks.errors import UserError
from benchmarks.identity import check_label, config_differences, method_label, run_folder


@pytest.mark.parametrize(
    ("method", "label"),
    [
        ({"name": "asha", "settings": {"grace_period": 1, "reduction_factor": 3,
                                       "variant": "stopping"}}, "asha"),
        ({"name": "asha", "settings": {"reduction_factor": 3.0}}, "asha"),  # 3.0 == 3
        ({"name": "asha", "settings": {"variant": "promotion"}}, "asha-variant=promotion"),
        ({"name": "hyperband", "settings": {"reduction_factor": 2, "grace_period": 3}},
         "hyperband-grace_period=3-reduction_factor=2"),
        ({"name": "hypertune", "settings": {"delayed_promotion": False}},
         "hypertune-delayed_promotion=false"),
        ({"name": "bo", "settings": {"n_initial": 8}}, "bo-n_initial=8"),
        ({"name": "random", "settings": {}}, "random"),
        ({"name": "asha", "label": "mine", "settings": {"variant": "promotion"}}, "mine"),
    ],
)
def test_labels_name_the_non_default_settings(method, label):
    assert method_label(method) == label


def test_labels_stay_folder_names():
    label = method_label({"name": "bo", "settings": {"target_transform": "a/b c"}})
    assert label.startswith("bo-target_transform=a_b_c-") and "/" not in label
    long = method_label({"name": "bo", "settings": {"target_transform": "x" * 200}})
    assert len(long) <= 80
    for bad in ("", "../x", ".hidden", "a b", 3):
        with pytest.raises(UserError, match=r"method\.label must be a folder name"):
            check_label(bad)
    assert str(run_folder("results", "b", "asha-variant=promotion", 3)) == (
        "results/b/asha-variant=promotion/seed=3")


def test_config_differences_name_each_key():
    stored = {"seed": 0, "n_workers": 4, "overwrite": False, "results_dir": "results",
              "budget": {"time": 1800, "trials": None},
              "method": {"name": "asha", "settings": {"variant": "stopping"}},
              "benchmark": {"name": "t", "table": "a"}}  # fmt: skip
    same = {**stored, "overwrite": True, "results_dir": "/elsewhere/results",
            "budget": {"time": 1800.0, "trials": None, "epochs": None},
            "method": {**stored["method"], "label": "asha"}}  # fmt: skip
    assert config_differences(stored, same) == []  # a run written before labels existed
    other = {**same, "n_workers": 8, "benchmark": {"name": "t", "table": "b"},
             "method": {"name": "asha", "settings": {"variant": "stopping", "grace_period": 2}}}
    assert config_differences(stored, other) == [
        "benchmark.table: a -> b", "method.settings.grace_period: (absent) -> 2",
        "n_workers: 4 -> 8",
    ]
    assert config_differences({"count_method_time": False}, {"count_method_time": 0}) == [
        "count_method_time: false -> 0"]


def test_a_setting_that_follows_another_one_does_not_name_a_variant():
    """cabo's budget_time and n_workers default to ${budget.time} and ${n_workers}: resolved,
    they are not settings the user changed."""
    cabo = {"name": "cabo", "settings": {"budget_time": 600, "n_workers": 8, "cooling": True}}
    assert method_label(cabo) == "cabo"
    cabo["settings"]["cooling"] = False
    assert method_label(cabo) == "cabo-cooling=false"
