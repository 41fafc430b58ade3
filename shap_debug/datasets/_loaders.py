"""Loaders for the bundled data sets (sources and licences in ``data/CODEBOOK.md``)."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

_ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
]
_ADULT_CATEGORICAL = [
    "workclass", "education", "marital-status", "occupation", "relationship", "race", "sex",
    "native-country",
]
# Education levels in their natural order, so an ordered Categorical carries it.
_EDUCATION_ORDER = [
    "Preschool", "1st-4th", "5th-6th", "7th-8th", "9th", "10th", "11th", "12th", "HS-grad",
    "Some-college", "Assoc-voc", "Assoc-acdm", "Bachelors", "Masters", "Prof-school",
    "Doctorate",
]


def _path(name: str):
    return resources.files("shap_debug.datasets").joinpath("data", name)


def adult(split: str = "train") -> tuple[pd.DataFrame, np.ndarray]:
    """UCI Adult census income (Kohavi & Becker), income > 50K as the positive class.

    ``fnlwgt`` (a sampling weight) and ``education-num`` (a copy of ``education``) are
    dropped. Missing values (``?`` in the raw file, in ``workclass``, ``occupation`` and
    ``native-country``) become the explicit category ``"Unknown"`` so no row is lost.

    Parameters
    ----------
    split : {"train", "test", "all"}
        ``"train"`` is ``adult.data`` (32,561 rows), ``"test"`` is ``adult.test``
        (16,281 rows), ``"all"`` both, train first.

    Returns
    -------
    X : DataFrame of shape (n, 12)
    y : ndarray of int, 1 for income > 50K (about 24 %).

    Examples
    --------
    >>> X, y = adult()
    >>> X.shape
    (32561, 12)
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all'; got {split!r}")
    parts = []
    if split in ("train", "all"):
        parts.append(_read_adult("adult.data.gz", skip=0))
    if split in ("test", "all"):
        parts.append(_read_adult("adult.test.gz", skip=1))
    raw = pd.concat(parts, ignore_index=True)
    y = raw.pop("income").str.rstrip(".").eq(">50K").to_numpy(dtype=int)
    raw = raw.drop(columns=["fnlwgt", "education-num"])
    for col in _ADULT_CATEGORICAL:
        values = raw[col].replace("?", "Unknown")
        if col == "education":
            raw[col] = pd.Categorical(values, categories=_EDUCATION_ORDER, ordered=True)
        else:
            raw[col] = pd.Categorical(values, categories=sorted(values.unique()))
    for col in ("age", "capital-gain", "capital-loss", "hours-per-week"):
        raw[col] = raw[col].astype("int64")
    return raw, y


def _read_adult(name: str, skip: int) -> pd.DataFrame:
    with _path(name).open("rb") as fh:
        return pd.read_csv(
            fh, compression="gzip", header=None, names=_ADULT_COLUMNS, skiprows=skip,
            sep=",", skipinitialspace=True, dtype=str,
        ).dropna(how="all").astype({c: "int64" for c in (
            "age", "fnlwgt", "education-num", "capital-gain", "capital-loss",
            "hours-per-week")})


# German credit: attribute name and, for symbolic attributes, the code -> label map.
_GERMAN = [
    ("checking_status", {"A11": "< 0 DM", "A12": "0..200 DM", "A13": ">= 200 DM / salary",
                         "A14": "no checking account"}),
    ("duration", None),
    ("credit_history", {"A30": "no credits / all paid", "A31": "all paid at this bank",
                        "A32": "existing paid till now", "A33": "delay in the past",
                        "A34": "critical / credits elsewhere"}),
    ("purpose", {"A40": "car (new)", "A41": "car (used)", "A42": "furniture/equipment",
                 "A43": "radio/television", "A44": "domestic appliances", "A45": "repairs",
                 "A46": "education", "A47": "vacation", "A48": "retraining",
                 "A49": "business", "A410": "others"}),
    ("credit_amount", None),
    ("savings", {"A61": "< 100 DM", "A62": "100..500 DM", "A63": "500..1000 DM",
                 "A64": ">= 1000 DM", "A65": "unknown / none"}),
    ("employment_since", {"A71": "unemployed", "A72": "< 1 year", "A73": "1..4 years",
                          "A74": "4..7 years", "A75": ">= 7 years"}),
    ("installment_rate", None),
    ("personal_status_sex", {"A91": "male divorced/separated",
                             "A92": "female div/sep/married", "A93": "male single",
                             "A94": "male married/widowed", "A95": "female single"}),
    ("other_debtors", {"A101": "none", "A102": "co-applicant", "A103": "guarantor"}),
    ("residence_since", None),
    ("property", {"A121": "real estate", "A122": "savings / life insurance",
                  "A123": "car or other", "A124": "unknown / none"}),
    ("age", None),
    ("other_installment_plans", {"A141": "bank", "A142": "stores", "A143": "none"}),
    ("housing", {"A151": "rent", "A152": "own", "A153": "for free"}),
    ("existing_credits", None),
    ("job", {"A171": "unemployed / unskilled non-resident", "A172": "unskilled resident",
             "A173": "skilled employee / official",
             "A174": "management / highly qualified"}),
    ("num_dependents", None),
    ("telephone", {"A191": "none", "A192": "yes"}),
    ("foreign_worker", {"A201": "yes", "A202": "no"}),
]


