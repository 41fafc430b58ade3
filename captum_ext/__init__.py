"""captum_ext: Captum-side debugging tools (bridge, flip points, agnostic networks, influence)."""

from .bridge import SklearnForward, TorchClassifier, attributions_to_explanation

__all__ = ["SklearnForward", "TorchClassifier", "attributions_to_explanation"]
