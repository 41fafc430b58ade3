"""Input and output: model files (only formats that cannot run code by default), tables,
"model plus data" inputs for the report, and output files written atomically.

Names load lazily, so the command line checks its output path without importing
scikit-learn first.
"""

from ..core import lazy_getattr

_LAZY = {
    "BoosterClassifier": "_adapters", "LabelledClassifier": "_adapters",
    "atomic_path": "_files", "check_output_path": "_files", "write_text_atomic": "_files",
    "DebugInputs": "_inputs", "report_from_files": "_inputs",
    "SKOPS_TRUSTED": "_model_files", "CorruptModelError": "_model_files",
    "UnsafeModelError": "_model_files", "build_mlp": "_model_files",
    "load_model": "_model_files", "model_kind": "_model_files", "save_model": "_model_files",
    "load_table": "_tables",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__():
    return __all__
