"""Clone prompts and primed codec states kept on disk, so that a restart prepares no cloned
voice twice.

A clone prompt (``qwen_tts.VoiceClonePromptItem``: the reference's codec codes, the speaker
embedding, two mode flags and the transcript) costs a pass of the codec encoder and the speaker
encoder over the reference. It depends only on the reference file's bytes, the transcript and
the model (its weights, device type, dtype and the qwen-tts code), so those are the key:
``<folder>/<sha256 of the key>.pt``.

A voice's primed codec state (``codec.CodecStream.state_dict``: what decoding the reference's
codes leaves in the codec decoder, its left context for the voice's speech) costs a decode of the
whole reference, about 25 s for a 30 s clip on a CPU. It is kept under ``codec-states/``, keyed
like the prompt with the codec's own identity added to the model's.

A file holds a plain dict of tensors and primitives, written with ``torch.save`` and read with
``torch.load(weights_only=True)``, so a planted file cannot run code. A file that cannot be read
or does not hold a valid prompt or state is logged, ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from pathlib import Path
from typing import Any

import torch

from wyoming_qwen_tts.engine.saving import save_atomically

_LOGGER = logging.getLogger(__name__)

FORMAT = 1


class PromptCache:
    """Clone prompts in one folder, and their codec states in a folder inside it (created on
    first write)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @staticmethod
    def key(audio_digest: str, transcript: str | None, model_identity: str) -> str:
        """The cache key of one reference clip (by the sha256 of its bytes) for one model."""
        fields = {
            "format": FORMAT,
            "audio_sha256": audio_digest,
            "transcript": transcript,
            "model": model_identity,
        }
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.pt"

    def codec_state_path(self, key: str) -> Path:
        return self.folder / "codec-states" / f"{key}.pt"

    def load(self, key: str, item_class: type, device: torch.device) -> Any | None:
        """The prompt stored under ``key`` as an ``item_class`` on ``device``, or None when there
        is none or it is unusable (logged)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            fields = _validated(data)
        except Exception as err:  # noqa: BLE001 - any unreadable file means: compute it again
            _LOGGER.warning(
                "Ignoring the cached clone prompt %s (%s); computing it again",
                path,
                unusable_reason(err),
            )
            return None
        ref_code = fields["ref_code"]
        return item_class(
            ref_code=None if ref_code is None else ref_code.to(device),
            ref_spk_embedding=fields["ref_spk_embedding"].to(device),
            x_vector_only_mode=fields["x_vector_only_mode"],
            icl_mode=fields["icl_mode"],
            ref_text=fields["ref_text"],
        )

    def store(self, key: str, item: Any) -> None:
        """Writes ``item`` under ``key`` atomically; a failure is logged, not raised."""
        data = {
            "format": FORMAT,
            "ref_code": None if item.ref_code is None else item.ref_code.detach().cpu(),
            "ref_spk_embedding": item.ref_spk_embedding.detach().cpu(),
            "x_vector_only_mode": bool(item.x_vector_only_mode),
            "icl_mode": bool(item.icl_mode),
            "ref_text": item.ref_text,
        }
        _write(self.path(key), data, "clone prompt")

    def load_codec_state(self, key: str) -> dict[str, Any] | None:
        """The plain data stored under ``key`` by ``store_codec_state``, or None when there is
        none or it cannot be read (logged). The codec checks that it fits."""
        path = self.codec_state_path(key)
        if not path.is_file():
            return None
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(data, dict):
                raise ValueError("not a codec state")
        except Exception as err:  # noqa: BLE001 - any unreadable file means: decode it again
            _LOGGER.warning(
                "Ignoring the cached codec state %s (%s); decoding the reference again",
                path,
                unusable_reason(err),
            )
            return None
        return data

    def store_codec_state(self, key: str, data: dict[str, Any]) -> None:
        """Writes a codec state (``CodecStream.state_dict``) under ``key`` atomically; a failure
        is logged, not raised."""
        _write(self.codec_state_path(key), data, "codec state")


def _write(path: Path, data: dict[str, Any], what: str) -> None:
    try:
        save_atomically(data, path)
    except OSError as err:
        _LOGGER.warning(
            "Cannot keep the %s in %s (%s); it will be computed again at the next start (set "
            "--cache-dir to a writable folder)",
            what,
            path.parent,
            err,
        )


def unusable_reason(err: Exception) -> str:
    """One line on why a cache file was unusable."""
    if isinstance(err, pickle.UnpicklingError):
        return "it is not plain data: loading it would run code"
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def _validated(data: Any) -> dict[str, Any]:
    """The fields of a stored prompt; raises ValueError naming what is wrong."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("not a clone prompt of this version")
    ref_code = data.get("ref_code")
    if ref_code is not None and not (
        isinstance(ref_code, torch.Tensor)
        and ref_code.ndim == 2
        and not ref_code.is_floating_point()
    ):
        raise ValueError("its reference codes are not a 2-D integer tensor")
    embedding = data.get("ref_spk_embedding")
    if not isinstance(embedding, torch.Tensor) or embedding.ndim != 1:
        raise ValueError("its speaker embedding is not a 1-D tensor")
    if not embedding.is_floating_point():
        raise ValueError("its speaker embedding is not a float tensor")
    if not all(isinstance(data.get(flag), bool) for flag in ("x_vector_only_mode", "icl_mode")):
        raise ValueError("its mode flags are not booleans")
    ref_text = data.get("ref_text")
    if ref_text is not None and not isinstance(ref_text, str):
        raise ValueError("its transcript is not text")
    if data["icl_mode"] and (ref_code is None or not ref_text):
        raise ValueError("an ICL prompt needs reference codes and a transcript")
    return data
