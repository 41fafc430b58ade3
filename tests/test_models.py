"""Your own model and data (issue 18): XGBoost, LightGBM, CatBoost and scikit-learn Pipelines
on raw Adult (string columns, NaNs kept), the TreeSHAP fast path, raw frames for numeric
algorithms, and the notebook tutorial.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from shap_debug.contributions import explain_plan, supports_tree_explainer, tree_explainer_mode
from shap_debug.core import (
    CodedModel,
    FrameCodec,
    check_missing_supported,
    clone_model,
    feature_groups,
    flip_inputs,
    is_tree_model,
    raw_space_explanation,
    search_model,
)

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
cb = pytest.importorskip("catboost")

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- data and models
def raw_adult(n: int = 1500, n_test: int = 400, seed: int = 0, nan_rate: float = 0.03):
    """Adult as a CSV gives it: text columns as strings (object dtype), "?" as NaN, a few
    missing ages and hours, labels ``"<=50K"``/``">50K"``."""
    from shap_debug.datasets import adult

    X, y = adult()
    rng = np.random.default_rng(seed)
    take = rng.choice(len(X), n + n_test, replace=False)
    X = X.iloc[take].reset_index(drop=True)
    raw = pd.DataFrame({
        c: (X[c].astype(object).where(X[c] != "Unknown", np.nan)
            if isinstance(X[c].dtype, pd.CategoricalDtype) else X[c].astype(float))
        for c in X.columns})
    for c in ("age", "hours-per-week"):
        raw.loc[rng.random(len(raw)) < nan_rate, c] = np.nan
    labels = np.where(y[take] == 1, ">50K", "<=50K").astype(object)
    return (raw.iloc[:n].reset_index(drop=True), labels[:n],
            raw.iloc[n:].reset_index(drop=True), labels[n:])


def text_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]


def as_category(X: pd.DataFrame, like: pd.DataFrame | None = None) -> pd.DataFrame:
    """String columns as pandas categories (the categories of ``like`` when given)."""
    out = X.copy()
    for c in text_columns(X):
        out[c] = (out[c].astype(pd.CategoricalDtype(like[c].cat.categories)) if like is not None
                  else out[c].astype("category"))
    return out


def fit_model(kind: str, X: pd.DataFrame, y: np.ndarray, n_trees: int = 60):
    """(model, X as the model takes it, y as the model takes it, a function preparing test
    rows) for the model types people have, trained with no manual encoding of X."""
    cats = text_columns(X)
    nums = [c for c in X.columns if c not in cats]
    if kind == "xgboost":  # categories natively; XGBoost wants labels 0..k-1
        Xc = as_category(X)
        yc = (y == ">50K").astype(int)
        model = xgb.XGBClassifier(n_estimators=n_trees, max_depth=4, enable_categorical=True,
                                  tree_method="hist", n_jobs=1).fit(Xc, yc)
        return model, Xc, yc, lambda Z: as_category(Z, Xc)
    if kind == "lightgbm":  # categories natively, string labels kept
        Xc = as_category(X)
        model = lgb.LGBMClassifier(n_estimators=n_trees, num_leaves=15, n_jobs=1,
                                   verbose=-1).fit(Xc, y)
        return model, Xc, y, lambda Z: as_category(Z, Xc)
    if kind == "catboost":  # cat_features must be strings: NaN there becomes "missing"
        def fill(Z):
            return Z.assign(**{c: Z[c].fillna("missing") for c in cats})
        Xc = fill(X)
        model = cb.CatBoostClassifier(iterations=n_trees, depth=4, verbose=0, thread_count=1,
                                      cat_features=cats, random_seed=0,
                                      allow_writing_files=False).fit(Xc, y)
        return model, Xc, y, fill
    if kind == "xgboost-pipeline":  # one column per raw column: TreeSHAP stays exact
        pre = ColumnTransformer([("cat", OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1),
            cats)], remainder="passthrough")
        yc = (y == ">50K").astype(int)
        model = Pipeline([("pre", pre), ("model", xgb.XGBClassifier(
            n_estimators=n_trees, max_depth=4, n_jobs=1))]).fit(X, yc)
        return model, X, yc, lambda Z: Z
    if kind in ("pipeline-lr", "pipeline-gb"):
        pre = ColumnTransformer([
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                  OneHotEncoder(handle_unknown="ignore")), cats),
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums)])
        est = (LogisticRegression(max_iter=2000) if kind == "pipeline-lr" else
               GradientBoostingClassifier(n_estimators=n_trees, random_state=0))
        return Pipeline([("pre", pre), ("model", est)]).fit(X, y), X, y, lambda Z: Z
    raise ValueError(kind)


@pytest.fixture(scope="module")
def small():
    return raw_adult(n=400, n_test=100)


# --------------------------------------------------------------------------- TreeSHAP fast path
@pytest.mark.parametrize("kind, units, perturbation", [
    ("xgboost", "log-odds", "tree_path_dependent"),      # categorical splits
    ("lightgbm", "log-odds", "tree_path_dependent"),
    ("catboost", "log-odds", "tree_path_dependent"),
    ("xgboost-pipeline", "probability", "interventional"),   # one-to-one columns
])
def test_tree_explainer_mode_of_each_library(small, kind, units, perturbation):
    X, y, _, _ = small
    model, Xm, ym, _ = fit_model(kind, X, y, n_trees=20)
    mode = tree_explainer_mode(model, Xm)
    assert mode is not None and supports_tree_explainer(model, Xm)
    assert (mode.units, mode.feature_perturbation) == (units, perturbation)
    plan = explain_plan(model, Xm, output="auto")
    assert plan.method == "tree" and "the fast path" in plan.description
    # exact: the values add up to the model's output in the mode's units
    vals, expected = mode.shap_values(Xm.iloc[:50], Xm.iloc[:40])
    vals = np.asarray(vals).reshape(50, Xm.shape[1], -1)[..., -1]
    base = np.atleast_1d(np.asarray(expected, dtype=float))[-1]
    p = model.predict_proba(Xm.iloc[:50])[:, 1]
    target = p if units == "probability" else np.log(p / (1 - p))
    np.testing.assert_allclose(vals.sum(1) + base, target, atol=1e-4)


def test_pipeline_tree_values_are_in_raw_column_order(small):
    """The Pipeline's transformed columns come in ColumnTransformer order (text first); the
    values are put back in X's order: the interventional values of a raw column match the
    model-agnostic estimator's for that column."""
    from shap_debug.contributions import explain

    X, y, _, _ = small
    X = X.fillna({"age": 40.0, "hours-per-week": 40.0}).fillna("missing")
    model, Xm, _, _ = fit_model("xgboost-pipeline", X, y, n_trees=20)
    mode = tree_explainer_mode(model, Xm)
    assert mode.transform is not None and sorted(mode.columns) == list(range(X.shape[1]))
    assert list(mode.columns) != list(range(X.shape[1]))     # a real permutation
    vals, _ = mode.shap_values(Xm.iloc[:8], Xm.iloc[:30])
    vals = np.asarray(vals).reshape(8, X.shape[1], -1)[..., -1]
    est = explain(model, Xm.iloc[:8], Xm.iloc[:30], method="sampling", n_permutations=6,
                  progress=False, random_state=0).values[..., 1]
    assert np.abs(vals - est).mean() < 0.25 * np.abs(vals).mean()
    assert np.corrcoef(vals.ravel(), est.ravel())[0, 1] > 0.95


