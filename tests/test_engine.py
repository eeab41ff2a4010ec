"""The engine in-process: incremental codec decoding and frame streaming against upstream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from wyoming_qwen_tts.app.compose import load_options
from wyoming_qwen_tts.audio.pcm import pcm16_to_float
from wyoming_qwen_tts.engine.codec import chunk_schedule, chunk_schedule_for
from wyoming_qwen_tts.engine.engine import Engine
from wyoming_qwen_tts.engine.interface import CollectingSink, SynthesisCancelled, SynthesisRequest
from wyoming_qwen_tts.engine.model import GenerationInput, QwenModel
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.text.sentences import frame_budget
from wyoming_qwen_tts.voices.voice import CloneReference, Voice, VoiceKind, premium_voice

from .wyoming_server import write_reference

SAMPLES_PER_FRAME = 1920


class Collector(CollectingSink):
    def __init__(self, cancel_after: int | None = None) -> None:
        super().__init__()
        self._cancel_after = cancel_after

    @property
    def cancelled(self) -> bool:
        return self._cancel_after is not None and len(self.chunks) >= self._cancel_after

    @property
    def audio(self) -> np.ndarray:
        return pcm16_to_float(self.pcm)


@pytest.fixture(scope="module")
def custom_voice(custom_voice_checkpoint: Path) -> QwenModel:
    return QwenModel.load(str(custom_voice_checkpoint), load_options(Settings(device="cpu", max_batch=1)))


@pytest.fixture(scope="module")
def base(base_checkpoint: Path) -> QwenModel:
    return QwenModel.load(str(base_checkpoint), load_options(Settings(device="cpu", max_batch=1)))


def full_decode(model: QwenModel, codes: torch.Tensor) -> np.ndarray:
    """Upstream's own decode of a whole utterance, [frames, 16] codes."""
    wavs, _ = model.wrapper.model.speech_tokenizer.decode([{"audio_codes": codes}])
    return wavs[0]


@pytest.mark.parametrize("sizes", [[1], [2, 4, 8, 16], [7, 3], [40]], ids=str)
def test_streamed_decode_equals_full_decode(custom_voice: QwenModel, sizes: list[int]) -> None:
    generator = torch.Generator().manual_seed(sum(sizes))
    codes = torch.randint(0, 2048, (90, 16), generator=generator)
    stream = custom_voice.codec.new_stream()
    pieces, start, i = [], 0, 0
    while start < len(codes):
        size = sizes[min(i, len(sizes) - 1)]
        pieces.append(stream.decode(codes[start : start + size]))
        start, i = start + size, i + 1
    streamed = torch.cat(pieces).numpy()
    full = full_decode(custom_voice, codes)
    assert streamed.shape == full.shape == (90 * SAMPLES_PER_FRAME,)
    assert np.abs(full).max() > 1e-3, "the codec must produce audible noise for this to mean anything"
    assert np.abs(streamed - full).max() <= 1e-4


def test_the_codec_decodes_in_bfloat16_only_with_quantized_weights_on_a_cpu() -> None:
    from wyoming_qwen_tts.engine.codec import compute_dtype_for

    assert compute_dtype_for("cpu", quantized=False) == torch.float32
    assert compute_dtype_for("cuda:0", quantized=True) == torch.float32
    assert compute_dtype_for("cpu", quantized=True) in (torch.float32, torch.bfloat16)


@pytest.mark.skipif(
    not (torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()),
    reason="this CPU has no bfloat16 units",
)
def test_a_bfloat16_codec_streams_close_to_the_full_decode(custom_voice: QwenModel) -> None:
    from wyoming_qwen_tts.engine.codec import StreamingCodecDecoder

    decoder = custom_voice.wrapper.model.speech_tokenizer.model.decoder
    codec = StreamingCodecDecoder(decoder, torch.bfloat16)
    codes = torch.randint(0, 2048, (40, 16), generator=torch.Generator().manual_seed(8))
    stream = codec.new_stream()
    streamed = torch.cat([stream.decode(codes[i : i + 8]) for i in range(0, 40, 8)]).numpy()
    full = full_decode(custom_voice, codes)
    snr = 10 * np.log10(np.sum(full**2) / np.sum((streamed - full) ** 2))
    assert np.isfinite(streamed).all() and snr >= 25.0


def test_fork_continues_like_the_original(custom_voice: QwenModel) -> None:
    codes = torch.randint(0, 2048, (30, 16), generator=torch.Generator().manual_seed(5))
    primed = custom_voice.codec.new_stream()
    primed.prime(codes[:20])
    first = primed.fork().decode(codes[20:])
    second = primed.fork().decode(codes[20:])
    whole = full_decode(custom_voice, codes)[20 * SAMPLES_PER_FRAME :]
    assert torch.equal(first, second)
    assert np.abs(first.numpy() - whole).max() <= 1e-4


def test_chunk_schedule_starts_small_and_grows() -> None:
    schedule = chunk_schedule()
    assert [next(schedule) for _ in range(7)] == [2, 4, 8, 16, 32, 32, 32]
    on_cpu = chunk_schedule_for(torch.device("cpu"))
    assert [next(on_cpu) for _ in range(6)] == [2, 4, 8, 16, 16, 16]


def generate_alone(model: QwenModel, text: str, given: GenerationInput, max_frames: int) -> list:
    """Every frame of one utterance, generated alone in the model's frame loop."""
    utterance = model.frames.add(model.prompt(text, given, max_frames))
    frames = []
    while not utterance.finished:
        frames.extend(codes for _, codes in model.frames.step())
    return frames


