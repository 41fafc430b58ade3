import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from _data import SIZES, dataset, fitted  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------- the kit
def _data_fixture(name):
    @pytest.fixture(scope="session", name=f"{name}_data")
    def fixture():
        """The bundled set's first rows, readable (``X``) and ordinal codes (``Z``)."""
        return dataset(name, *SIZES[name])

    return fixture


def _model_fixture(name, kind):
    @pytest.fixture(scope="session", name=f"{name}_{kind}")
    def fixture():
        """A model fitted on the kit's rows of the set (``.model``, ``.Z``, ``.y``)."""
        return fitted(name, kind, *SIZES[name])

    return fixture


for _name in SIZES:
    globals()[f"{_name}_data"] = _data_fixture(_name)
    for _kind in ("gb", "lr"):
        globals()[f"{_name}_{_kind}"] = _model_fixture(_name, _kind)


# --------------------------------------------------------------------------- shared data
def make_pocket(seed=0, n=400, n_pocket=40, n_true=5):
    """y = [x0 > 0.5] plus a pocket of ``n_pocket`` rows near (0.25, 0.5) mislabelled 1,
    with ``n_true`` correctly labelled (0) rows inside it that the model gets wrong."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, 2))
    y = (X[:, 0] > 0.5).astype(int)
    far = np.hypot(X[:, 0] - 0.25, X[:, 1] - 0.5) > 0.12  # keep the pocket clean
    X, y = X[far], y[far]
    sd = np.r_[np.full(n_pocket, 0.02), np.full(n_true, 0.004)]  # true rows at the centre
    P = np.column_stack([rng.normal(0.25, sd), rng.normal(0.5, sd)])
    yp = np.r_[np.ones(n_pocket, int), np.zeros(n_true, int)]
    pocket = np.arange(len(X), len(X) + len(P))
    return np.vstack([X, P]), np.r_[y, yp], pocket, pocket[n_pocket:]


@pytest.fixture(scope="module")
def pocket():
    """The mislabelled pocket and a 15-NN model that fits it (known answer: the pocket)."""
    from sklearn.neighbors import KNeighborsClassifier

    X, y, pocket_rows, true_rows = make_pocket()
    knn = KNeighborsClassifier(n_neighbors=15).fit(X, y)
    return X, y, pocket_rows, true_rows, knn