def test_plans_for_models_shap_cannot_explain_exactly(small):
    X, y, _, _ = small
    onehot, Xm, _, _ = fit_model("pipeline-gb", X, y, n_trees=10)
    assert tree_explainer_mode(onehot, Xm) is None           # one-hot splits columns
    plan = explain_plan(onehot, Xm, output="auto")
    assert plan.method == "sampling" and "estimator" in plan.description
    Xn = X.select_dtypes("number").fillna(0.0)
    lr = LogisticRegression(max_iter=500).fit(Xn, y)
    assert tree_explainer_mode(lr, Xn) is None and not is_tree_model(lr)
    assert explain_plan(lr, Xn, output="auto").method == "linear"
    rf = RandomForestClassifier(10, random_state=0).fit(Xn, y)
    mode = tree_explainer_mode(rf, Xn)
    assert (mode.feature_perturbation, mode.units) == ("interventional", "probability")
    # multi-class margins are no explain() output: probabilities or the estimator
    y3 = np.digitize(Xn["age"], [30, 45])
    gb3 = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(Xn, y3)
    assert explain_plan(gb3, Xn, output="auto").output == "probability"


# --------------------------------------------------------------------------- adapters
def test_clone_model_catboost_alone_and_in_a_pipeline(small):
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_predict

    X, y, _, _ = small
    model, Xm, ym, _ = fit_model("catboost", X, y, n_trees=10)
    with pytest.raises(RuntimeError):
        clone(model)                                   # what scikit-learn alone does
    fresh = clone_model(model)
    assert fresh.get_params()["cat_features"] == model.get_params()["cat_features"]
    again = clone(fresh)                               # sklearn's own clones work after it
    assert again.get_params() == fresh.get_params()
    proba = cross_val_predict(fresh, Xm, ym, cv=3, method="predict_proba")
    assert proba.shape == (len(Xm), 2)
    pipe = Pipeline([("id", "passthrough"), ("model", model)])
    assert clone_model(pipe).fit(Xm, ym).predict_proba(Xm[:3]).shape == (3, 2)


