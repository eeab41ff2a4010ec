"""A 16-bit PCM WAV written while the audio is still being generated.

The header goes out first with its two sizes marked unknown (0xFFFFFFFF, as ffmpeg and sox write
to a pipe: players then read to the end of the stream), then the samples as they come. On
``close`` the sizes are filled in where the output can seek (a file), so the result is an
ordinary WAV; a pipe keeps the streaming header.
"""

from __future__ import annotations

import contextlib
import io
import struct
from typing import BinaryIO

UNKNOWN_SIZE = 0xFFFFFFFF


class StreamingWavWriter:
    def __init__(
        self, output: BinaryIO, sample_rate: int, channels: int = 1, sample_width: int = 2
    ) -> None:
        self._output = output
        self._data_bytes = 0
        self._start = _position(output)
        block = channels * sample_width
        fmt = struct.pack(
            "<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block, block, 8 * sample_width
        )
        unknown = struct.pack("<I", UNKNOWN_SIZE)
        output.write(b"RIFF" + unknown + b"WAVEfmt " + fmt + b"data" + unknown)
        output.flush()

    @property
    def data_bytes(self) -> int:
        return self._data_bytes

    def write(self, pcm: bytes) -> None:
        """Appends samples and flushes them, so that a player reading the pipe gets them now."""
        self._output.write(pcm)
        self._output.flush()
        self._data_bytes += len(pcm)

    def close(self) -> None:
        """Fills in the sizes if the output can seek (and the data fits a WAV's 4 GiB)."""
        if self._start is None or self._data_bytes > UNKNOWN_SIZE - 36:
            return
        end = self._output.tell()
        self._output.seek(self._start + 4)
        self._output.write(struct.pack("<I", 36 + self._data_bytes))
        self._output.seek(self._start + 40)
        self._output.write(struct.pack("<I", self._data_bytes))
        self._output.seek(end)
        self._output.flush()


def _position(output: BinaryIO) -> int | None:
    """Where the header starts, if the output can seek back to it."""
    with contextlib.suppress(OSError, io.UnsupportedOperation, AttributeError):
        if output.seekable():
            return output.tell()
    return None
