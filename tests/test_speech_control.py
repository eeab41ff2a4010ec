"""Speech control end to end, on the real server over Wyoming: SSML, speed, sentence silence,
loudness, the pronunciation lexicon and the sentence cache.

Two servers run on the same tiny checkpoints and seed: ``exact`` (no cache, loudness off) and
``cached`` (the defaults: a sentence cache, cloned voices brought to the loudness target).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from wyoming_qwen_tts.audio.loudness import gain_to_target, measure_lufs
from wyoming_qwen_tts.audio.pcm import pcm16_to_float
from wyoming_qwen_tts.settings.delivery_options import DEFAULT_TARGET_LUFS
from wyoming_qwen_tts.text.ssml import MAX_BREAK_SECONDS

from .wyoming_server import RunningServer, audio_of, read_until, start_server, write_reference

SEED = 5
RATE = 24000
BYTES_PER_SECOND = RATE * 2
LEXICON = """\
- word: HA
  say: Home Assistant
- word: Nguyen
  say: Win
  case_sensitive: false
"""


def make_voices(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_reference(folder / "anna.wav", 3.0, amplitude=0.3)
    (folder / "anna.txt").write_text("This is how Anna sounds when she talks.\n")
    (folder / "anna.yaml").write_text("language: en\n")
    # The same recording 12 dB quieter.
    write_reference(folder / "soft.wav", 3.0, amplitude=0.3 / 10 ** (12 / 20))
    (folder / "soft.txt").write_text("This is how Anna sounds when she talks.\n")
    (folder / "soft.yaml").write_text("language: en\n")
    shutil.copy(folder / "anna.wav", folder / "brisk.wav")
    (folder / "brisk.txt").write_text("This is how Anna sounds when she talks.\n")
    (folder / "brisk.yaml").write_text("language: en\nspeed: 1.25\nsentence_silence: 0.25\n")
    (folder / "lexicon.yaml").write_text(LEXICON)
    return folder


def _serve(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    checkpoints: tuple[Path, Path],
    extra: list[str],
) -> Iterator[RunningServer]:
    """A server with the voices of ``make_voices`` in its own folder, and its own cache dir
    (``running.voices``, ``running.cache``)."""
    tmp = tmp_path_factory.mktemp(name)
    custom, base = checkpoints
    running = start_server(
        [
            "--uri", "tcp://127.0.0.1:0",
            "--custom-voice-model", str(custom),
            "--base-model", str(base),
            "--voices-dir", str(make_voices(tmp / "voices")),
            "--voices-poll-interval", "0.3",
            "--cache-dir", str(tmp / "cache"),
            "--no-zeroconf", "--device", "cpu", "--seed", str(SEED), "--debug",
            *extra,
        ],
        tmp / "server.log",
    )  # fmt: skip
    running.voices = tmp / "voices"  # type: ignore[attr-defined]
    running.cache = tmp / "cache"  # type: ignore[attr-defined]
    yield running
    assert "Traceback" not in running.log(), running.log()[-3000:]
    running.stop()


@pytest.fixture(scope="module")
def exact(
    tmp_path_factory: pytest.TempPathFactory, custom_voice_checkpoint: Path, base_checkpoint: Path
) -> Iterator[RunningServer]:
    """No sentence cache, loudness off: the model's own audio."""
    extra = ["--audio-cache-mb", "0", "--loudness-target", "off"]
    extra += ["--http-host", "127.0.0.1", "--http-port", "0"]
    yield from _serve(tmp_path_factory, "exact", (custom_voice_checkpoint, base_checkpoint), extra)


@pytest.fixture(scope="module")
def cached(
    tmp_path_factory: pytest.TempPathFactory, custom_voice_checkpoint: Path, base_checkpoint: Path
) -> Iterator[RunningServer]:
    """The defaults: a sentence cache, cloned voices brought to the default target."""
    extra = ["--http-host", "127.0.0.1", "--http-port", "0"]
    yield from _serve(tmp_path_factory, "cached", (custom_voice_checkpoint, base_checkpoint), extra)


async def speak(
    server: RunningServer, text: str, voice: str = "vivian", *, ssml: bool = False
) -> list:
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(
            Synthesize(
                text=text, voice=SynthesizeVoice(name=voice), text_format="ssml" if ssml else None
            ).event()
        )
        return await read_until(client, ("audio-stop", "error"), timeout=120)


async def audio(server: RunningServer, text: str, voice: str = "vivian", **kw: bool) -> bytes:
    events = await speak(server, text, voice, **kw)
    assert events[-1].type == "audio-stop", events[-1].data
    return audio_of(events)


