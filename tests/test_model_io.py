"""Trained models from disk, safely (issue 18 item 2): pickles refused before any byte is
read, skops' trusted-types check, and a save/load round trip for every on-disk format."""

from __future__ import annotations

import builtins
import io
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shap_debug.contributions import tree_explainer_mode
from shap_debug.io import (
    BoosterClassifier,
    CorruptModelError,
    LabelledClassifier,
    UnsafeModelError,
    build_mlp,
    load_model,
    load_table,
    model_kind,
    report_from_files,
    save_model,
)

sys.path.insert(0, str(Path(__file__).parent))
from test_models import fit_model, raw_adult  # noqa: E402

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
cb = pytest.importorskip("catboost")
skops_io = pytest.importorskip("skops.io")



class _Boom:
    """Unpickling this writes a marker file: what a malicious pickle would do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path(self.marker).write_text, ("pwned",))


@pytest.fixture(scope="module")
def data():
    return raw_adult(n=500, n_test=150, seed=1)


# --------------------------------------------------------------------------- pickles
@pytest.mark.parametrize("suffix", [".pkl", ".pickle", ".joblib"])
def test_pickle_is_refused_before_its_bytes_are_read(tmp_path, monkeypatch, suffix):
    marker = tmp_path / "marker.txt"
    path = tmp_path / f"model{suffix}"
    path.write_bytes(pickle.dumps(_Boom(str(marker))))
    opened = []
    real_open = builtins.open

    def spy(file, *args, **kwargs):
        if Path(str(file)).resolve() == path.resolve():
            opened.append(file)
        return real_open(file, *args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("an unpickler was called")

    import joblib

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(io, "open", spy)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(joblib, "load", forbidden)
    with pytest.raises(UnsafeModelError, match=r"is a pickle: loading a pickle runs any code.*"
                                                r"trust_code=True"):
        load_model(path)
    assert not opened and not marker.exists()
    # the refusal does not even need the file to exist
    with pytest.raises(UnsafeModelError, match="trust_code"):
        load_model(tmp_path / f"absent{suffix}")
    with pytest.raises(UnsafeModelError):
        load_model(tmp_path / "model.bin", kind="pickle")


def test_a_trusted_pickle_loads(tmp_path, data):
    import joblib

    X, y, _, _ = data
    model, Xm, _, _ = fit_model("pipeline-lr", X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    loaded = load_model(path, trust_code=True)
    np.testing.assert_allclose(loaded.predict_proba(Xm), model.predict_proba(Xm))
    again = load_model(path, trust_pickle=True)       # the former name still trusts
    np.testing.assert_allclose(again.predict_proba(Xm), model.predict_proba(Xm))


def test_unknown_formats_and_missing_files_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match=r"model_path .*unknown model format '\.bin'.*\.skops"):
        load_model(tmp_path / "model.bin")
    with pytest.raises(ValueError, match="kind must be one of"):
        model_kind("m.json", kind="onnx")
    with pytest.raises(FileNotFoundError, match="model_path"):
        load_model(tmp_path / "absent.json")
    with pytest.raises(CorruptModelError, match="not a valid xgboost model file"):
        (tmp_path / "bad.json").write_text("{not json")
        load_model(tmp_path / "bad.json")
    with pytest.raises(UnsafeModelError):
        save_model(object(), tmp_path / "x.pkl")


# --------------------------------------------------------------------------- skops
@pytest.mark.parametrize("name", ["gb", "rf", "hgb", "mlp-adam", "mlp-sgd", "knn", "pipeline"])
def test_standard_sklearn_models_load_by_default(tmp_path, name):
    """Tree ensembles, MLPs (with their optimiser), kNN and Pipelines saved with skops load
    without --trusted: their extra types are in the audited SKOPS_TRUSTED list."""
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from shap_debug.io import SKOPS_TRUSTED

    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=80) > 0).astype(int)
    model = {"gb": GradientBoostingClassifier(n_estimators=5),
             "rf": RandomForestClassifier(n_estimators=3, random_state=0),
             "hgb": HistGradientBoostingClassifier(max_iter=5),
             "mlp-adam": MLPClassifier((4,), max_iter=5, random_state=0),
             "mlp-sgd": MLPClassifier((4,), solver="sgd", max_iter=5, random_state=0),
             "knn": KNeighborsClassifier(3),
             "pipeline": make_pipeline(StandardScaler(), GradientBoostingClassifier(
                 n_estimators=3))}[name]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    path = save_model(model, tmp_path / "m.skops")
    extra = skops_io.get_untrusted_types(file=str(path))
    assert set(extra) <= set(SKOPS_TRUSTED)
    np.testing.assert_allclose(load_model(path).predict_proba(X), model.predict_proba(X))


class _Custom:
    """A class of the user's own: skops must not build it unless told to trust it."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)


