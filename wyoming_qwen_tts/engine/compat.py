"""Let ``import qwen_tts`` work where its unused optional dependencies do not.

``qwen_tts`` imports its 25 Hz tokenizer at package import time, and that tokenizer imports
``sox``, ``onnxruntime`` and ``torchaudio.compliance.kaldi``. None of them is used by the
12 Hz checkpoints this server loads. PyPI's torchaudio is built against one exact torch release
and fails to load beside any other (a CPU-only torch in particular), so a CPU install must not
depend on it. Where such a module cannot be imported, a placeholder stands in for it that raises
a clear error if anything ever touches it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import logging
import sys
import types

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
        raise ImportError(
            f"'{self.__name__}.{attr}' is unavailable ({self._reason}); it is only needed by the "
            "25 Hz Qwen3-TTS tokenizer, which this server does not use"
        )


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
    """Import ``qwen_tts``, with placeholders for its optional modules that fail to import here.

    The placeholders live in ``sys.modules`` only while ``qwen_tts`` is imported, so that other
    libraries probing for torchaudio (transformers does) still see it as absent. Raises
    ``ModuleNotFoundError`` if qwen-tts itself is not installed.
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
            _install_placeholder(dotted, f"{type(err).__name__}: {err}")
            placeholders.append(root)
    try:
        # qwen_tts prints a flash-attn notice on import; stdout may be the Wyoming stream (stdio://)
        with contextlib.redirect_stdout(sys.stderr):
            return importlib.import_module("qwen_tts")
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] in placeholders]:
            if isinstance(sys.modules[name], _MissingModule):
                del sys.modules[name]