def test_missing_values_are_checked_against_the_model(small):
    X, y, _, _ = small
    lr = LogisticRegression(max_iter=500).fit(X.select_dtypes("number").fillna(0), y)
    Xn = X.select_dtypes("number")
    with pytest.raises(ValueError, match=r"NaN.*\['age', 'hours-per-week'\].*impute"):
        check_missing_supported(lr, Xn, "X")
    for kind in ("xgboost", "lightgbm", "pipeline-lr"):
        model, Xm, _, _ = fit_model(kind, X, y, n_trees=5)
        check_missing_supported(model, Xm, "X")        # they take NaN: no error
    with pytest.raises(ValueError, match="infinite"):
        check_missing_supported(lr, Xn.fillna(np.inf), "X")


def test_frame_codec_is_lossless_for_every_dtype():
    X = pd.DataFrame({
        "num": [1.5, np.nan, 3.0, 4.0],
        "int": [1, 2, 3, 4],
        "obj": pd.Series(["a", np.nan, "b", "a"], dtype=object),
        "str": pd.Series(["x", "y", None, "x"], dtype="str"),
        "cat": pd.Categorical(["p", "q", None, "p"], categories=["q", "p"]),
        "nullable": pd.array([1, None, 3, 4], dtype="Int64"),
        "flag": [True, False, True, True],
    })
    codec = FrameCodec().fit(X)
    Z = codec.transform(X)
    assert Z.dtype == np.float64 and np.isnan(Z).sum() == 5
    back = codec.inverse_transform(Z)
    pd.testing.assert_frame_equal(back, X)
    with pytest.raises(ValueError, match="not seen at fit"):
        codec.transform(X.assign(obj=["a", "zzz", "b", "a"]))


def test_flip_inputs_hold_missing_values_fixed(small):
    X, y, _, _ = small
    model, Xm, _, _ = fit_model("lightgbm", X, y, n_trees=10)
    row = int(np.flatnonzero(Xm["age"].isna())[0])
    fin = flip_inputs(model, Xm, row)
    assert "age" in fin.immutable and np.isfinite(fin.x).all() and np.isfinite(fin.data).all()
    assert isinstance(fin.model, CodedModel) and search_model(fin.model) is model
    # the search sees a finite placeholder; the model still sees the row with its NaN
    np.testing.assert_allclose(fin.model.predict_proba(fin.x),
                               model.predict_proba(Xm.iloc[[row]]), atol=1e-12)
    assert pd.isna(fin.decode(fin.x)["age"].iloc[0])
    plain = flip_inputs(model, Xm, int(np.flatnonzero(~Xm.isna().any(axis=1))[0]))
    assert plain.immutable == []
    num = X.select_dtypes("number").fillna(0.0).to_numpy()
    lr = LogisticRegression(max_iter=500).fit(num, y)
    same = flip_inputs(lr, num, 0)
    assert same.model is lr and same.decode is None        # numeric data: as it was