def german() -> tuple[pd.DataFrame, np.ndarray]:
    """Statlog German credit (Hofmann), bad credit risk as the positive class.

    The symbolic A-codes are decoded to readable labels (ordered as in the codebook).

    Returns
    -------
    X : DataFrame of shape (1000, 20)
    y : ndarray of int, 1 = bad credit (30 %), 0 = good.

    Examples
    --------
    >>> X, y = german()
    >>> str(X.loc[0, "checking_status"])
    '< 0 DM'
    """
    names = [name for name, _ in _GERMAN] + ["class"]
    with _path("german.data.gz").open("rb") as fh:
        raw = pd.read_csv(fh, compression="gzip", sep=" ", header=None, names=names, dtype=str)
    y = (raw.pop("class").astype(int) == 2).to_numpy(dtype=int)
    for name, codes in _GERMAN:
        if codes is None:
            raw[name] = raw[name].astype("int64")
        else:
            unknown = set(raw[name]) - set(codes)
            if unknown:  # pragma: no cover - guards a corrupted copy
                raise ValueError(f"unexpected codes {sorted(unknown)} in column {name!r}")
            raw[name] = pd.Categorical(raw[name].map(codes), categories=list(codes.values()))
    return raw, y


_COMPAS_FEATURES = [
    "sex", "age", "age_cat", "race", "juv_fel_count", "juv_misd_count", "juv_other_count",
    "priors_count", "c_charge_degree", "length_of_stay",
]


def compas(target: str = "two_year_recid") -> tuple[pd.DataFrame, np.ndarray]:
    """ProPublica COMPAS recidivism data with ProPublica's row filter (6,172 rows).

    Rows are kept when ``-30 <= days_b_screening_arrest <= 30``, ``is_recid != -1``,
    ``c_charge_degree != 'O'`` and ``score_text != 'N/A'``. Features: sex, age, age_cat,
    race, juvenile counts, priors_count, c_charge_degree and ``length_of_stay`` (days in
    jail, ``c_jail_out - c_jail_in``, clipped at 0: 180 rows record the release up to 12
    hours before the booking). COMPAS's own outputs (``decile_score``,
    ``score_text``) and ``is_recid`` (which contains the target) are never features.

    Parameters
    ----------
    target : {"two_year_recid", "decile_score"}
        ``"two_year_recid"``: 1 if the person re-offended within two years (45.5 %).
        ``"decile_score"``: the reference debugger's binarisation, 1 when the COMPAS
        decile is below 7 (a "low/medium risk" score), else 0.

    Examples
    --------
    >>> X, y = compas()
    >>> X.shape
    (6172, 10)
    """
    if target not in ("two_year_recid", "decile_score"):
        raise ValueError(
            f"target must be 'two_year_recid' or 'decile_score'; got {target!r}")
    with _path("compas-scores-two-years.csv.gz").open("rb") as fh:
        raw = pd.read_csv(fh, compression="gzip")
    keep = (
        raw["days_b_screening_arrest"].between(-30, 30)
        & (raw["is_recid"] != -1)
        & (raw["c_charge_degree"] != "O")
        & (raw["score_text"] != "N/A")
        & raw["score_text"].notna()
    )
    raw = raw.loc[keep].reset_index(drop=True)
    stay = pd.to_datetime(raw["c_jail_out"]) - pd.to_datetime(raw["c_jail_in"])
    # 180 filtered rows have c_jail_out up to 12 hours before c_jail_in: clipped to 0 days
    raw["length_of_stay"] = (stay.dt.total_seconds() / 86400.0).clip(lower=0.0).round(2)
    if target == "two_year_recid":
        y = raw["two_year_recid"].to_numpy(dtype=int)
    else:
        y = (raw["decile_score"] < 7).to_numpy(dtype=int)
    X = raw[_COMPAS_FEATURES].copy()
    X["sex"] = pd.Categorical(X["sex"], categories=["Female", "Male"])
    X["age_cat"] = pd.Categorical(
        X["age_cat"], categories=["Less than 25", "25 - 45", "Greater than 45"], ordered=True)
    X["race"] = pd.Categorical(X["race"], categories=sorted(X["race"].unique()))
    X["c_charge_degree"] = pd.Categorical(
        X["c_charge_degree"].map({"F": "Felony", "M": "Misdemeanor"}),
        categories=["Felony", "Misdemeanor"])
    return X, y
