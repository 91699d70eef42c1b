"""Budgeted tuning: trials stored, pruning, refit of the best setting, the CLI."""

from __future__ import annotations

import json

import optuna
import pytest

from recsys_core.cli import main
from recsys_core.data.synthetic import generate
from recsys_core.models.ease import EASE
from recsys_core.models.lightgcn import LightGCN
from recsys_core.models.popularity import Popularity
from recsys_core.runs import RunStore
from recsys_core.tune import TuneConfig, default_setting, tune
from recsys_core.viz import tune_charts

FIXED = {"epochs": 6, "batch_size": 256}


@pytest.fixture(scope="module")
def data():
    return generate(seed=3, n_users=150, n_items=90, n_interactions=3000)


@pytest.fixture(scope="module")
def ds(data):
    return data.to_dataset("tiny").split("random", test=0.2, valid=0.1, seed=0)


class PruneSecondTrial(optuna.pruners.BasePruner):
    """Prunes trial 1 as soon as it reports; leaves the others alone."""

    def prune(self, study, trial) -> bool:
        return trial.number == 1


@pytest.fixture(scope="module")
def study(ds, tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("tune-home"))
    seen = []
    result = tune("lightgcn", ds, TuneConfig(budget_min=5, trials=3), base_params=FIXED,
                  store=store, progress=seen.append, pruner=PruneSecondTrial())
    return store, result, seen


def test_three_trials_are_stored_with_params_value_state_and_duration(study):
    store, result, seen = study
    trials = store.trials(result.study_id)
    assert trials["number"].tolist() == [0, 1, 2]
    assert trials["state"].tolist() == ["complete", "pruned", "complete"]
    assert (trials["duration"] > 0).all()
    assert set(trials.loc[0, "params"]) == {"lr", "dim", "layers", "reg", "patience"}
    assert trials.loc[1, "epochs"] == 1  # pruned at its first report
    done = trials[trials["state"] == "complete"]
    assert result.best_value == pytest.approx(done["value"].max())
    row = store.studies().set_index("study_id").loc[result.study_id]
    assert row["status"] == "finished" and row["info"]["counts"] == {
        "complete": 2, "pruned": 1, "fail": 0}
    # Progress: fractions rise to 1 (3 of 3 trials), per epoch and per trial.
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)


def test_the_first_trial_is_the_models_defaults(study):
    store, result, _ = study
    first = store.trials(result.study_id).loc[0, "params"]
    # LightGCN's signature defaults, each inside its search space.
    assert first == {"lr": 1e-2, "dim": 64, "layers": 3, "reg": 1e-3, "patience": 5}
    assert default_setting(LightGCN, FIXED) == first


def test_default_setting_takes_base_values_and_leaves_out_of_range_ones_to_the_sampler():
    assert default_setting(LightGCN, {"lr": 0.02, "dim": 48, "layers": 9}) == {
        "lr": 0.02, "reg": 1e-3, "patience": 5}  # dim 48 not a choice, 9 layers out of range
    assert default_setting(EASE, {}) == {}  # l2=None: chosen on validation, so sampled
    assert default_setting(EASE, {"l2": 500.0}) == {"l2": 500.0}
    assert default_setting(Popularity, {}) == {}  # nothing to search


def test_refit_run_has_the_best_trials_params_and_uses_validation(study, ds):
    store, result, _ = study
    best = store.trials(result.study_id).set_index("number").loc[result.model.tune_["best_trial"]]
    assert best["params"] == result.best_params
    config = store.config(result.run_id)
    for key, value in result.best_params.items():
        assert config["params"][key] == value
    assert config["params"]["epochs"] == FIXED["epochs"] and config["params"]["refit"] is True
    record = config["train"]
    assert record["tune_"]["study_id"] == result.study_id
    assert record["tune_"]["best_params"] == result.best_params
    assert record["refit_epochs_"] == best["best_epoch"]  # the trial's chosen epoch count
    assert record["refit_interactions_"] == len(ds.train) + len(ds.valid)
    model, saved = store.load(result.run_id)
    assert len(saved.train) == len(ds.train) + len(ds.valid) and saved.test.equals(ds.test)
    assert store.studies().set_index("study_id").loc[result.study_id, "run_id"] == result.run_id


class Scripted(optuna.samplers.BaseSampler):
    """Gives trial n the parameters ``settings[n]``."""

    def __init__(self, settings):
        self.settings = settings

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def sample_independent(self, study, trial, name, distribution):
        return self.settings[trial.number][name]