def test_feature_groups_and_raw_space_explanation(small):
    import shap

    X, y, _, _ = small
    pre = ColumnTransformer([
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
         text_columns(X)),
        ("num", SimpleImputer(strategy="median", add_indicator=True), ["age", "hours-per-week"]),
    ], remainder="passthrough")
    pipe = Pipeline([("pre", pre), ("model", GradientBoostingClassifier(
        n_estimators=10, random_state=0))]).fit(X, y)
    groups = feature_groups(pipe, X)
    names = pipe[:-1].get_feature_names_out()
    assert len(groups) == len(names) and set(groups) == set(range(X.shape[1]))
    for name, g in zip(names, groups):
        assert X.columns[g] in name              # "cat__workclass_Private" -> workclass
    Xt = pipe[:-1].transform(X.iloc[:30])
    sv = shap.TreeExplainer(pipe[-1])(Xt)        # the usual notebook: transformed features
    raw = raw_space_explanation(sv, pipe, X.iloc[:30])
    assert raw.values.shape == (30, X.shape[1]) and raw.feature_names == list(X.columns)
    np.testing.assert_allclose(raw.values.sum(1), np.asarray(sv.values).sum(1))
    assert raw_space_explanation(raw, pipe, X.iloc[:30]) is raw       # already raw
    with pytest.raises(ValueError, match="columns but X has"):
        raw_space_explanation(np.zeros((30, 5)), pipe, X.iloc[:30])


# --------------------------------------------------------------------------- end to end
def _report_checks(path: Path, caught: list) -> str:
    failed = [str(w.message) for w in caught if "failed" in str(w.message)]
    assert not failed, failed
    doc = path.read_text(encoding="utf-8")
    assert 'class="error"' not in doc, re.findall(r'class="error">([^<]*)', doc)
    assert "flip point not computed" not in doc
    return doc


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["xgboost", "lightgbm", "catboost", "pipeline-lr"])
def test_debugger_report_on_raw_adult(kind, tmp_path):
    """Each model people have, trained on raw Adult (strings, NaNs kept, no manual
    encoding): Debugger(...).report() runs every section, flip point included."""
    from shap_debug import Debugger

    X, y, Xt, yt = raw_adult(n=1500, n_test=400)
    model, Xm, ym, prepare = fit_model(kind, X, y)
    yt_m = (yt == ">50K").astype(int) if kind == "xgboost" else yt
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dbg = Debugger(model, Xm, ym, X_test=prepare(Xt), y_test=yt_m,
                       protected=["sex", "race"], progress=False)
        path = dbg.report(1, tmp_path / f"{kind}.html", label_flip=True)
    doc = _report_checks(path, caught)
    fast = kind != "pipeline-lr"
    assert ("the fast path" in dbg.contribution_method) is fast
    assert "Contributions: " in doc
    if kind in ("lightgbm", "catboost", "pipeline-lr"):
        assert "&gt;50K" in doc                      # class names in the report


@pytest.mark.slow
def test_explain_and_neighbourhood_on_raw_frames_with_nan():
    from shap_debug.contributions import explain
    from shap_debug.neighborhood import NeighborhoodModel

    X, y, _, _ = raw_adult(n=300, n_test=10)
    model, Xm, ym, _ = fit_model("pipeline-lr", X, y)
    exp = explain(model, Xm.iloc[:20], Xm.iloc[:30], progress=False, random_state=0)
    p = model.predict_proba(Xm.iloc[:20])
    np.testing.assert_allclose(exp.values.sum(1) + exp.base_values, p, atol=1e-9)
    nm = NeighborhoodModel(n_neighbors=20).fit(model, Xm, ym, progress=False)
    assert np.isfinite(nm.feature_matrix_).all() and len(nm.anomalies_) > 0


