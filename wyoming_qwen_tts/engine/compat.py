"""Let ``import qwen_tts`` work without the dependencies the 12 Hz path does not use.

``qwen_tts`` imports its 25 Hz tokenizer at package import time, and that tokenizer imports
``sox``, ``onnxruntime`` and ``torchaudio.compliance.kaldi``. None of them is used by the
12 Hz checkpoints this server loads. PyPI's torchaudio is built against one exact torch release
and fails to load beside any other (a CPU-only torch in particular), so a CPU install must not
depend on it. Where such a module cannot be imported, a placeholder stands in for it that raises
a clear error if anything ever touches it.

``qwen_tts`` also imports librosa, of which the 12 Hz path calls two functions; it gets those
from ``librosa_subset`` instead, so that no install needs librosa (nor numba, llvmlite, scipy
and scikit-learn behind it).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import io
import logging
import sys
import types

from wyoming_qwen_tts.engine import librosa_subset

_LOGGER = logging.getLogger(__name__)

_OPTIONAL_MODULES: tuple[str, ...] = ("sox", "onnxruntime", "torchaudio.compliance.kaldi")


class _MissingModule(types.ModuleType):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name)
        self.__path__: list[str] = []
        self.__spec__ = importlib.machinery.ModuleSpec(name, loader=None, is_package=True)
        self._reason = reason

    def __getattr__(self, attr: str) -> object:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise ImportError(f"'{self.__name__}.{attr}' is unavailable: {self._reason}")


_NOT_USED = "it is only needed by the 25 Hz Qwen3-TTS tokenizer, which this server does not use"
_LIBROSA_SUBSET = (
    "this server gives qwen_tts only librosa.filters.mel and librosa.resample "
    "(wyoming_qwen_tts.engine.librosa_subset)"
)


def _librosa_modules() -> dict[str, types.ModuleType]:
    """``librosa`` and ``librosa.filters`` as qwen_tts sees them: the two functions it calls."""
    librosa = _MissingModule("librosa", _LIBROSA_SUBSET)
    filters = _MissingModule("librosa.filters", _LIBROSA_SUBSET)
    filters.mel = librosa_subset.mel  # type: ignore[attr-defined]
    librosa.filters = filters  # type: ignore[attr-defined]
    librosa.resample = librosa_subset.resample  # type: ignore[attr-defined]
    return {"librosa": librosa, "librosa.filters": filters}


def _install_placeholder(dotted: str, reason: str) -> None:
    parts = dotted.split(".")
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        module = sys.modules.get(name)
        if not isinstance(module, _MissingModule):
            module = _MissingModule(name, reason)
            sys.modules[name] = module
        if i > 1:
            setattr(sys.modules[".".join(parts[: i - 1])], parts[i - 1], module)


def import_qwen_tts() -> types.ModuleType:
    """Import ``qwen_tts``, with placeholders for its optional modules that fail to import here
    and the librosa subset in place of librosa.

    These modules live in ``sys.modules`` only while ``qwen_tts`` is imported, so that other
    libraries probing for torchaudio or librosa (transformers does) see what is really installed.
    Raises ``ModuleNotFoundError`` if qwen-tts itself is not installed.
    """
    if "qwen_tts" in sys.modules:
        return sys.modules["qwen_tts"]
    import transformers  # noqa: F401 - probes for torchaudio at import; must not see a placeholder

    placeholders: list[str] = []
    for dotted in _OPTIONAL_MODULES:
        try:
            importlib.import_module(dotted)
        except Exception as err:  # noqa: BLE001 - a broken native library raises OSError/RuntimeError
            root = dotted.split(".")[0]
            for name in [n for n in sys.modules if n == root or n.startswith(root + ".")]:
                del sys.modules[name]
            _LOGGER.debug("Using a placeholder for %s: %s", dotted, err)
            _install_placeholder(dotted, f"{type(err).__name__}: {err}; {_NOT_USED}")
            placeholders.append(root)
    librosa = _librosa_modules()
    replaced = {
        name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] == "librosa"
    }
    sys.modules.update(librosa)
    try:
        # qwen_tts prints a banner that flash-attn is not installed on every import: the server
        # uses sdpa on purpose (flash-attn breaks CUDA-graph capture). Kept out of stdout too,
        # which may be the Wyoming stream (stdio://).
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            module = importlib.import_module("qwen_tts")
        if banner := " ".join(printed.getvalue().replace("*", "").split()):
            _LOGGER.debug("qwen_tts printed on import: %s", banner)
        return module
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] in placeholders]:
            if isinstance(sys.modules[name], _MissingModule):
                del sys.modules[name]
        for name in librosa:
            sys.modules.pop(name, None)
        sys.modules.update(replaced)
