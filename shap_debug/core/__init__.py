"""The shared mechanisms both packages build on: input checks, model adapters, the refit with
relabelled rows, the frame codec, parallel map, plot palette and finish, results, HTML, lazy index."""

from ._config import config_context, get_config, set_config, show_progress
from ._frames import CodedModel, FrameCodec, flip_inputs
from ._html import (
    escape,
    inert_text,
    section_html,
    spreadsheet_safe,
    spreadsheet_safe_frame,
    table_html,
)
from ._lazy import lazy_getattr
from ._models import (
    EncodedModel,
    check_classifier,
    check_inputs,
    check_missing_supported,
    class_index,
    classes_of,
    clone_model,
    eval_mode,
    is_boosting_model,
    is_linear_model,
    is_torch_module,
    is_tree_model,
    predict_labels,
    predict_proba_fn,
    search_model,
    seeded_clone,
    softmax,
    take_rows,
    unwrap_model,
)
from ._parallel import parallel_map, progress_iter, worker_jobs
from ._pipelines import feature_groups, raw_space_explanation
from ._plotting import PALETTE, Palette, finish, new_axes
from ._refit import (
    Refit,
    RefitCache,
    predict_rows,
    refit_many,
    refit_predict,
    relabelled,
    show_warnings_once,
    warm_startable,
)
from ._results import Result
from ._validation import (
    ShapDebugWarning,
    check_anomalies,
    check_columns,
    check_explanation,
    check_float,
    check_frame_or_array,
    check_indices,
    check_int,
    check_known_labels,
    check_option,
    check_probabilities,
    check_random_state,
    check_same_columns,
    check_test_split,
    check_unique_columns,
    check_X_y,
    check_y,
    explanation_values,
    feature_names_of,
    seed_from,
    warn,
)

__all__ = [
    "Result", "ShapDebugWarning", "check_X_y", "check_classifier", "check_columns",
    "check_explanation", "check_float", "check_frame_or_array", "check_indices", "check_int",
    "check_option", "check_random_state", "check_y", "class_index", "classes_of", "clone_model",
    "escape", "explanation_values", "finish", "new_axes", "feature_names_of", "is_linear_model", "is_torch_module",
    "is_tree_model", "lazy_getattr", "parallel_map", "predict_labels", "predict_proba_fn",
    "progress_iter", "search_model", "section_html", "seed_from", "softmax", "table_html",
    "warn", "worker_jobs",
]

__all__ += ['CodedModel', 'EncodedModel', 'FrameCodec', 'check_inputs', 'check_missing_supported', 'feature_groups', 'flip_inputs', 'raw_space_explanation', 'seeded_clone', 'take_rows', 'unwrap_model', 'is_boosting_model',
            'Refit', 'RefitCache', 'predict_rows', 'refit_many', 'refit_predict', 'relabelled', 'show_warnings_once', 'warm_startable', 'PALETTE', 'Palette']
__all__ += ["config_context", "get_config", "set_config", "show_progress"]
__all__ += ['eval_mode']
__all__ += ['check_anomalies', 'check_known_labels', 'check_probabilities', 'check_test_split',
            'check_same_columns', 'check_unique_columns']
__all__ += ['inert_text', 'spreadsheet_safe', 'spreadsheet_safe_frame']
