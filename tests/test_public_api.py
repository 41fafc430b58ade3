import importlib

import pytest

import captum_ext
import shap_debug


@pytest.mark.parametrize("pkg", [shap_debug, captum_ext, shap_debug.plots, shap_debug.datasets])
def test_every_public_name_resolves(pkg):
    for name in pkg.__all__:
        obj = getattr(pkg, name)
        assert obj is not None, name
        if callable(obj) and not isinstance(obj, type):
            assert obj.__doc__, f"{pkg.__name__}.{name} has no docstring"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="nope"):
        shap_debug.nope  # noqa: B018
    with pytest.raises(AttributeError):
        importlib.import_module("captum_ext").nope  # noqa: B018