async def stream(
    server: RunningServer, chunks: list[str], voice: str = "vivian", *, ssml: bool = True
) -> list:
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(
            SynthesizeStart(
                voice=SynthesizeVoice(name=voice), text_format="ssml" if ssml else None
            ).event()
        )
        for chunk in chunks:
            await client.write_event(SynthesizeChunk(text=chunk).event())
        await client.write_event(SynthesizeStop().event())
        return await read_until(client, ("synthesize-stopped",), timeout=120)


def silence(seconds: float) -> bytes:
    return bytes(round(seconds * RATE) * 2)


# --- SSML -----------------------------------------------------------------------------------


async def test_an_ssml_break_is_exact_silence_between_sentences_spoken_alone(
    exact: RunningServer,
) -> None:
    hello = await audio(exact, "Hello")
    world = await audio(exact, "world")
    expected = hello + silence(0.7) + world
    assert await audio(exact, 'Hello<break time="700ms"/>world', ssml=True) == expected
    chunks = ["<spe", 'ak>Hel', "lo<br", "eak ti", 'me="70', '0ms"/', ">wor", "ld</sp", "eak>"]
    events = await stream(exact, chunks)
    assert [e.type for e in events if e.type == "error"] == []
    assert audio_of(events) == expected


async def test_ssml_voice_sub_and_say_as_are_spoken_as_their_plain_text(exact: RunningServer) -> None:
    plain = await audio(exact, "Dinner is at seven.", "ryan")
    ssml = '<speak><voice name="ryan">Dinner is at <sub alias="seven">7pm</sub>.</voice></speak>'
    assert await audio(exact, ssml, "vivian", ssml=True) == plain
    spelled = await audio(exact, "H A is on.")
    assert await audio(exact, '<say-as interpret-as="characters">HA</say-as> is on.', ssml=True) == spelled


async def test_unknown_ssml_elements_are_ignored_and_their_text_spoken(exact: RunningServer) -> None:
    plain = await audio(exact, "The door is open.")
    assert await audio(exact, "<speak><foo>The door</foo> is open.</speak>", ssml=True) == plain


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
            '"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><speak>&lol2;</speak>',
            "SSML",
        ),
        ("<speak>" + "<s>" * 10_000 + "deep" + "</s>" * 10_000 + "</speak>", "SSML"),
        ("<speak><p>Unclosed", "SSML"),
        ("<speak>Open <b>mismatch</i></speak>", "SSML"),
    ],
    ids=["billion-laughs", "deep-nesting", "unclosed", "mismatched"],
)
async def test_hostile_ssml_gets_an_error_and_the_server_keeps_serving(
    exact: RunningServer, document: str, words: str
) -> None:
    events = await stream(exact, [document[i : i + 1000] for i in range(0, len(document), 1000)])
    errors = [e for e in events if e.type == "error"]
    assert len(errors) == 1 and words in errors[0].data["text"], errors
    assert "line" in errors[0].data["text"] and "column" in errors[0].data["text"]
    assert events[-1].type == "synthesize-stopped"
    events = await speak(exact, document, ssml=True)
    assert events[-1].type == "error"
    await still_serving(exact)


async def test_a_one_megabyte_attribute_is_refused_in_bounded_time(exact: RunningServer) -> None:
    document = '<speak><voice name="' + "a" * (1 << 20) + '">Hi</voice></speak>'
    events = await stream(exact, [document[i : i + 4096] for i in range(0, len(document), 4096)])
    errors = [e for e in events if e.type == "error"]
    assert len(errors) == 1 and "SSML" in errors[0].data["text"]
    assert events[-1].type == "synthesize-stopped"
    await still_serving(exact)


async def test_a_ten_hour_break_is_clamped(exact: RunningServer) -> None:
    pcm = await audio(exact, '<speak>A<break time="36000s"/>B</speak>', ssml=True)
    a = await audio(exact, "A")
    b = await audio(exact, "B")
    assert pcm == a + silence(MAX_BREAK_SECONDS) + b


async def still_serving(server: RunningServer) -> None:
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(Describe().event())
        assert (await read_until(client, ("info",), timeout=10))[-1].type == "info"


# --- The HTTP API ----------------------------------------------------------------------------


