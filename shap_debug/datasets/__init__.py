"""Bundled, offline tabular data sets: Adult, German credit and COMPAS.

Unlike :mod:`shap.datasets`, nothing is downloaded: compressed raw copies ship inside the
package (see ``data/CODEBOOK.md`` for sources and licences). Every loader returns ``(X, y)``:
``X`` a :class:`pandas.DataFrame` whose categorical columns have ``category`` dtype with
readable labels, ``y`` an ``int`` numpy array.

Examples
--------
>>> from shap_debug.datasets import german, encode
>>> X, y = german()
>>> X.shape, round(float(y.mean()), 2)
((1000, 20), 0.3)
>>> Z, enc = encode(X, kind="ordinal")
>>> Z.shape
(1000, 20)
"""

from __future__ import annotations

from ._encode import FrameEncoder, encode
from ._loaders import adult, compas, german

__all__ = ["adult", "german", "compas", "encode", "FrameEncoder"]
