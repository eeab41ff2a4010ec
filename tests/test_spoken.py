"""Speech-ready text wired in: code blocks out before splitting, each sentence normalized."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wyoming.client import AsyncTcpClient
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from wyoming_qwen_tts.text.spoken import SpokenSentences, spoken_sentences

from .wyoming_server import RunningServer, audio_of, read_until, start_server

ANSWER = (
    "**Sure!** Here is the script:\n\n"
    "```python\nimport time\nprint('Alarm at 7:30. Battery 50%.')\n```\n\n"
    "- Alarm at 7:30\n- Battery 50%\n\n"
    "See https://example.com/docs for more 🎉"
)
SPOKEN = [
    "Sure! Here is the script:",
    "Code omitted.",
    "Alarm at seven thirty",  # each list item is a sentence of its own
    "Battery fifty percent",
    "See example dot com for more",
]


def test_an_llm_answer_becomes_sentences_a_person_would_say() -> None:
    assert spoken_sentences(ANSWER, "english") == SPOKEN


def test_the_voice_language_picks_the_rules_and_none_detects_it() -> None:
    assert spoken_sentences("Es ist 21,5 °C draußen. Wecker um 7:30 Uhr.", "german") == [
        "Es ist einundzwanzig Komma fünf Grad Celsius draußen.",
        "Wecker um sieben Uhr dreißig.",
    ]
    assert spoken_sentences("Il fait 21,5 °C dehors.", None) == [
        "Il fait vingt et un virgule cinq degrés Celsius dehors."
    ]
    # Chinese passes through: the model reads digits itself
    assert spoken_sentences("现在是7:30。", "chinese") == ["现在是7:30。"]


@pytest.mark.parametrize("text", ["🎉", "🎉 🚀\n\n", "- \n* \n", "```\ncode only\n```"])
def test_text_that_says_nothing_gives_no_sentence_or_only_the_code_phrase(text: str) -> None:
    assert spoken_sentences(text, "english") in ([], ["Code omitted."])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(ANSWER) - 1), max_size=12))
def test_any_chunking_speaks_the_same_sentences(cuts: list[int]) -> None:
    stream = SpokenSentences("english")
    bounds = [0, *sorted(set(cuts)), len(ANSWER)]
    sentences: list[str] = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        sentences += stream.feed(ANSWER[start:end])
    sentences += stream.flush()
    assert sentences == SPOKEN


# --- the server -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, custom_voice_checkpoint: Path
) -> RunningServer:
    running = start_server(
        [
            "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--device", "cpu", "--seed", "2",
            "--custom-voice-model", str(custom_voice_checkpoint), "--language", "en", "--debug",
        ],
        tmp_path_factory.mktemp("spoken") / "server.log",
    )  # fmt: skip
    yield running
    running.stop()


async def test_a_streamed_answer_with_code_is_spoken_like_the_whole_text(
    server: RunningServer,
) -> None:
    chunks = [ANSWER[i : i + 7] for i in range(0, len(ANSWER), 7)]  # fences split mid-way
    voice = SynthesizeVoice(name="ryan")
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(SynthesizeStart(voice=voice).event())
        for chunk in chunks:
            await client.write_event(SynthesizeChunk(text=chunk).event())
        await client.write_event(SynthesizeStop().event())
        streamed = await read_until(client, ("synthesize-stopped",))
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(Synthesize(text=ANSWER, voice=voice).event())
        one_shot = await read_until(client, ("audio-stop",))
    assert audio_of(streamed) == audio_of(one_shot) != b""
    log = server.log()
    for sentence in SPOKEN:
        assert f"Submitting {sentence!r} in voice ryan (english)" in log
    assert "import time" not in log


async def test_an_answer_of_emoji_is_a_valid_empty_answer(server: RunningServer) -> None:
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(
            Synthesize(text="👍🎉", voice=SynthesizeVoice(name="ryan")).event()
        )
        events = await read_until(client, ("audio-stop", "error"))
    assert [e.type for e in events] == ["audio-start", "audio-stop"]