async def http_speech(server: RunningServer, **body: object) -> tuple[int, bytes]:
    import aiohttp

    body = {"model": "qwen3-tts", "voice": "vivian", "response_format": "pcm", **body}
    async with aiohttp.ClientSession() as session:
        address = f"http://127.0.0.1:{server.http_port}/v1/audio/speech"
        async with session.post(address, json=body) as response:
            return response.status, await response.read()


async def test_http_ssml_is_spoken_as_over_wyoming(exact: RunningServer) -> None:
    document = '<speak>Hello<break time="300ms"/>world</speak>'
    status, pcm = await http_speech(exact, input=document, text_format="ssml")
    assert status == 200
    assert pcm == await audio(exact, document, ssml=True)


async def test_http_malformed_ssml_is_a_400_naming_the_position(exact: RunningServer) -> None:
    status, body = await http_speech(exact, input="<speak>Hi <s>there</speak>", text_format="ssml")
    assert status == 400
    message = json.loads(body)["error"]["message"]
    assert "line 1, column" in message, message


async def test_http_speed_scales_the_duration(exact: RunningServer) -> None:
    text = "The kitchen lights are off."
    status, normal = await http_speech(exact, input=text)
    assert status == 200
    status, fast = await http_speech(exact, input=text, speed=1.6)
    assert status == 200
    assert abs(len(fast) / len(normal) - 1 / 1.6) < 0.05 / 1.6
    status, body = await http_speech(exact, input=text, speed=3.0)
    assert status == 400 and "0.5 to 2" in json.loads(body)["error"]["message"]


# --- Lexicon, speed, sentence silence --------------------------------------------------------


async def test_a_lexicon_entry_is_spoken_as_its_replacement(exact: RunningServer) -> None:
    assert await audio(exact, "HA is on.") == await audio(exact, "Home Assistant is on.")
    assert await audio(exact, "Ask nguyen.") == await audio(exact, "Ask Win.")


async def test_the_lexicon_is_reloaded_when_it_changes(cached: RunningServer) -> None:
    lexicon = cached.voices / "lexicon.yaml"  # type: ignore[attr-defined]
    before = await audio(cached, "The garage is shut.")
    lexicon.write_text(LEXICON + "- word: garage\n  say: car port\n")
    try:
        replaced = await audio(cached, "The car port is shut.")
        assert replaced != before
        assert await audio(cached, "The garage is shut.") == replaced
        lexicon.write_text(LEXICON + "- word: [broken\n")
        # The previous lexicon stays in force.
        assert await audio(cached, "The garage is shut.") == replaced
        cached.wait_for_log(r"lexicon\.yaml.*line \d+, column \d+")
    finally:
        lexicon.write_text(LEXICON)


async def test_a_voice_speed_scales_the_duration(exact: RunningServer) -> None:
    # Random weights never end early: both voices run to the same frame budget.
    normal = await audio(exact, "The washing machine is done.", "anna")
    brisk = await audio(exact, "The washing machine is done.", "brisk")
    assert abs(len(brisk) / len(normal) - 1 / 1.25) < 0.05 / 1.25


async def test_a_voice_sentence_silence_separates_its_sentences(exact: RunningServer) -> None:
    one = await audio(exact, "One.", "brisk")
    two = await audio(exact, "Two.", "brisk")
    assert await audio(exact, "One. Two.", "brisk") == one + silence(0.25) + two


# --- Loudness --------------------------------------------------------------------------------


TARGET = -36.0
"""Low enough that no gain below makes the random model's loud noise reach the limiter."""


@pytest.fixture(scope="module")
def targeted(
    tmp_path_factory: pytest.TempPathFactory, custom_voice_checkpoint: Path, base_checkpoint: Path
) -> Iterator[RunningServer]:
    extra = ["--audio-cache-mb", "0", "--loudness-target", str(TARGET)]
    yield from _serve(tmp_path_factory, "targeted", (custom_voice_checkpoint, base_checkpoint), extra)


def lufs(pcm: bytes) -> float:
    measured = measure_lufs(pcm16_to_float(pcm), RATE)
    assert measured is not None
    return measured


