"""Models and tables from disk, without unpickling untrusted bytes, and "model plus data"
inputs for the report."""

from ._model_files import (
    BoosterClassifier,
    DebugInputs,
    LabelledClassifier,
    UnsafeModelError,
    build_mlp,
    load_model,
    load_table,
    model_kind,
    report_from_files,
    save_model,
)

__all__ = [
    "BoosterClassifier", "DebugInputs", "LabelledClassifier", "UnsafeModelError", "build_mlp",
    "load_model", "load_table", "model_kind", "report_from_files", "save_model",
]