def test_a_custom_class_in_a_skops_file_is_refused_by_name(tmp_path):
    path = save_model(_Custom().fit(np.zeros((4, 1)), [0, 1, 0, 1]), tmp_path / "c.skops")
    with pytest.raises(UnsafeModelError, match=r"does not trust by default: \[.*_Custom'\]"
                                               r".*trusted="):
        load_model(path)
    untrusted = skops_io.get_untrusted_types(file=str(path))
    assert load_model(path, trusted=untrusted).predict_proba(np.zeros((2, 1))).shape == (2, 2)


def _shout(X):
    return X


def test_skops_file_with_a_custom_function_is_refused(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X = np.random.default_rng(0).normal(size=(40, 2))
    pipe = make_pipeline(FunctionTransformer(_shout), LogisticRegression()).fit(X, X[:, 0] > 0)
    path = save_model(pipe, tmp_path / "custom.skops")
    with pytest.raises(UnsafeModelError, match="_shout"):
        load_model(path, trusted=["numpy.dtype"])


# --------------------------------------------------------------------------- booster formats
@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_xgboost_round_trip(tmp_path, data, suffix):
    X, y, _, _ = data
    model, Xm, ym, _ = fit_model("xgboost", X, y, n_trees=15)
    loaded = load_model(save_model(model, tmp_path / f"model{suffix}"))
    np.testing.assert_allclose(loaded.predict_proba(Xm), model.predict_proba(Xm), atol=1e-6)
    assert loaded.get_params()["n_estimators"] == 15 and loaded.get_params()["max_depth"] <= 4
    assert tree_explainer_mode(loaded, Xm) is not None


def test_lightgbm_round_trip_and_refit(tmp_path, data):
    from shap_debug.core import clone_model

    X, y, _, _ = data
    model, Xm, ym, _ = fit_model("lightgbm", X, y, n_trees=15)
    loaded = load_model(save_model(model, tmp_path / "model.txt"))
    assert isinstance(loaded, BoosterClassifier)
    np.testing.assert_allclose(loaded.predict_proba(Xm), model.predict_proba(Xm), atol=1e-9)
    mode = tree_explainer_mode(loaded, Xm)
    assert mode is not None and type(mode.model).__name__ == "Booster"
    codes = (ym == ">50K").astype(int)
    refit = clone_model(loaded).fit(Xm, codes)          # what the label-flip check does
    assert refit.booster_.current_iteration() == 15
    assert refit.predict_proba(Xm).shape == (len(Xm), 2)


def test_catboost_round_trip_and_refit(tmp_path, data):
    from shap_debug.core import clone_model

    X, y, _, _ = data
    model, Xm, ym, _ = fit_model("catboost", X, y, n_trees=15)
    loaded = load_model(save_model(model, tmp_path / "model.cbm"))
    np.testing.assert_allclose(loaded.predict_proba(Xm), model.predict_proba(Xm), atol=1e-9)
    assert list(loaded.classes_) == ["<=50K", ">50K"]
    refit = clone_model(loaded).fit(Xm, ym)             # keeps cat_features
    assert refit.tree_count_ == 15


# --------------------------------------------------------------------------- torch
def test_torchscript_and_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    spec = {"layers": [4, 8, 2], "activation": "tanh"}
    net = build_mlp(spec)
    X = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    want = net(torch.as_tensor(X)).detach().numpy()
    scripted = load_model(save_model(net, tmp_path / "net.pt"), trust_code=True)
    np.testing.assert_allclose(scripted(torch.as_tensor(X)).detach().numpy(), want, atol=1e-6)
    torch.save(net.state_dict(), tmp_path / "weights.pth")
    with pytest.raises(ValueError, match="torch_architecture"):
        load_model(tmp_path / "weights.pth")
    (tmp_path / "arch.json").write_text('{"layers": [4, 8, 2], "activation": "tanh"}')
    rebuilt = load_model(tmp_path / "weights.pth", torch_architecture=tmp_path / "arch.json")
    np.testing.assert_allclose(rebuilt(torch.as_tensor(X)).detach().numpy(), want, atol=1e-6)
    with pytest.raises(ValueError, match="does not fit"):
        load_model(tmp_path / "weights.pth", torch_architecture={"layers": [4, 3, 2]})
    with pytest.raises(ValueError, match="layers"):
        build_mlp({"layers": [4]})


def test_torch_file_holding_code_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "marker.txt"
    torch.save({"w": _Boom(str(marker))}, tmp_path / "evil.pt")
    with pytest.raises(UnsafeModelError, match="weights_only"):
        load_model(tmp_path / "evil.pt", torch_architecture={"layers": [2, 2]})
    assert not marker.exists()


def _hostile_torchscript(path: Path) -> Path:
    """A TorchScript archive whose forward() has a side effect (it prints a marker)."""
    import torch

    class Hostile(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 2)

        def forward(self, x):
            print("HOSTILE-CODE-RAN")
            return self.lin(x)

    torch.jit.save(torch.jit.script(Hostile()), str(path))
    return path


def test_a_torchscript_file_does_not_run_without_trust_code(tmp_path, monkeypatch, capfd):
    """TorchScript is code: refused before torch reads it, through the API, with an
    architecture given, and through the CLI; trusted, it loads and its code runs."""
    torch = pytest.importorskip("torch")
    path = _hostile_torchscript(tmp_path / "hostile.pt")
    marker = tmp_path / "marker.txt"
    real_load = torch.jit.load

    def spy(*args, **kwargs):       # reading the archive is where its code gets in
        marker.write_text("torch.jit.load ran")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch.jit, "load", spy)
    for arch in (None, {"layers": [2, 2]}):
        with pytest.raises(UnsafeModelError, match=r"TorchScript archive is code.*trust_code"):
            load_model(path, torch_architecture=arch)
    with pytest.raises(UnsafeModelError, match="trust_code"):
        report_from_files(path, tmp_path / "absent.csv", "y")
    from shap_debug.cli import main

    pd.DataFrame({"a": [0.0, 1.0] * 10, "b": [1.0, 0.0] * 10, "y": [0, 1] * 10}).to_csv(
        tmp_path / "t.csv", index=False)
    rc = main(["report", "--model", str(path), "--train", str(tmp_path / "t.csv"),
               "--target", "y", "--out", str(tmp_path / "r.html")])
    out, err = capfd.readouterr()
    assert rc == 2 and "--trust-code" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists() and "HOSTILE-CODE-RAN" not in out
    net = load_model(path, trust_code=True)
    assert marker.exists()
    net(torch.zeros(1, 2))
    assert "HOSTILE-CODE-RAN" in capfd.readouterr().out