def test_median_pruner_prunes_a_hopeless_setting(ds, tmp_path):
    """After two complete trials, one whose learning rate is too small to learn is pruned
    by the median rule; its value is the best it reached."""
    store = RunStore(tmp_path)
    good = {"dim": 32, "reg": 1e-4, "patience": 3}
    settings = [{**good, "lr": 0.05}, {**good, "lr": 0.03}, {**good, "lr": 1e-7}]
    result = tune("mf", ds, TuneConfig(budget_min=5, trials=3, warmup_trials=2, warmup_epochs=1,
                                       refit=False, defaults_first=False),
                  base_params={"epochs": 8, "batch_size": 256}, store=store,
                  sampler=Scripted(settings))
    trials = store.trials(result.study_id)
    assert trials["state"].tolist() == ["complete", "complete", "pruned"]
    assert trials.loc[2, "params"]["lr"] == 1e-7 and trials.loc[2, "epochs"] < 8  # stopped early
    assert trials.loc[2, "value"] < trials.loc[:1, "value"].min()
    assert result.model is None and result.run_id is None  # refit off: nothing saved
    assert store.studies().loc[0, "info"]["pruner"] == "MedianPruner"


def test_closed_form_models_refit_on_train_plus_validation(ds, tmp_path):
    store = RunStore(tmp_path)
    result = tune("gf_cf", ds, TuneConfig(budget_min=5, trials=2), store=store)
    assert result.counts() == {"complete": 2, "pruned": 0, "fail": 0}
    config = store.config(result.run_id)
    assert config["params"]["ideal_weight"] == result.best_params["ideal_weight"]
    _, saved = store.load(result.run_id)
    assert len(saved.train) == len(ds.train) + len(ds.valid)


def test_a_model_without_a_search_space_needs_one_trial(ds, tmp_path):
    result = tune("popularity", ds, TuneConfig(budget_min=5, trials=10), store=RunStore(tmp_path))
    assert len(result.trials) == 1 and result.best_params == {}


def test_bad_settings_and_unsplit_data_are_refused_by_name(ds, data):
    with pytest.raises(ValueError, match="budget_min must be positive"):
        TuneConfig(budget_min=0)
    with pytest.raises(ValueError, match="lightgcn takes no parameter 'heads'"):
        tune("lightgcn", ds, TuneConfig(trials=1), base_params={"heads": 2})
    with pytest.raises(ValueError, match="not split"):
        tune("lightgcn", data.to_dataset("raw"), TuneConfig(trials=1))


def test_trial_charts(study):
    store, result, _ = study
    trials = store.trials(result.study_id)
    table = tune_charts.trial_table(trials)
    assert {"number", "state", "value", "lr", "dim"} <= set(table.columns)
    fig = tune_charts.value_vs_param(trials, "lr")
    names = [t.name for t in fig.data]
    assert names[:2] == ["complete", "pruned"] and names[-1] == "best"
    assert list(fig.data[0].y) == trials.loc[trials["state"] == "complete", "value"].tolist()
    assert fig.data[-1].y[0] == pytest.approx(result.best_value)
    par = tune_charts.parallel_coordinates(trials)
    labels = [d.label for d in par.data[0].dimensions]
    assert labels[-1] == "validation NDCG@20" and "dim" in labels
    with pytest.raises(ValueError, match="no trial sampled 'heads'"):
        tune_charts.value_vs_param(trials, "heads")


def test_cli_tune_json(data, tmp_path, capsys):
    path = tmp_path / "ratings.csv"
    data.interactions.to_csv(path, index=False)
    code = main(["tune", str(path), "--model", "gf_cf", "--trials", "2", "--budget-min", "2",
                 "--json", "--home", str(tmp_path / "home")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["ok"] and out["trials"]["complete"] == 2
    assert out["run_id"] and "ndcg@20" in out["test"]
    assert len(RunStore(tmp_path / "home").trials(out["study_id"])) == 2


def test_cli_tune_refuses_bad_input(tmp_path, capsys):
    code = main(["tune", str(tmp_path / "missing.csv"), "--model", "lightgcn", "--json"])
    assert code == 2 and json.loads(capsys.readouterr().out)["ok"] is False
    code = main(["tune", str(tmp_path / "x.csv"), "--budget-min", "0"])
    assert code == 2 and "budget_min must be positive" in capsys.readouterr().err