@pytest.mark.slow
def test_a_shap_explanation_of_transformed_features_is_accepted(small, tmp_path):
    import shap

    from shap_debug import Debugger

    X, y, _, _ = small
    model, Xm, ym, _ = fit_model("pipeline-gb", X, y, n_trees=20)
    Xt = model[:-1].transform(Xm)
    sv = shap.TreeExplainer(model[-1])(Xt.toarray() if hasattr(Xt, "toarray") else Xt)
    dbg = Debugger(model, Xm, ym, explanation=sv, progress=False)
    assert dbg.neighborhood_model.contributions_.shape == Xm.shape
    assert dbg.contribution_method == "given by the user"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["xgboost", "lightgbm", "catboost", "pipeline-lr"])
def test_fixes_are_verified_for_each_model(kind):
    """verify_fixes retrains clones of each model type on raw Adult (CatBoost included)."""
    from shap_debug.fixes import verify_fixes

    X, y, Xt, yt = raw_adult(n=600, n_test=200)
    model, Xm, ym, prepare = fit_model(kind, X, y, n_trees=20)
    rep = verify_fixes(model, Xm, ym, X_test=prepare(Xt),
                       y_test=(yt == ">50K").astype(int) if kind == "xgboost" else yt,
                       n_repeats=2, n_bootstrap=100, screen_regions=2, flip_rows=5,
                       protected=["sex"], progress=False, random_state=0)
    frame = rep.to_frame()
    assert len(frame) >= 3 and frame["after"].notna().all()


# --------------------------------------------------------------------------- the tutorial
def _tutorial_blocks() -> list[str]:
    text = (ROOT / "docs" / "tutorial_xgboost.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_tutorial_has_the_notebook_steps():
    code = "\n".join(_tutorial_blocks())
    assert "shap.TreeExplainer(model)" in code and "Debugger(" in code
    assert ".report(" in code and re.search(r"^N_ROWS = \d+", code, flags=re.M)


@pytest.mark.slow
def test_tutorial_runs_end_to_end():
    """Execute the tutorial's code blocks in order, on a subsample (SHAP_DEBUG_TUTORIAL_ROWS,
    default 800)."""
    rows = int(os.environ.get("SHAP_DEBUG_TUTORIAL_ROWS", "800"))
    namespace: dict = {}
    for k, block in enumerate(_tutorial_blocks()):
        block = re.sub(r"^N_ROWS = \d+", f"N_ROWS = {rows}", block, flags=re.M)
        exec(compile(block, f"docs/tutorial_xgboost.md block {k}", "exec"), namespace)
    assert namespace["out"].exists()
    assert namespace["dbg"].contribution_method == "given by the user"


# --------------------------------------------------------------------------- no silent wrong results
class _NaNModel(LogisticRegression):
    """A classifier whose probabilities are NaN on some rows (what a broken model does)."""

    def predict_proba(self, X):
        p = super().predict_proba(X)
        p[np.asarray(X)[:, 0] > self.cut] = np.nan
        return p

    def __init__(self, cut=1.0):
        super().__init__()
        self.cut = cut


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nan_probabilities_are_refused_not_turned_into_contributions(seed):
    from shap_debug import explain

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, 3))
    y = (X[:, 1] > 0).astype(int)
    cut = float(np.quantile(X[:, 0], rng.uniform(0.7, 0.95)))
    model = _NaNModel(cut).fit(X, y)
    bad = np.flatnonzero(X[:, 0] > cut)
    with pytest.raises(ValueError, match=rf"NaN or infinite values for {len(bad)} row\(s\), "
                                         rf"e.g. rows \[{bad[0]}"):
        explain(model, X, method="sampling", progress=False)
    ok = X[X[:, 0] <= cut]
    assert np.isfinite(explain(model, ok, method="sampling", progress=False).values).all()


