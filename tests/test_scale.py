"""Issue 19: the pipeline on a Dask cluster and on Parquet input gives the single-process
results exactly; the scale benchmark's data and fits."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.neighbors import KNeighborsClassifier

from shap_debug.audit import suspicious_rows
from shap_debug.contributions import explain
from shap_debug.datasets import adult, encode
from shap_debug.debugger import Debugger
from shap_debug.neighborhood import DaskNeighborhoodModel, NeighborhoodModel, read_rows

distributed = pytest.importorskip("distributed")
pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def adult_small():
    """1,500 Adult rows (ordinal codes), a 20-tree GB and the readable frame."""
    X, y = adult()
    take = np.random.default_rng(0).choice(len(X), 1500, replace=False)
    X, y = X.iloc[np.sort(take)].reset_index(drop=True), y[np.sort(take)]
    Z, enc = encode(X, kind="ordinal")
    gb = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(Z, y)
    return X, Z, y, enc, gb


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as c, distributed.Client(c) as client:
        yield client


def _same_neighbourhoods(a, b, rows):
    np.testing.assert_array_equal(a.anomalies_, b.anomalies_)
    da, ia = a.kneighbors(rows)
    db, ib = b.kneighbors(rows)
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_array_equal(da, db)
    np.testing.assert_array_equal(a.occurrence().counts, b.occurrence().counts)


# --------------------------------------------------------------------------- a Dask cluster
def test_debugger_on_a_local_cluster_matches_the_single_process_run(adult_small, cluster):
    X, Z, y, enc, gb = adult_small
    kw = dict(encoder=enc, X_test=Z[:200], y_test=y[:200], protected=["sex"], n_neighbors=60,
              random_state=0, progress=False)
    local = Debugger(gb, Z, y, **kw)
    with distributed.get_task_stream(cluster) as stream:
        remote = Debugger(gb, Z, y, client=cluster, **kw)
        nm_remote = remote.neighborhood_model  # TreeSHAP chunks run on the workers
    assert stream.data, "no task ran on the cluster"
    nm_local = local.neighborhood_model
    np.testing.assert_array_equal(nm_remote.contributions_, nm_local.contributions_)
    _same_neighbourhoods(nm_remote, nm_local, nm_local.anomalies_)
    a, b = remote.overview(), local.overview()
    assert a.failures == b.failures == {}
    assert [c.rule for c in a.cohorts.slices] == [c.rule for c in b.cohorts.slices]
    for ca, cb in zip(a.cohorts.slices, b.cohorts.slices):
        np.testing.assert_array_equal(ca.rows, cb.rows)
    np.testing.assert_array_equal(a.suspicious.ranking, b.suspicious.ranking)
    assert a.suspicious.n_flagged == b.suspicious.n_flagged
    np.testing.assert_array_equal(a.occurrence.counts, b.occurrence.counts)
    pd.testing.assert_frame_equal(a.recurring_rows, b.recurring_rows)
    assert [f.message for f in a.flags] == [f.message for f in b.flags]


def test_neighbour_queries_and_refits_run_on_the_workers(adult_small, cluster):
    from joblib import parallel_backend

    X, Z, y, enc, gb = adult_small
    exp = explain(gb, Z, random_state=0, progress=False)
    local = NeighborhoodModel(n_neighbors=60).fit(gb, Z, y, exp, progress=False)
    spread = NeighborhoodModel(n_neighbors=60, n_jobs=-1, chunk_size=25).fit(
        gb, Z, y, exp, progress=False)
    with parallel_backend("dask"), distributed.get_task_stream(cluster) as stream:
        _same_neighbourhoods(spread, local, local.anomalies_)
        sus = suspicious_rows(gb, Z, y, n_repeats=2, n_jobs=-1, random_state=0)
    assert len(stream.data) >= len(local.anomalies_) // 25
    ref = suspicious_rows(gb, Z, y, n_repeats=2, random_state=0)
    np.testing.assert_array_equal(sus.ranking, ref.ranking)
    np.testing.assert_array_equal(sus.proba, ref.proba)


def test_suspicious_refits_equal_cross_val_predict(adult_small):
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from shap_debug.core import check_random_state, seed_from

    X, Z, y, enc, gb = adult_small
    model = GradientBoostingClassifier(n_estimators=10, random_state=0)
    res = suspicious_rows(model, Z, y, n_repeats=2, random_state=3)
    rng = check_random_state(3)
    total = sum(cross_val_predict(model, Z, y, method="predict_proba", cv=StratifiedKFold(
        5, shuffle=True, random_state=seed_from(rng))) for _ in range(2)) / 2
    np.testing.assert_array_equal(res.proba, total)


# --------------------------------------------------------------------------- Parquet input
@pytest.fixture(scope="module")
def parquet_rows(adult_small, tmp_path_factory):
    X, Z, y, enc, gb = adult_small
    root = tmp_path_factory.mktemp("rows")
    frame = pd.DataFrame(Z, columns=enc.feature_names_out_).assign(label=y)
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 4)):
        frame.iloc[part].to_parquet(root / f"part-{i}.parquet", index=False)
    return root, frame


def test_parquet_contributions_and_neighbourhoods_equal_the_in_memory_run(
        adult_small, parquet_rows, tmp_path):
    X, Z, y, enc, gb = adult_small
    root, frame = parquet_rows
    ref = NeighborhoodModel(n_neighbors=40).fit(gb, Z, y, random_state=0, progress=False)
    nbm = DaskNeighborhoodModel(40, chunk_size=17, random_state=0).fit(
        gb, root, "label", store=tmp_path / "table", progress=False)
    assert read_rows(root).npartitions == 4 and nbm.table_.npartitions == 4
    assert nbm.n_rows_ == len(y) and nbm.offsets_.tolist() == [0, 375, 750, 1125]
    np.testing.assert_array_equal(nbm.contributions_, ref.contributions_)
    np.testing.assert_array_equal(nbm.predicted_labels_, ref.predicted_labels_)
    _same_neighbourhoods(nbm, ref, ref.anomalies_)
    i = int(ref.anomalies_[0])
    nb, nb_ref = nbm.neighbors(i), ref.neighbors(i)
    np.testing.assert_array_equal(nb.indices, nb_ref.indices)
    np.testing.assert_array_equal(nb.explanation.values, nb_ref.explanation.values)
    np.testing.assert_array_equal(nb.duplicates, nb_ref.duplicates)
    np.testing.assert_allclose(nb.rows.to_numpy(float), Z[nb.indices])
    pd.testing.assert_frame_equal(nbm.rows([5, 1400, 2]).reset_index(drop=True),
                                  frame.iloc[[5, 1400, 2]].reset_index(drop=True))


def test_parquet_sampling_estimates_replay_the_same_permutations(adult_small, tmp_path):
    X, Z, y, enc, gb = adult_small
    Z, y = Z[:240], y[:240]
    knn = KNeighborsClassifier(n_neighbors=15).fit(Z, y)  # no exact explainer
    ref = NeighborhoodModel(n_neighbors=20).fit(knn, Z, y, random_state=4, progress=False)
    frame = pd.DataFrame(Z, columns=[f"f{j}" for j in range(Z.shape[1])]).assign(y=y)
    import dask.dataframe as dd

    nbm = DaskNeighborhoodModel(20, random_state=4).fit(
        knn, dd.from_pandas(frame, npartitions=3), "y", progress=False)
    np.testing.assert_array_equal(nbm.contributions_, ref.contributions_)
    _same_neighbourhoods(nbm, ref, ref.anomalies_)


def test_parquet_on_a_local_cluster(adult_small, parquet_rows, cluster):
    from joblib import parallel_backend

    X, Z, y, enc, gb = adult_small
    root, _ = parquet_rows
    ref = NeighborhoodModel(n_neighbors=40).fit(gb, Z, y, random_state=0, progress=False)
    with distributed.get_task_stream(cluster) as stream:
        nbm = DaskNeighborhoodModel(40, n_jobs=-1, chunk_size=30, random_state=0).fit(
            gb, str(root), "label")
    assert stream.data
    with parallel_backend("dask"):
        _same_neighbourhoods(nbm, ref, ref.anomalies_)


def test_bad_input(parquet_rows, adult_small):
    X, Z, y, enc, gb = adult_small
    root, frame = parquet_rows
    with pytest.raises(ValueError, match="label column 'income'"):
        DaskNeighborhoodModel(5).fit(gb, root, "income", progress=False)
    with pytest.raises(ValueError, match="n_neighbors must be <= 1499"):
        DaskNeighborhoodModel(1500).fit(gb, root, "label", progress=False)
    with pytest.raises(TypeError, match="Parquet"):
        read_rows(Z)
    with pytest.raises(ValueError, match="not fitted"):
        DaskNeighborhoodModel(5).occurrence()


# --------------------------------------------------------------------------- the benchmark
def _bench():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "scale.py"
    spec = importlib.util.spec_from_file_location("scale_bench", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["scale_bench"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_replicated_adult_is_jittered_not_duplicated():
    bench = _bench()
    X1, y1 = bench.make_data(1, base_rows=500)
    X4, y4 = bench.make_data(4, base_rows=500)
    assert len(X4) == 4 * len(X1) and (y4[:500] == y1).all()
    pd.testing.assert_frame_equal(X4.iloc[:500].astype(X1.dtypes.to_dict()), X1,
                                  check_dtype=False)
    assert not X4.iloc[500:].duplicated().any()
    assert list(X4.select_dtypes("category").columns) == list(
        X1.select_dtypes("category").columns)
    np.testing.assert_allclose(np.bincount(y4) / len(y4), np.bincount(y1) / len(y1), atol=0.05)


def test_growth_exponents_are_fitted_on_log_log():
    bench = _bench()
    runs = [{"factor": f, "mode": "full", "n_train": 1000 * f,
             "stages": {"a": {"wall_s": 2.0 * f, "cpu_s": 1.0 * f},
                        "b": {"wall_s": 0.5 * f ** 2, "cpu_s": 0.5 * f ** 2}}}
            for f in (1, 4, 16)]
    ex = bench.exponents(runs, quick=False)
    assert ex["a"]["time_exponent_from_4x"] == pytest.approx(1.0)
    assert ex["b"]["time_exponent_all"] == pytest.approx(2.0)
    pred = bench.extrapolate(runs, ex, 64, quick=False)
    assert pred["seconds"]["a"] == pytest.approx(128.0)
    assert pred["cpu_seconds"]["b"] == pytest.approx(0.5 * 64 ** 2)
    assert ex["a"]["cpu_exponent_all"] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_interpolated_growth_keeps_marginals_and_distinct_contributions(seed):
    """The honest generator: new rows between same-label neighbours keep Adult's shares,
    means and the label's dependence on the columns, and (unlike the jittered copies) give
    a tree model's contribution vectors tied less often than the copies' (closer to real
    rows of that number)."""
    import shap
    from sklearn.ensemble import GradientBoostingClassifier

    from shap_debug.datasets import encode

    bench = _bench()
    X1, y1 = bench.make_data(1, seed=seed, base_rows=600)
    X4, y4 = bench.make_data(4, seed=seed, base_rows=600, grow="interpolate")
    assert len(X4) == 4 * len(X1) and (y4[:600] == y1).all()
    assert not X4.iloc[600:].duplicated().any()
    np.testing.assert_allclose(np.bincount(y4) / len(y4), np.bincount(y1) / len(y1), atol=0.03)
    for col in ("age", "hours-per-week"):
        assert X4[col].mean() == pytest.approx(X1[col].mean(), rel=0.05)
        assert X4[col].between(X1[col].min(), X1[col].max()).all()   # between observed rows
        # the label's dependence on the column is kept
        gap1 = X1[col][y1 == 1].mean() - X1[col][y1 == 0].mean()
        gap4 = X4[col][y4 == 1].mean() - X4[col][y4 == 0].mean()
        assert gap4 == pytest.approx(gap1, rel=0.25)
    for col in ("sex", "relationship"):
        s1 = X1[col].value_counts(normalize=True)
        s4 = X4[col].value_counts(normalize=True).reindex(s1.index, fill_value=0)
        assert (s4 - s1).abs().max() < 0.05
    with pytest.raises(ValueError, match="grow"):
        bench.make_data(2, base_rows=100, grow="copy")

    def distinct_share(X, y):
        Z, _ = encode(X, kind="ordinal")
        gb = GradientBoostingClassifier(n_estimators=40, random_state=seed).fit(Z, y)
        sv = np.asarray(shap.TreeExplainer(gb).shap_values(Z))
        return len(np.unique(np.round(sv, 12), axis=0)) / len(sv)

    # trees give exact ties on real data too (rows in the same leaves): the reference is a
    # real Adult sample of the same size, whose share the grown rows should have
    real = distinct_share(*bench.make_data(1, seed=seed + 7, base_rows=2400))
    jitter = distinct_share(*bench.make_data(4, seed=seed, base_rows=600))
    honest = distinct_share(X4, y4)
    assert abs(honest - real) < abs(jitter - real) and honest > jitter + 0.15