def test_frames_equal_upstream_codes(custom_voice: QwenModel) -> None:
    text = "Open the garage door, please."
    torch.manual_seed(11)
    frames = generate_alone(custom_voice, text, GenerationInput(language="english", speaker="vivian"), 30)
    torch.manual_seed(11)
    wavs, _ = custom_voice.wrapper.generate_custom_voice(
        text, speaker="vivian", language="english", max_new_tokens=30
    )
    assert 1 <= len(frames) <= 30
    assert len(wavs[0]) == len(frames) * SAMPLES_PER_FRAME
    assert np.abs(full_decode(custom_voice, torch.stack(frames)) - wavs[0]).max() <= 1e-4


def test_engine_streams_first_audio_after_two_frames(custom_voice: QwenModel) -> None:
    engine = Engine({custom_voice.kind: custom_voice}, seed=4)
    sink = Collector()
    text = "A sentence that is long enough for several chunks of audio to stream out."
    engine.synthesize(SynthesisRequest(text=text, voice=premium_voice("ryan")), sink)
    frames = [len(chunk) // (2 * SAMPLES_PER_FRAME) for chunk in sink.chunks]
    assert frames[0] == min(2, sum(frames))
    schedule = chunk_schedule_for(torch.device("cpu"))
    assert frames[: len(frames) - 1] == [next(schedule) for _ in range(len(frames) - 1)]
    torch.manual_seed(4)
    wavs, _ = custom_voice.wrapper.generate_custom_voice(
        text, speaker="ryan", max_new_tokens=frame_budget(text)
    )
    assert np.abs(sink.audio - wavs[0]).max() <= 1e-4


def test_engine_stops_when_cancelled(custom_voice: QwenModel) -> None:
    engine = Engine({custom_voice.kind: custom_voice}, seed=4)
    sink = Collector(cancel_after=1)
    text = "A sentence that is long enough for several chunks of audio to stream out."
    with pytest.raises(SynthesisCancelled):
        engine.synthesize(SynthesisRequest(text=text, voice=premium_voice("ryan")), sink)
    assert len(sink.chunks) == 1


@pytest.mark.parametrize("mode", ["icl", "x_vector"])
def test_clone_equals_upstream(base: QwenModel, tmp_path: Path, mode: str) -> None:
    reference = tmp_path / "ref.wav"
    write_reference(reference, 2.5, seed=3)
    transcript = "A short reference sentence." if mode == "icl" else None
    import soundfile

    audio, rate = soundfile.read(str(reference), dtype="float32")
    prompt = base.clone_prompt(audio, rate, transcript)
    assert prompt.icl_mode is (mode == "icl")
    text = "The washing machine has finished."
    torch.manual_seed(2)
    frames = generate_alone(base, text, GenerationInput(clone_prompt=prompt), 25)
    torch.manual_seed(2)
    wavs, _ = base.wrapper.generate_voice_clone(
        text,
        ref_audio=(audio, rate),
        ref_text=transcript,
        x_vector_only_mode=mode == "x_vector",
        max_new_tokens=25,
    )
    stream = base.codec.new_stream()
    if prompt.ref_code is not None:
        stream.prime(prompt.ref_code)
    ours = stream.decode(torch.stack(frames)).numpy()
    assert ours.shape == wavs[0].shape
    assert np.abs(ours - wavs[0]).max() <= 1e-4


def test_engine_clone_voice_reuses_its_primed_codec(base: QwenModel, tmp_path: Path) -> None:
    reference = tmp_path / "mia.wav"
    write_reference(reference, 2.0, seed=9)
    voice = Voice(
        name="mia",
        kind=VoiceKind.CLONE,
        description="test",
        reference=CloneReference(reference, "Mia speaking here."),
    )
    engine = Engine({base.kind: base}, seed=1)
    engine.prepare_voice(voice)
    first, second = Collector(), Collector()
    engine.synthesize(SynthesisRequest(text="Lights off.", voice=voice), first)
    engine.synthesize(SynthesisRequest(text="Lights off.", voice=voice), second)
    assert first.chunks == second.chunks and first.chunks


@pytest.fixture(scope="module")
def voice_design(voice_design_checkpoint: Path) -> QwenModel:
    return QwenModel.load(str(voice_design_checkpoint), load_options(Settings(device="cpu", max_batch=1)))


def upstream_codes(model: QwenModel, text: str, given: GenerationInput, frames: int) -> torch.Tensor:
    """The codes of upstream's own ``Qwen3TTSForConditionalGeneration.generate``."""
    with torch.inference_mode():
        codes, _ = model.wrapper.model.generate(**model._generate_kwargs(text, given, frames))
    return codes[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["custom_voice", "voice_design", "base_icl", "base_x_vector"])
def test_codes_equal_upstream_for_every_kind(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, seed: int
) -> None:
    text = "Please close the window in the living room."
    if kind == "custom_voice":
        model = request.getfixturevalue("custom_voice")
        given = GenerationInput(language="english", speaker="dylan")
    elif kind == "voice_design":
        model = request.getfixturevalue("voice_design")
        given = GenerationInput(language="english", instruct="A warm, slow, elderly voice.")
    else:
        import soundfile

        model = request.getfixturevalue("base")
        write_reference(tmp_path / "ref.wav", 2.0, seed=seed)
        audio, rate = soundfile.read(str(tmp_path / "ref.wav"), dtype="float32")
        transcript = "A reference sentence." if kind == "base_icl" else None
        given = GenerationInput(clone_prompt=model.clone_prompt(audio, rate, transcript))
    torch.manual_seed(seed)
    theirs = upstream_codes(model, text, given, 24)
    torch.manual_seed(seed)
    ours = torch.stack(generate_alone(model, text, given, 24))
    assert ours.shape == theirs.shape
    assert torch.equal(ours, theirs)