async def test_every_voice_aims_at_an_explicit_target(
    exact: RunningServer, targeted: RunningServer
) -> None:
    """Random weights do not copy the reference's level as the real model does, so what is
    checked is the gain on top of the model's own output (``exact`` runs with loudness off):
    ``target - reference loudness`` for cloned voices, ``target - calibration loudness`` for
    premium ones. References 12 dB apart get gains 12 dB apart."""
    text = "The lights in the hall are on."
    gains = {}
    for voice in ("anna", "soft"):
        reference = lufs(_wav_pcm(targeted.voices / f"{voice}.wav"))  # type: ignore[attr-defined]
        gains[voice] = lufs(await audio(targeted, text, voice)) - lufs(await audio(exact, text, voice))
        assert abs(gains[voice] - (TARGET - reference)) < 1.0, (voice, gains[voice], reference)
    assert abs((gains["soft"] - gains["anna"]) - 12.0) < 1.0, gains
    (stored,) = (targeted.cache / "loudness").glob("*.json")  # type: ignore[attr-defined]
    calibration = json.loads(stored.read_text())["vivian"]
    gain = lufs(await audio(targeted, text)) - lufs(await audio(exact, text))
    # The gain is held within +-20 dB (a model this loud is 21 dB over the target).
    assert abs(gain - gain_to_target(calibration, TARGET)) < 1.0, (gain, calibration)


async def test_cloned_voices_are_brought_to_the_default_target(
    exact: RunningServer, cached: RunningServer
) -> None:
    text = "The lights in the hall are on."
    reference = lufs(_wav_pcm(cached.voices / "anna.wav"))  # type: ignore[attr-defined]
    gain = lufs(await audio(cached, text, "anna")) - lufs(await audio(exact, text, "anna"))
    assert abs(gain - (DEFAULT_TARGET_LUFS - reference)) < 1.0, (gain, reference)


async def test_premium_voices_keep_the_model_level_by_default(
    exact: RunningServer, cached: RunningServer
) -> None:
    text = "Good evening, the porch light is on."
    assert await audio(cached, text) == await audio(exact, text)


def _wav_pcm(path: Path) -> bytes:
    import soundfile

    samples, rate = soundfile.read(str(path), dtype="int16")
    assert rate == RATE
    return np.ascontiguousarray(samples).tobytes()


# --- Sentence cache --------------------------------------------------------------------------


async def test_a_cache_hit_is_the_first_take(cached: RunningServer) -> None:
    text = "The washing machine is done."
    first = await audio(cached, text, "anna")
    hits = cached.log().count("Sentence cache hit")
    again = await audio(cached, text, "anna")
    assert again == first
    assert cached.log().count("Sentence cache hit") == hits + 1
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{cached.http_port}/metrics") as response:
            metrics = await response.text()
    found = re.search(r'qwen_tts_sentence_cache_lookups_total\{result="hit"\} (\S+)', metrics)
    assert found and float(found.group(1)) >= 1, metrics


async def test_a_changed_reference_clip_misses(cached: RunningServer) -> None:
    voices = cached.voices  # type: ignore[attr-defined]
    text = "The dryer is done."
    shutil.copy(voices / "anna.wav", voices / "changing.wav")
    (voices / "changing.txt").write_text("This is how Anna sounds when she talks.\n")
    cached.wait_for_log("Cloned voice 'changing' was added", timeout=30)
    first = await audio(cached, text, "changing")
    write_reference(voices / "changing.wav", 3.0, seed=9)
    cached.wait_for_log("Cloned voice 'changing' was changed", timeout=30)
    hits = cached.log().count("Sentence cache hit")
    second = await audio(cached, text, "changing")
    assert cached.log().count("Sentence cache hit") == hits
    assert second != first


async def test_the_defaults_give_the_bytes_of_before(
    exact: RunningServer, cached: RunningServer, custom_voice_checkpoint: Path
) -> None:
    """Speed 1, a lexicon that matches no word and an empty cache change nothing: the audio
    is upstream's for the same seed."""
    import torch

    from wyoming_qwen_tts.engine.compat import import_qwen_tts
    from wyoming_qwen_tts.text.sentences import frame_budget

    text = "Good morning, the coffee is ready."
    ours = await audio(cached, text)
    model = import_qwen_tts().Qwen3TTSModel.from_pretrained(
        str(custom_voice_checkpoint), device_map="cpu", dtype=torch.float32
    )
    torch.manual_seed(SEED)
    wavs, _ = model.generate_custom_voice(
        text, speaker="vivian", language=None, max_new_tokens=frame_budget(text)
    )
    assert np.abs(pcm16_to_float(ours) - wavs[0]).max() <= 1e-4
    assert await audio(exact, text) == ours


async def test_concurrent_answers_are_unaffected_by_the_cache(cached: RunningServer) -> None:
    texts = [f"Room {n} is warm." for n in ("one", "two", "three")]
    first = await asyncio.gather(*(audio(cached, t) for t in texts))
    again = await asyncio.gather(*(audio(cached, t) for t in texts))
    assert first == again
