import numpy as np
import pandas as pd
import pytest

from shap_debug.datasets import adult, compas, encode, german


def test_adult_shape_rate_and_types():
    X, y = adult()
    assert X.shape == (32561, 12)
    assert "fnlwgt" not in X and "education-num" not in X
    assert abs(y.mean() - 0.2408) < 0.001
    assert y.dtype.kind == "i" and set(np.unique(y)) == {0, 1}
    assert not X.isna().any().any()
    assert isinstance(X["workclass"].dtype, pd.CategoricalDtype)
    assert "Unknown" in X["workclass"].cat.categories  # the raw '?' is handled, not dropped
    assert X["education"].cat.ordered and X["education"].cat.categories[0] == "Preschool"
    Xt, yt = adult("test")
    assert Xt.shape == (16281, 12) and abs(yt.mean() - 0.236) < 0.002
    assert list(Xt.columns) == list(X.columns)


def test_german_decoded():
    X, y = german()
    assert X.shape == (1000, 20)
    assert y.mean() == pytest.approx(0.30)
    assert str(X.loc[0, "checking_status"]) == "< 0 DM"
    assert str(X.loc[0, "purpose"]) == "radio/television"
    cats = X.select_dtypes("category")
    assert cats.shape[1] == 13
    assert not any(str(v).startswith("A") and str(v)[1:].isdigit()
                   for c in cats for v in cats[c].cat.categories)


def test_compas_filter_and_targets():
    X, y = compas()
    assert X.shape == (6172, 10)
    assert y.mean() == pytest.approx(0.455, abs=0.001)
    assert not {"decile_score", "score_text", "is_recid", "two_year_recid"} & set(X.columns)
    assert not X.isna().any().any()
    assert (X["length_of_stay"] >= 0).all()
    _, yd = compas(target="decile_score")
    assert len(yd) == 6172 and 0.6 < yd.mean() < 0.8
    with pytest.raises(ValueError, match="target"):
        compas(target="race")


@pytest.mark.parametrize("kind", ["ordinal", "onehot"])
def test_encode_roundtrip(kind):
    X, _ = german()
    before = X.copy()
    Z, enc = encode(X, kind=kind)
    assert Z.dtype == np.float64 and np.isfinite(Z).all()
    if kind == "onehot":
        assert Z.shape[1] == len(enc.feature_names_out_) > 20
        for col, idx in enc.groups_.items():
            if col in enc.categories_:
                assert np.allclose(Z[:, idx].sum(1), 1.0)
    else:
        assert Z.shape == (1000, 20)
    back = enc.inverse_transform(Z)
    pd.testing.assert_frame_equal(back.astype(str), X.astype(str).reset_index(drop=True),
                                  check_dtype=False)
    pd.testing.assert_frame_equal(X, before)  # input untouched


def test_encode_bad_input():
    with pytest.raises(TypeError, match="DataFrame"):
        encode(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="kind"):
        encode(pd.DataFrame({"a": [1]}), kind="binary")