def test_an_empty_or_damaged_state_dict_is_corrupt_not_refused(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({}, tmp_path / "empty.pt")
    with pytest.raises(CorruptModelError, match="empty dict"):
        load_model(tmp_path / "empty.pt", torch_architecture={"layers": [2, 2]})
    torch.save(build_mlp({"layers": [2, 2]}).state_dict(), tmp_path / "w.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "w.pt").read_bytes()[:200])
    with pytest.raises(CorruptModelError, match=r"cut\.pt.*torch state_dict"):
        load_model(tmp_path / "cut.pt", torch_architecture={"layers": [2, 2]})
    (tmp_path / "zero.pt").write_bytes(b"")
    with pytest.raises(CorruptModelError, match="empty"):
        load_model(tmp_path / "zero.pt", torch_architecture={"layers": [2, 2]})


# --------------------------------------------------------------------------- tables
def test_load_table_csv_and_parquet(tmp_path, data):
    X, y, _, _ = data
    frame = X.assign(income=y)
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.parquet"):
        back = load_table(tmp_path / name)
        assert back.shape == frame.shape and back["age"].isna().sum() == X["age"].isna().sum()
    with pytest.raises(ValueError, match=r"train_path .*unknown table format"):
        (tmp_path / "t.xlsx").write_text("x")
        load_table(tmp_path / "t.xlsx")
    with pytest.raises(FileNotFoundError, match="test_path"):
        load_table(tmp_path / "absent.csv", "test_path")


# --------------------------------------------------------------------------- model + data
def _files(tmp_path: Path, kind: str, suffix: str, data, n_trees: int = 30):
    """Train ``kind`` on raw Adult, save it as ``suffix`` and the data as CSV/Parquet with
    a string target column; returns (model path, train csv, test parquet, model, X)."""
    X, y, Xt, yt = data
    model, Xm, _, prepare = fit_model(kind, X, y, n_trees=n_trees)
    path = save_model(model, tmp_path / f"model{suffix}")
    train = (Xm if kind == "catboost" else X).assign(income=y)
    train.insert(0, "id", np.arange(len(train)))        # a column the model does not use
    train.to_csv(tmp_path / "train.csv", index=False)
    (prepare(Xt) if kind == "catboost" else Xt).assign(income=yt).to_parquet(
        tmp_path / "test.parquet")
    return path, tmp_path / "train.csv", tmp_path / "test.parquet", model, Xm


FORMATS = [("xgboost", ".json"), ("xgboost", ".ubj"), ("lightgbm", ".txt"),
           ("catboost", ".cbm"), ("pipeline-lr", ".skops")]


@pytest.mark.parametrize("kind, suffix", FORMATS)
def test_report_from_files_gives_the_model_and_named_classes(tmp_path, data, kind, suffix):
    path, train, test, model, Xm = _files(tmp_path, kind, suffix, data, n_trees=10)
    trusted = skops_io.get_untrusted_types(file=str(path)) if suffix == ".skops" else None
    inputs = report_from_files(path, train, "income", test, trusted=trusted)
    assert list(inputs.X.columns) == [str(c) for c in Xm.columns]       # "id" left out
    assert any("left out" in n and "'id'" in n for n in inputs.notes)
    assert set(inputs.y) == {"<=50K", ">50K"} and len(inputs.X_test) == 150
    np.testing.assert_allclose(inputs.model.predict_proba(inputs.X),
                               model.predict_proba(Xm), atol=1e-6)
    assert list(inputs.model.classes_) == ["<=50K", ">50K"]
    if kind == "xgboost":                    # XGBoost numbers its classes: names mapped
        assert isinstance(inputs.model, LabelledClassifier)
        assert any("0 = <=50K, 1 = >50K" in n for n in inputs.notes)
    if kind in ("xgboost", "lightgbm"):
        assert tree_explainer_mode(inputs.model, inputs.X) is not None


def test_report_from_files_errors_name_the_problem(tmp_path, data):
    path, train, test, _, _ = _files(tmp_path, "lightgbm", ".txt", data, n_trees=5)
    with pytest.raises(ValueError, match="target 'salary' is not a column of train_path"):
        report_from_files(path, train, "salary")
    frame = pd.read_csv(train)
    frame.drop(columns=["age"]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(ValueError, match=r"lacks columns .*\['age'\]"):
        report_from_files(path, tmp_path / "short.csv", "income")
    frame.assign(income=frame["income"].where(frame.index > 0)).to_csv(
        tmp_path / "holes.csv", index=False)
    with pytest.raises(ValueError, match="1 missing values"):
        report_from_files(path, tmp_path / "holes.csv", "income")
    with pytest.raises(UnsafeModelError):
        report_from_files(tmp_path / "model.pkl", train, "income")


@pytest.mark.slow
@pytest.mark.parametrize("kind, suffix", FORMATS)
def test_saved_model_round_trip_to_a_report(tmp_path, data, kind, suffix):
    path, train, test, _, _ = _files(tmp_path, kind, suffix, data)
    trusted = skops_io.get_untrusted_types(file=str(path)) if suffix == ".skops" else None
    inputs = report_from_files(path, train, "income", test, trusted=trusted)
    from shap_debug import Debugger

    dbg = Debugger(**inputs.arguments(), protected=["sex"], progress=False)
    out = dbg.report(1, tmp_path / "report.html", label_flip=kind == "xgboost",
                     notes=inputs.notes)
    doc = out.read_text(encoding="utf-8")
    assert 'class="error"' not in doc and "&gt;50K" in doc


@pytest.mark.slow
@pytest.mark.parametrize("kind, suffix", FORMATS)
def test_cli_round_trip(tmp_path, data, kind, suffix, capsys):
    from shap_debug.cli import main

    path, train, test, _, _ = _files(tmp_path, kind, suffix, data)
    extra = (["--trusted", *skops_io.get_untrusted_types(file=str(path))]
             if suffix == ".skops" else [])
    out = tmp_path / "cli.html"
    rc = main(["report", "--model", str(path), "--train", str(train), "--test", str(test),
               "--target", "income", "--anomalies", "1", "--no-label-flip", "--quiet",
               "--out", str(out), *extra])
    assert rc == 0, capsys.readouterr().err
    assert "&gt;50K" in out.read_text(encoding="utf-8")


def test_cli_refuses_a_pickle_without_the_flag(tmp_path, data, capsys):
    from shap_debug.cli import main

    X, y, _, _ = data
    marker = tmp_path / "marker.txt"
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(_Boom(str(marker))))
    X.assign(income=y).to_csv(tmp_path / "train.csv", index=False)
    rc = main(["report", "--model", str(tmp_path / "m.pkl"), "--train",
               str(tmp_path / "train.csv"), "--target", "income"])
    err = capsys.readouterr().err
    assert rc == 2 and "runs any code" in err and "--trust-code" in err
    assert not marker.exists()


@pytest.mark.parametrize("fmt", ["torchscript", "state_dict"])
def test_cli_round_trip_for_torch(tmp_path, fmt, capsys):
    """A trained torch MLP saved as TorchScript or as a state_dict + architecture spec, its
    encoded training table as CSV: the CLI writes the report."""
    torch = pytest.importorskip("torch")
    from shap_debug.cli import main
    from shap_debug.datasets import encode, german

    X, y = german()
    Z, _ = encode(X)
    Z = ((Z - Z.mean(0)) / np.where(Z.std(0) > 0, Z.std(0), 1)).astype(np.float32)
    spec = {"layers": [Z.shape[1], 16, 2], "activation": "relu"}
    torch.manual_seed(0)
    net = build_mlp(spec)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    xt, yt = torch.as_tensor(Z), torch.as_tensor(y, dtype=torch.long)
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    if fmt == "torchscript":
        path, extra = save_model(net.eval(), tmp_path / "net.pt"), ["--trust-code"]
    else:
        path = tmp_path / "weights.pth"
        torch.save(net.state_dict(), path)
        (tmp_path / "arch.json").write_text(__import__("json").dumps(spec))
        extra = ["--torch-architecture", str(tmp_path / "arch.json")]
    cols = [f"x{j}" for j in range(Z.shape[1])]
    pd.DataFrame(Z[:800], columns=cols).assign(t=y[:800]).to_csv(tmp_path / "train.csv",
                                                                 index=False)
    pd.DataFrame(Z[800:], columns=cols).assign(t=y[800:]).to_csv(tmp_path / "test.csv",
                                                                 index=False)
    out = tmp_path / "torch.html"
    rc = main(["report", "--model", str(path), "--train", str(tmp_path / "train.csv"),
               "--test", str(tmp_path / "test.csv"), "--target", "t", "--anomalies", "1",
               "--no-label-flip", "--no-fixes", "--no-dose", "--quiet", "--out", str(out),
               *extra])
    assert rc == 0, capsys.readouterr().err
    doc = out.read_text(encoding="utf-8")
    assert 'id="anomaly-' in doc and "Diagnosis" in doc


def test_parallel_map_runs_in_process_what_cannot_be_pickled(tmp_path):
    """A function holding a TorchScript module cannot go to worker processes: parallel_map
    warns, runs it here, and gives the results it would give with n_jobs=1."""
    torch = pytest.importorskip("torch")
    from functools import partial

    from shap_debug.core import ShapDebugWarning, parallel_map

    net = load_model(save_model(build_mlp({"layers": [3, 4, 2]}), tmp_path / "n.pt"),
                     trust_code=True)

    def score(model, x):
        return float(model(torch.as_tensor(x)).sum())

    xs = [np.full((1, 3), v, dtype=np.float32) for v in range(4)]
    want = parallel_map(partial(score, net), xs, n_jobs=1)
    with pytest.warns(ShapDebugWarning, match="cannot be sent to worker processes"):
        assert parallel_map(partial(score, net), xs, n_jobs=2) == want


# --------------------------------------------------------------------------- damaged native files
def _small_boosters(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0).astype(int)
    xm = xgb.XGBClassifier(n_estimators=2, max_depth=2).fit(X, y)
    lm = lgb.LGBMClassifier(n_estimators=2, num_leaves=4, verbose=-1).fit(X, y)
    return (save_model(xm, tmp_path / "m.json"), save_model(xm, tmp_path / "m.ubj"),
            save_model(lm, tmp_path / "m.txt"))


def test_damage_that_crashed_native_readers_is_refused_first(tmp_path):
    """Each of these once ended the process (SIGSEGV/SIGABRT) inside XGBoost or LightGBM;
    the structural checks now refuse them with a CorruptModelError naming the file."""
    import json

    js, ubj, txt = _small_boosters(tmp_path)
    model = json.loads(js.read_text())
    tree = model["learner"]["gradient_booster"]["model"]["trees"][0]
    tree["parents"][1] = 4194305                                  # a parent out of range
    (tmp_path / "parents.json").write_text(json.dumps(model))
    tree["parents"][1], tree["left_children"][0] = 0, 99          # a child out of range
    (tmp_path / "child.json").write_text(json.dumps(model))
    data = bytearray(ubj.read_bytes())
    at = data.index(b"$d#L") + 4                                  # a typed array's count
    data[at:at + 8] = (1 << 40).to_bytes(8, "big")
    (tmp_path / "count.ubj").write_bytes(bytes(data))
    text = txt.read_text()
    (tmp_path / "param.txt").write_text(text.replace("[feature_fraction_seed: 2]",
                                                     "[fe1544055814238 0.411"))
    (tmp_path / "leaf.txt").write_text(text.replace("left_child=", "left_child=7 ", 1))
    (tmp_path / "sizes.txt").write_text(text.replace("tree_sizes=", "tree_sizes=1", 1))
    for name in ("parents.json", "child.json", "count.ubj", "param.txt", "leaf.txt",
                 "sizes.txt"):
        with pytest.raises(CorruptModelError, match=rf"{name}.*not a valid"):
            load_model(tmp_path / name)
    for path in (js, ubj, txt):                                   # the originals still load
        assert load_model(path).predict_proba(np.zeros((1, 3))).shape == (1, 2)


def test_a_failed_save_keeps_the_old_model_file(tmp_path, monkeypatch):
    """save_model writes beside the target and moves the file into place: a save that fails
    midway leaves the previous model whole and no temporary file behind."""
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(40, 2))
    model = LogisticRegression().fit(X, X[:, 0] > 0)
    path = save_model(model, tmp_path / "m.skops")
    before = path.read_bytes()

    def half_dump(obj, file):
        Path(file).write_bytes(before[: len(before) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(skops_io, "dump", half_dump)
    with pytest.raises(OSError, match="No space"):
        save_model(LogisticRegression().fit(X, X[:, 1] > 0), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.skops"]
    np.testing.assert_allclose(load_model(path).predict_proba(X), model.predict_proba(X))