def test_multi_output_models_get_a_clear_error():
    from sklearn.tree import DecisionTreeClassifier

    from shap_debug import explain

    X = np.random.default_rng(0).normal(size=(60, 2))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0]).astype(int)
    model = DecisionTreeClassifier(max_depth=2).fit(X, Y)
    with pytest.raises(ValueError, match="multi-output"):
        explain(model, X, method="sampling", progress=False)


def test_nan_attributions_are_refused_by_the_bridge():
    torch = pytest.importorskip("torch")
    from captum_ext import attributions_to_explanation

    x = torch.randn(5, 3)
    attr = torch.randn(5, 3)
    attr[3, 1] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 row\(s\), e.g. rows \[3\]"):
        attributions_to_explanation(attr, x)


def test_a_torch_module_in_train_mode_is_predicted_in_eval_mode_and_left_as_it_was():
    torch = pytest.importorskip("torch")
    from captum_ext import TorchClassifier
    from shap_debug.core import ShapDebugWarning, predict_proba_fn

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Dropout(0.5),
                              torch.nn.Linear(16, 2)).train()
    X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    with pytest.warns(ShapDebugWarning, match="train mode"):
        first = predict_proba_fn(net)(X)
    assert net.training                                   # the user's mode is restored
    np.testing.assert_allclose(predict_proba_fn(net)(X), first)  # no dropout noise
    net.eval()
    want = predict_proba_fn(net)(X)
    np.testing.assert_allclose(first, want)
    net.train()
    clf = TorchClassifier(net)
    np.testing.assert_allclose(clf.predict_proba(X), want, atol=1e-6)
    assert net.training                                   # the wrapper no longer mutates it


def test_anomaly_rows_and_columns_are_checked_once_before_work():
    from shap_debug.core import check_anomalies, check_frame_or_array, check_same_columns

    assert check_anomalies(np.int64(3), 5).tolist() == [3]
    for bad, match in [([1, 1], r"duplicated rows \[1\]"), ([-1], r"\[0, 5\).*: \[-1\]"),
                       ([10**6], r"out of range .*\[1000000\]"), ([1.5], "integer")]:
        with pytest.raises((ValueError, TypeError), match=match):
            check_anomalies(bad, 5)
    frame = pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"X has duplicate column names \['a'\]"):
        check_frame_or_array(frame)
    with pytest.raises(ValueError, match=r"missing \['b'\], extra \['c'\]"):
        check_same_columns(pd.DataFrame(columns=["a", "c"]), pd.DataFrame(columns=["a", "b"]))


def test_label_flip_check_refuses_duplicated_and_negative_anomalies():
    from shap_debug import label_flip_check

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    for bad, match in [([3, 3], "duplicated rows"), ([-2, 4], r"out of range .*\[-2\]")]:
        with pytest.raises(ValueError, match=match):
            label_flip_check(model, X, y, bad, spaces=["features"], n_neighbors=10,
                             progress=False)


def test_the_dask_neighbourhood_refuses_unknown_labels_before_any_contribution(monkeypatch):
    pytest.importorskip("dask.dataframe")
    from shap_debug.neighborhood import DaskNeighborhoodModel
    from shap_debug.neighborhood import _dask as dask_module

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"])
    frame["y"] = (frame["a"] > 0).astype(int)
    model = LogisticRegression().fit(frame[["a", "b"]], frame["y"])
    frame.loc[[4, 9], "y"] = 7                            # labels the model never saw

    def forbidden(*args, **kwargs):
        raise AssertionError("contributions were computed before the labels were checked")

    monkeypatch.setattr(dask_module, "_explain_partition", forbidden)
    with pytest.raises(ValueError, match=r"label column 'y' holds labels the model does not "
                                         r"know: \[7\]"):
        DaskNeighborhoodModel(10).fit(model, frame, "y", progress=False)
