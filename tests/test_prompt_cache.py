"""The prompt cache: a restart prepares no cloned voice twice; bad cache files are recomputed."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import torch

from wyoming_qwen_tts.app.compose import load_options
from wyoming_qwen_tts.engine.codec import CodecStream, StreamingCodecDecoder
from wyoming_qwen_tts.engine.engine import Engine
from wyoming_qwen_tts.engine.interface import CollectingSink, ModelKind, SynthesisRequest
from wyoming_qwen_tts.engine.model import QwenModel
from wyoming_qwen_tts.engine.prompt_cache import PromptCache
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.voices.voice import CloneReference, Voice, VoiceKind

from .wyoming_server import start_server, write_reference


@pytest.fixture(scope="module")
def base(base_checkpoint: Path) -> QwenModel:
    return QwenModel.load(str(base_checkpoint), load_options(Settings(device="cpu", max_batch=1)))


def clone(
    folder: Path, name: str, transcript: str = "A short sentence, said slowly.", seed: int = 0
) -> Voice:
    write_reference(folder / f"{name}.wav", 3.0, seed=seed)
    return Voice(
        name, VoiceKind.CLONE, name, reference=CloneReference(folder / f"{name}.wav", transcript)
    )


def speak(engine: Engine, voice: Voice) -> bytes:
    sink = CollectingSink()
    engine.synthesize(SynthesisRequest(text="Lights off, please.", voice=voice), sink)
    return sink.pcm


def test_a_second_engine_loads_every_prompt_from_the_cache(base: QwenModel, tmp_path: Path) -> None:
    cache = PromptCache(tmp_path / "cache")
    voices = [clone(tmp_path, "mia", seed=1), clone(tmp_path, "leo", seed=2)]
    first = Engine({ModelKind.BASE: base}, seed=3, prompt_cache=cache)
    for voice in voices:
        first.prepare_voice(voice)
    assert first.prompts_computed == 2
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 2

    second = Engine({ModelKind.BASE: base}, seed=3, prompt_cache=cache)
    for voice in voices:
        second.prepare_voice(voice)
    assert second.prompts_computed == 0
    for voice in voices:
        computed, loaded = first._clones[voice.name].prompt, second._clones[voice.name].prompt
        assert torch.equal(computed.ref_code, loaded.ref_code)
        assert torch.equal(computed.ref_spk_embedding, loaded.ref_spk_embedding)
        assert (loaded.icl_mode, loaded.x_vector_only_mode, loaded.ref_text) == (
            True, False, "A short sentence, said slowly."
        )  # fmt: skip
        assert speak(first, voice) == speak(second, voice)


def test_a_second_engine_primes_cloned_voices_without_decoding_their_references(
    base: QwenModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = PromptCache(tmp_path / "cache")
    voices = [clone(tmp_path, "mia", seed=1), clone(tmp_path, "leo", seed=2)]
    first = Engine({ModelKind.BASE: base}, seed=3, prompt_cache=cache)
    for voice in voices:
        first.prepare_voice(voice)
    assert first.codec_states_computed == 2
    assert len(list((tmp_path / "cache" / "codec-states").glob("*.pt"))) == 2
    expected = {voice.name: speak(first, voice) for voice in voices}

    def no_reference_decode(self: CodecStream, codes: torch.Tensor, chunk: int = 16) -> None:
        raise AssertionError("the reference was decoded again")

    decoded_frames = []
    decode_into = StreamingCodecDecoder.decode_into

    def counting(self: StreamingCodecDecoder, state: object, codes: torch.Tensor) -> torch.Tensor:
        decoded_frames.append(codes.shape[0])
        return decode_into(self, state, codes)

    monkeypatch.setattr(CodecStream, "prime", no_reference_decode)
    monkeypatch.setattr(StreamingCodecDecoder, "decode_into", counting)
    second = Engine({ModelKind.BASE: base}, seed=3, prompt_cache=cache)
    for voice in voices:
        second.prepare_voice(voice)
    assert (second.prompts_computed, second.codec_states_computed) == (0, 0)
    assert decoded_frames == [1, 1]  # one frame each, on a copy: the state fits the decoder
    for voice in voices:
        assert speak(second, voice) == expected[voice.name]


@pytest.mark.parametrize(
    "content",
    [b"garbage", "torch:{'format': 99}", "torch:{'format': 1, 'carried': {'nope': torch.zeros(2)},"
     " 'keys': [], 'values': [], 'lengths': []}", "truncated"],
    ids=["garbage", "other-format", "unknown-module", "wrong-shapes"],
)  # fmt: skip
def test_a_bad_codec_state_is_ignored_with_a_warning_and_rewritten(
    base: QwenModel, tmp_path: Path, content: bytes | str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = PromptCache(tmp_path / "cache")
    voice = clone(tmp_path, "mia")
    reference = Engine({ModelKind.BASE: base}, seed=1, prompt_cache=cache)
    reference.prepare_voice(voice)
    [path] = list((tmp_path / "cache" / "codec-states").glob("*.pt"))
    if content == "truncated":
        data = torch.load(path, weights_only=True)
        data["keys"] = [k[..., :1] for k in data["keys"]]
        torch.save(data, path)
    elif isinstance(content, str):
        torch.save(eval(content.removeprefix("torch:")), path)  # noqa: S307 - test data
    else:
        path.write_bytes(content)
    engine = Engine({ModelKind.BASE: base}, seed=1, prompt_cache=cache)
    with caplog.at_level(logging.WARNING):
        engine.prepare_voice(voice)
    assert engine.codec_states_computed == 1
    assert f"Ignoring the cached codec state {path} (" in caplog.text
    assert speak(engine, voice) == speak(reference, voice)
    third = Engine({ModelKind.BASE: base}, prompt_cache=cache)
    third.prepare_voice(voice)
    assert third.codec_states_computed == 0


def test_the_key_is_the_audio_bytes_the_transcript_and_the_model(
    base: QwenModel, tmp_path: Path
) -> None:
    cache = PromptCache(tmp_path / "cache")
    voice = clone(tmp_path, "mia")
    Engine({ModelKind.BASE: base}, prompt_cache=cache).prepare_voice(voice)
    again = Engine({ModelKind.BASE: base}, prompt_cache=cache)

    other_text = Voice("mia", VoiceKind.CLONE, "mia", reference=CloneReference(
        voice.reference.audio_path, "Another transcript."))  # fmt: skip
    again.prepare_voice(other_text)
    assert again.prompts_computed == 1

    write_reference(voice.reference.audio_path, 3.0, seed=7)  # same name, new recording
    again.prepare_voice(voice)
    assert again.prompts_computed == 2

    key = PromptCache.key("a" * 64, "text", base.identity)
    assert key != PromptCache.key("a" * 64, "text", base.identity + " other")
    assert "qwen-tts=0.1.1" in base.identity and "dtype=torch.float32" in base.identity


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a torch file at all",
        "torch:{'format': 2}",
        "torch:{'format': 1, 'ref_code': None, 'ref_spk_embedding': 'x', 'x_vector_only_mode': "
        "False, 'icl_mode': True, 'ref_text': 'hi'}",
        "torch:{'format': 1, 'ref_code': torch.zeros(3, 16, dtype=torch.long), "
        "'ref_spk_embedding': torch.zeros(8), 'x_vector_only_mode': False, 'icl_mode': True, "
        "'ref_text': ''}",
        "torch:[1, 2, 3]",
        "pickle",
    ],
    ids=["empty", "garbage", "other-format", "no-embedding", "icl-without-text", "list", "code"],
)
def test_a_bad_cache_file_is_ignored_with_a_warning_and_rewritten(
    base: QwenModel, tmp_path: Path, content: bytes | str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = PromptCache(tmp_path / "cache")
    voice = clone(tmp_path, "mia")
    reference = Engine({ModelKind.BASE: base}, seed=1, prompt_cache=cache)
    reference.prepare_voice(voice)
    [path] = list((tmp_path / "cache").glob("*.pt"))
    if content == "pickle":
        import pickle

        class Planted:
            def __reduce__(self) -> tuple:
                return (print, ("code ran",))

        path.write_bytes(pickle.dumps(Planted(), protocol=2))
    elif isinstance(content, str):
        torch.save(eval(content.removeprefix("torch:")), path)  # noqa: S307 - test data
    else:
        path.write_bytes(content)

    engine = Engine({ModelKind.BASE: base}, seed=1, prompt_cache=cache)
    with caplog.at_level(logging.WARNING):
        engine.prepare_voice(voice)
    assert engine.prompts_computed == 1
    assert re.search(rf"Ignoring the cached clone prompt {re.escape(str(path))} \(.+\); "
                     "computing it again", caplog.text)  # fmt: skip
    assert speak(engine, voice) == speak(reference, voice)
    # rewritten: the next engine finds a good one
    third = Engine({ModelKind.BASE: base}, prompt_cache=cache)
    third.prepare_voice(voice)
    assert third.prompts_computed == 0


def test_ten_cloned_voices_are_computed_once_across_server_restarts(
    tmp_path: Path, base_checkpoint: Path
) -> None:
    voices = tmp_path / "voices"
    voices.mkdir()
    for i in range(10):
        write_reference(voices / f"voice{i}.wav", 2.0, seed=i)
        (voices / f"voice{i}.txt").write_text(f"This is voice number {i}.")
    args = [
        "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--device", "cpu",
        "--custom-voice-model", "none", "--base-model", str(base_checkpoint),
        "--voices-dir", str(voices), "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    counts = []
    for start in range(2):
        server = start_server(args, tmp_path / f"server{start}.log")
        server.stop()
        log = server.log()
        counts.append(
            (log.count("Computed the clone prompt of"), log.count("from the prompt cache"))
        )
        assert "Voices: voice0, voice1" in log
    assert counts == [(10, 0), (0, 10)]
    assert len(list((tmp_path / "cache" / "prompts").glob("*.pt"))) == 10


def test_the_image_keeps_the_prompt_cache_in_data_out_of_backups() -> None:
    from pathlib import PurePosixPath

    import yaml

    from .test_addon import REPO_ROOT, dockerfile_env

    cache = PurePosixPath(dockerfile_env()["XDG_CACHE_HOME"], "wyoming-qwen-tts", "prompts")
    assert cache.parts[:2] == ("/", "data")
    config = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    stored = PurePosixPath("/data/addons/data/local_qwen_tts", cache.parts[2])
    assert any(stored.match(pattern) for pattern in config["backup_exclude"])
