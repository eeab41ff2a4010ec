"""What a loaded checkpoint need not keep in memory: a float32 copy of its text-embedding table,
the codec's encoder where nothing encodes audio, and a codec that another checkpoint already
holds.

- The talker's text embedding (151936 x 2048 for every published size, 1.25 GB in float32) is
  only looked up, most of its rows never. It is memory-mapped from the checkpoint's file, whose
  bfloat16 rows upcast after the lookup are the float32 rows bit for bit; where that file is not
  found, a bfloat16 copy gives the same rows at half the memory.
- The published CustomVoice, Base and VoiceDesign checkpoints ship the same 12 Hz codec; two
  checkpoints whose codec files are identical share one.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import logging
import mmap
import os
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from wyoming_qwen_tts.engine.quantize import _trim_freed_memory

_LOGGER = logging.getLogger(__name__)

_BLOB_NAME = re.compile(r"[0-9a-f]{64}")


class UpcastEmbedding(nn.Embedding):
    """An embedding whose table is kept elsewhere or narrower (``table``: mapped from the
    checkpoint's file, or bfloat16); its rows are upcast to the original dtype after each lookup,
    so callers, upstream's code too, see the rows of a float32 table."""

    def __init__(self, source: nn.Embedding, table: torch.Tensor) -> None:
        nn.Module.__init__(self)
        self.num_embeddings = source.num_embeddings
        self.embedding_dim = source.embedding_dim
        self.padding_idx = source.padding_idx
        self.max_norm = None
        self.norm_type = source.norm_type
        self.scale_grad_by_freq = False
        self.sparse = False
        self.lookup_dtype = source.weight.dtype
        self.weight = nn.Parameter(table, requires_grad=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight, self.padding_idx).to(self.lookup_dtype)


TEXT_EMBEDDING = "talker.model.text_embedding.weight"
"""The text embedding's name in a checkpoint's weight files."""


def slim_text_embedding(
    talker: nn.Module, weights_file: Path | None, rounding_allowed: bool
) -> None:
    """Takes ``talker``'s text embedding out of the process's own memory where that changes no
    looked-up row: memory-mapped from ``weights_file`` (the file holding ``TEXT_EMBEDDING``) when
    its stored values upcast to the loaded ones; else in bfloat16 when its values are bfloat16
    values, or when ``rounding_allowed`` (quantized weights, whose codes are not upstream's)."""
    model = talker.model
    table: nn.Embedding = model.text_embedding
    weight = table.weight
    if weight.device.type != "cpu" or weight.dtype != torch.float32:
        return
    megabytes = weight.numel() * weight.element_size() / 1e6
    mapped = map_tensor(weights_file, TEXT_EMBEDDING) if weights_file is not None else None
    if mapped is not None and _upcasts_to(mapped, weight):
        _LOGGER.info(
            "The text embedding (%.0f MB in float32) is read from %s as its rows are used "
            "(memory-mapped, %s)",
            megabytes,
            weights_file,
            str(mapped.dtype).removeprefix("torch."),
        )
        narrow = mapped
    elif torch.equal(weight.to(torch.bfloat16).float(), weight):
        _LOGGER.info(
            "The text embedding (%.0f MB in float32) is kept in bfloat16: its values are "
            "bfloat16 values, so every looked-up row is unchanged",
            megabytes,
        )
        narrow = weight.detach().to(torch.bfloat16)
    elif rounding_allowed:
        _LOGGER.info(
            "The text embedding (%.0f MB in float32) is kept in bfloat16, rounded: its values "
            "are not all bfloat16 values, and quantized weights change the codes anyway",
            megabytes,
        )
        narrow = weight.detach().to(torch.bfloat16)
    else:
        _LOGGER.info(
            "The text embedding stays in float32 (%.0f MB): its values are not bfloat16 values",
            megabytes,
        )
        return
    model.text_embedding = UpcastEmbedding(table, narrow)
    del table, weight
    release_freed_memory()


_SAFETENSORS_DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}


def map_tensor(path: Path, name: str) -> torch.Tensor | None:
    """The tensor ``name`` of a safetensors file, memory-mapped: its pages are read from the file
    as they are used, and the system may drop them again. None where the file lacks it.

    The file must not be rewritten in place while the tensor is in use (a Hub cache's files never
    are; a new checkpoint saved over a local folder's would change or lose its rows).
    """
    try:
        with open(path, "rb") as file:
            length = int.from_bytes(file.read(8), "little")
            entry = json.loads(file.read(length)).get(name)
            if not isinstance(entry, dict) or entry.get("dtype") not in _SAFETENSORS_DTYPES:
                return None
            mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_COPY)
    except (OSError, ValueError) as err:
        _LOGGER.debug("Cannot map %s from %s: %s", name, path, err)
        return None
    dtype = _SAFETENSORS_DTYPES[entry["dtype"]]
    begin, end = entry["data_offsets"]
    count = (end - begin) // dtype.itemsize
    tensor = torch.frombuffer(mapping, dtype=dtype, count=count, offset=8 + length + begin)
    return tensor.view(entry["shape"])


def _upcasts_to(stored: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether ``stored`` upcast is ``weight``, compared a block of rows at a time (the mapped
    pages it reads are then dropped, so the comparison leaves nothing resident)."""
    if stored.shape != weight.shape:
        return False
    rows = max(1, (64 << 20) // max(1, weight[0].numel() * weight.element_size()))
    try:
        return all(
            torch.equal(stored[i : i + rows].to(weight.dtype), weight[i : i + rows])
            for i in range(0, weight.shape[0], rows)
        )
    finally:
        _drop_mapped_pages(stored)


def _drop_mapped_pages(tensor: torch.Tensor) -> None:
    """Lets the system drop a mapped tensor's resident pages (they are read again when used)."""
    if not hasattr(mmap, "MADV_DONTNEED"):
        return
    libc = ctypes.CDLL(None)
    page = mmap.PAGESIZE
    start = tensor.data_ptr() // page * page
    end = tensor.data_ptr() + tensor.numel() * tensor.element_size()
    libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), mmap.MADV_DONTNEED)


def drop_codec_encoder(speech_tokenizer: object) -> None:
    """Frees the codec's encoder, which only a Base checkpoint uses (to encode a reference)."""
    codec = speech_tokenizer.model  # type: ignore[attr-defined]
    if codec.encoder is None:
        return
    codec.encoder = None
    release_freed_memory()


def release_freed_memory() -> None:
    """Frees what is no longer referenced and returns the heap pages to the system."""
    gc.collect()
    _trim_freed_memory()


def codec_files_digest(folder: Path) -> str:
    """What identifies a codec folder's contents: its config and weight files' digests (a Hub
    cache's blob names are their SHA-256, so those are not read). "" if it has no weights."""
    files = sorted([folder / "config.json", *folder.glob("*.safetensors")])
    if len(files) < 2 or not all(path.is_file() for path in files):
        return ""
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name} {_file_digest(path)}\n".encode())
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    blob = os.path.basename(os.path.realpath(path))
    if _BLOB_NAME.fullmatch(blob):
        return blob
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
