"""The public core both packages build on: input checks, model adapters, the result base
class, HTML and parallel helpers. ``captum_ext`` imports only from here, never a private module."""

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
    explain_plan,
    is_linear_model,
    is_torch_module,
    is_tree_model,
    predict_labels,
    predict_proba_fn,
    quiet_c_output,
    search_model,
    seeded_clone,
    softmax,
    supports_tree_explainer,
    tree_explainer_mode,
)
from ._parallel import parallel_map, progress_iter, worker_jobs
from ._pipelines import feature_groups, raw_space_explanation
from ._plotting import finish, new_axes
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

__all__ += ['eval_mode']
__all__ += ['check_anomalies', 'check_known_labels', 'check_probabilities',
            'check_same_columns', 'check_unique_columns']
__all__ += ['inert_text', 'spreadsheet_safe', 'spreadsheet_safe_frame']
__all__ += ['CodedModel', 'EncodedModel', 'FrameCodec', 'check_inputs', 'check_missing_supported', 'explain_plan', 'feature_groups', 'flip_inputs', 'quiet_c_output', 'raw_space_explanation', 'seeded_clone', 'supports_tree_explainer', 'tree_explainer_mode']
