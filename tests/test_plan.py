"""What an answer's text becomes (speech/plan.py): utterances, silences and their delivery."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from wyoming_qwen_tts.speech.plan import AnswerText, DeliveryDefaults, Silence, Utterance
from wyoming_qwen_tts.text.pronunciation import Lexicon, Pronunciation
from wyoming_qwen_tts.text.ssml import SsmlError
from wyoming_qwen_tts.voices.styles import Style
from wyoming_qwen_tts.voices.voice import (
    Delivery,
    Voice,
    VoiceChoice,
    VoiceError,
    VoiceKind,
    premium_voice,
)

RYAN = premium_voice("ryan")
VIVIAN = premium_voice("vivian")


def choice(voice: Voice = RYAN, language: str | None = "english") -> VoiceChoice:
    return VoiceChoice(voice, language, None)


def plan(
    text: str, *, ssml: bool = False, defaults: DeliveryDefaults | None = None, **kw: object
) -> list:
    answer = AnswerText(
        kw.pop("choice", choice()),  # type: ignore[arg-type]
        defaults=defaults or DeliveryDefaults(),
        lexicon=kw.pop("lexicon", Lexicon()),  # type: ignore[arg-type]
        ssml=ssml,
        **kw,  # type: ignore[arg-type]
    )
    return answer.feed(text) + answer.flush()


def texts(parts: list) -> list:
    return [p.request.text if isinstance(p, Utterance) else p.seconds for p in parts]


def test_plain_text_is_sentences_with_the_default_delivery() -> None:
    parts = plan("Hello there. The door is open.")
    assert texts(parts) == ["Hello there.", "The door is open."]
    assert all(p.speed == 1.0 and p.gain_db == 0.0 for p in parts)


def test_sentence_silence_goes_between_sentences_but_not_after_a_break() -> None:
    defaults = DeliveryDefaults(sentence_silence=0.3)
    assert texts(plan("One. Two.", defaults=defaults)) == ["One.", 0.3, "Two."]
    ssml = 'One.<break time="1s"/>Two. Three.'
    assert texts(plan(ssml, ssml=True, defaults=defaults)) == ["One.", 1.0, "Two.", 0.3, "Three."]


def test_a_voice_own_delivery_wins_over_the_server_default() -> None:
    brisk = Voice(
        "brisk", VoiceKind.CLONE, "", delivery=Delivery(speed=1.5, sentence_silence=0.0, volume_db=-3)
    )
    parts = plan("One. Two.", choice=choice(brisk), defaults=DeliveryDefaults(0.8, 0.5, "off"))
    assert texts(parts) == ["One.", "Two."]
    assert all(p.speed == 1.5 and p.gain_db == -3 for p in parts)


def test_speeds_multiply_within_the_bounds() -> None:
    [part] = plan('<prosody rate="x-fast">Quick.</prosody>', ssml=True, speed=2.0)
    assert part.speed == 2.0
    [part] = plan('<prosody rate="50%">Slow.</prosody>', ssml=True, speed=0.8)
    assert part.speed == 0.5
    [part] = plan("Normal.", speed=1.25, defaults=DeliveryDefaults(speed=1.2))
    assert part.speed == pytest.approx(1.5)


def test_ssml_volume_adds_to_the_gain_and_silent_is_minus_infinity() -> None:
    [loud, quiet] = plan(
        '<prosody volume="+6dB">Loud.</prosody><prosody volume="silent">Quiet.</prosody>', ssml=True
    )
    assert loud.gain_db == 6.0 and quiet.gain_db == -math.inf


def test_the_loudness_target_for_cloned_and_premium_voices() -> None:
    clone = Voice("anna", VoiceKind.CLONE, "", delivery=Delivery(reference_lufs=-30.0))
    assert DeliveryDefaults().gain_of(clone) == pytest.approx(-18.0 + 30.0)
    assert DeliveryDefaults().gain_of(RYAN) == 0.0  # premium: the model's level by default
    assert DeliveryDefaults(loudness_target="off").gain_of(clone) == 0.0
    measured = DeliveryDefaults(loudness_target=-24.0, premium_lufs=lambda voice: -14.0)
    assert measured.gain_of(RYAN) == pytest.approx(-10.0)
    assert measured.gain_of(clone) == pytest.approx(6.0)
    unmeasured = Voice("odd", VoiceKind.CLONE, "", delivery=Delivery(reference_lufs=None))
    assert measured.gain_of(unmeasured) == 0.0


def test_an_ssml_voice_switch_uses_the_resolver_and_an_unknown_voice_fails() -> None:
    def resolve(name: str) -> VoiceChoice:
        if name != "vivian":
            raise VoiceError(f"voice '{name}' not found; available: ryan, vivian")
        return choice(VIVIAN)

    parts = plan('Hi. <voice name="vivian">Hello.</voice> Bye.', ssml=True, resolve=resolve)
    assert [p.request.voice.name for p in parts] == ["ryan", "vivian", "ryan"]
    with pytest.raises(VoiceError, match="'nobody' not found"):
        plan('<voice name="nobody">Hello.</voice>', ssml=True, resolve=resolve)


def test_emphasis_is_an_instruction_only_where_the_model_follows_them() -> None:
    styled = VoiceChoice(
        Voice("ryan", VoiceKind.PREMIUM, "", speaker="ryan", styles=(Style("calm", "Calm."),)),
        "english",
        "Calm.",
    )
    [part] = plan('<emphasis level="strong">Now.</emphasis>', ssml=True, choice=styled)
    assert part.request.instruct == "Calm. Speak this with strong emphasis."
    [part] = plan('<emphasis level="strong">Now.</emphasis>', ssml=True)
    assert part.request.instruct is None


def test_ssml_lang_sets_the_model_language_for_its_span() -> None:
    parts = plan('Hello. <lang xml:lang="de-DE">Guten Tag.</lang>', ssml=True)
    assert [p.request.language for p in parts] == ["english", "german"]


def test_the_lexicon_applies_before_normalization() -> None:
    lexicon = Lexicon([Pronunciation("HA", "Home Assistant")])
    assert texts(plan("HA has 2 lights.", lexicon=lexicon)) == ["Home Assistant has two lights."]


def test_malformed_ssml_raises_with_its_position() -> None:
    with pytest.raises(SsmlError, match="line 1, column"):
        plan("<speak><s>Hi</speak>", ssml=True)


def test_the_cache_key_changes_with_everything_that_changes_the_sound() -> None:
    from dataclasses import replace

    from wyoming_qwen_tts.engine.interface import SynthesisRequest
    from wyoming_qwen_tts.speech.speaker import Speaker
    from wyoming_qwen_tts.voices.voice import CloneReference

    speaker = Speaker(None, None, lambda request: "model-a", seed=1)  # type: ignore[arg-type]
    anna = Voice(
        "anna",
        VoiceKind.CLONE,
        "",
        reference=CloneReference(Path("anna.wav"), "Hello."),
        delivery=Delivery(reference_digest="d1"),
    )
    base = Utterance(SynthesisRequest("Hi.", anna, "english", None))
    changed = [
        replace(base, speed=1.1),
        replace(base, gain_db=-3.0),
        replace(base, request=replace(base.request, text="Hi!")),
        replace(base, request=replace(base.request, language="german")),
        replace(base, request=replace(base.request, instruct="Speak softly.")),
        replace(base, request=replace(base.request, voice=replace(anna, delivery=Delivery(reference_digest="d2")))),
        replace(base, request=replace(base.request, voice=replace(anna, reference=CloneReference(Path("anna.wav"), "Hi.")))),
    ]
    keys = {speaker.key(utterance) for utterance in [base, *changed]}
    assert len(keys) == len(changed) + 1
    assert speaker.key(replace(base)) == speaker.key(base)
    other_model = Speaker(None, None, lambda request: "model-b", seed=1)  # type: ignore[arg-type]
    other_seed = Speaker(None, None, lambda request: "model-a", seed=2)  # type: ignore[arg-type]
    assert len({speaker.key(base), other_model.key(base), other_seed.key(base)}) == 3


def test_markup_that_changes_nothing_heard_does_not_cut_a_sentence() -> None:
    parts = plan("I <emphasis>really</emphasis> mean it.", ssml=True)  # ryan: no styles
    assert texts(parts) == ["I really mean it."]
    parts = plan('Hi <voice name="ryan">there</voice>, you.', ssml=True)
    assert texts(parts) == ["Hi there, you."]


def test_a_zero_length_break_still_stands_for_the_sentence_silence() -> None:
    defaults = DeliveryDefaults(sentence_silence=0.3)
    assert texts(plan('One.<break strength="none"/>Two.', ssml=True, defaults=defaults)) == [
        "One.",
        "Two.",
    ]


def test_an_overflowing_ssml_volume_is_an_error() -> None:
    with pytest.raises(SsmlError, match="volume"):
        plan('<prosody volume="+1' + "0" * 400 + 'dB">Loud.</prosody>', ssml=True)


async def test_a_cancelled_silence_or_cached_take_yields_nothing() -> None:
    from wyoming_qwen_tts.speech.speaker import Speaker

    speaker = Speaker(None, None, lambda request: "m", seed=None)  # type: ignore[arg-type]
    take = speaker.say(Silence(0.5), group=object())
    assert [len(pcm) async for pcm in take.audio()] == [24000 * 2 // 2]
    take = speaker.say(Silence(0.5), group=object())
    take.cancel()
    assert [pcm async for pcm in take.audio()] == []
