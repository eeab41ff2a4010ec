"""Tests for wyoming_qwen_tts.voices: languages, the voices dir, reference clips and the catalog."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wyoming_qwen_tts.text.languages import LANGUAGES, model_language
from wyoming_qwen_tts.voices.files import scan_voices_dir
from wyoming_qwen_tts.voices.reference import (
    MAX_REFERENCE_SECONDS,
    MIN_REFERENCE_SECONDS,
    load_reference_audio,
)
from wyoming_qwen_tts.voices.voice import (
    CloneReference,
    Voice,
    VoiceCatalog,
    VoiceError,
    VoiceKind,
    VoiceNotFoundError,
    premium_voice,
)

from .wyoming_server import write_reference

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ALL_CODES = ["zh", "en", "ja", "ko", "de", "fr", "ru", "pt", "es", "it"]


# --- model_language -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("en", "english"),
        ("de", "german"),
        ("zh", "chinese"),
        ("EN", "english"),
        (" fr ", "french"),
        ("en-US", "english"),
        ("en_GB", "english"),
        ("pt_BR", "portuguese"),
        ("pt-br", "portuguese"),
        ("zh-Hant-TW", "chinese"),
        ("English", "english"),
        ("ENGLISH", "english"),
        ("german", "german"),
        ("jApAnEsE", "japanese"),
        (" Korean\n", "korean"),
    ],
)
def test_model_language_maps_codes_regions_and_names(value: str, expected: str) -> None:
    assert model_language(value) == expected


@pytest.mark.parametrize("value", [None, "", "   ", "auto", "AUTO", "Auto", " auto "])
def test_model_language_auto_means_none(value: str | None) -> None:
    assert model_language(value) is None


@pytest.mark.parametrize("value", ["klingon", "xx", "eng", "nl-NL", "english-US", "en US", "-en"])
def test_model_language_rejects_unknown_values_listing_the_choices(value: str) -> None:
    with pytest.raises(ValueError) as err:
        model_language(value)
    message = str(err.value)
    assert message.startswith(f"language '{value}' is not supported; use one of: ")
    choices = message.split("use one of: ", 1)[1].split(", ")
    assert choices == [*LANGUAGES, *LANGUAGES.values(), "auto"]


def test_languages_table_is_the_ten_model_languages() -> None:
    assert list(LANGUAGES) == ALL_CODES
    assert len(set(LANGUAGES.values())) == len(LANGUAGES)


@PROPERTY
@given(
    code=st.sampled_from(sorted(LANGUAGES)),
    upper=st.lists(st.booleans(), min_size=2, max_size=2),
    separator=st.sampled_from(["-", "_"]),
    region=st.one_of(
        st.none(),
        st.text(
            alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            min_size=1,
            max_size=4,
        ),
    ),
)
def test_model_language_codes_and_names_agree_and_round_trip(
    code: str, upper: list[bool], separator: str, region: str | None
) -> None:
    name = LANGUAGES[code]
    assert model_language(code) == model_language(name) == name
    # the model's name maps to itself, and back to the code through Voice.language_codes
    assert model_language(model_language(code)) == name
    assert Voice("v", VoiceKind.CLONE, "v", language=model_language(name)).language_codes == [code]
    # any casing, any region suffix
    cased = "".join(ch.upper() if flip else ch for ch, flip in zip(code, upper, strict=True))
    tagged = cased if region is None else f"{cased}{separator}{region}"
    assert model_language(tagged) == name
    assert model_language(name.upper()) == name


@PROPERTY
@given(st.text(max_size=20))
def test_model_language_returns_a_model_language_auto_or_raises_value_error(value: str) -> None:
    try:
        result = model_language(value)
    except ValueError as err:
        assert str(err).startswith(f"language '{value}' is not supported")
    else:
        assert result is None or result in LANGUAGES.values()


# --- Voice and premium_voice ----------------------------------------------------------------


def test_voice_language_codes_single_code_when_language_set() -> None:
    for code, name in LANGUAGES.items():
        voice = Voice(name="v", kind=VoiceKind.CLONE, description="v", language=name)
        assert voice.language_codes == [code]


def test_voice_language_codes_all_ten_without_language() -> None:
    voice = Voice(name="v", kind=VoiceKind.PREMIUM, description="v")
    assert voice.language_codes == ALL_CODES
    # a fresh list each time: callers may not corrupt the table
    voice.language_codes.append("xx")
    assert voice.language_codes == ALL_CODES


def test_premium_voice() -> None:
    voice = premium_voice("uncle_fu")
    assert voice.name == "uncle_fu"
    assert voice.speaker == "uncle_fu"
    assert voice.kind is VoiceKind.PREMIUM
    assert voice.description == "Uncle_Fu (Qwen3-TTS premium speaker)"
    assert voice.language is None
    assert voice.reference is None
    assert voice.language_codes == ALL_CODES


def test_premium_voice_lowercases_the_speaker() -> None:
    voice = premium_voice("Vivian")
    assert (voice.name, voice.speaker, voice.description) == (
        "vivian",
        "vivian",
        "Vivian (Qwen3-TTS premium speaker)",
    )


# --- scan_voices_dir ------------------------------------------------------------------------


def add_voice(
    voices_dir: Path,
    name: str,
    transcript: str | bytes | None = "Hello there.",
    yaml_text: str | bytes | None = None,
) -> Path:
    """NAME.wav (+ NAME.txt) (+ NAME.yaml) in voices_dir; scan_voices_dir never reads the audio."""
    audio_path = voices_dir / f"{name}.wav"
    audio_path.write_bytes(b"RIFF not really")
    for suffix, content in ((".txt", transcript), (".yaml", yaml_text)):
        if isinstance(content, str):
            audio_path.with_suffix(suffix).write_text(content, encoding="utf-8")
        elif isinstance(content, bytes):
            audio_path.with_suffix(suffix).write_bytes(content)
    return audio_path


def test_scan_good_voice_without_yaml(tmp_path: Path) -> None:
    audio_path = add_voice(tmp_path, "alice", "  Hello, I am Alice.\n")
    voices, problems = scan_voices_dir(tmp_path)
    assert problems == []
    assert voices == [
        Voice(
            name="alice",
            kind=VoiceKind.CLONE,
            description="alice (cloned voice)",
            language=None,
            reference=CloneReference(audio_path=audio_path, transcript="Hello, I am Alice."),
        )
    ]
    assert voices[0].language_codes == ALL_CODES
    assert voices[0].speaker is None


@pytest.mark.parametrize(
    ("yaml_text", "language"),
    [
        ("language: de\n", "german"),
        ("language: pt_BR\n", "portuguese"),
        ("language: English\n", "english"),
        ("language: auto\n", None),
        ("language:\n", None),
        ("", None),
        ("# just a comment\n", None),
        ("description: my voice\n", None),
    ],
)
def test_scan_voice_yaml_language(tmp_path: Path, yaml_text: str, language: str | None) -> None:
    add_voice(tmp_path, "bob", yaml_text=yaml_text)
    voices, problems = scan_voices_dir(tmp_path)
    assert problems == []
    assert [v.language for v in voices] == [language]
    expected_codes = (
        ALL_CODES if language is None else [{v: k for k, v in LANGUAGES.items()}[language]]
    )
    assert voices[0].language_codes == expected_codes


def test_scan_missing_transcript(tmp_path: Path) -> None:
    add_voice(tmp_path, "carol", transcript=None)
    assert scan_voices_dir(tmp_path) == ([], ["cloned voice 'carol': missing transcript carol.txt"])


@pytest.mark.parametrize("transcript", ["", "   \n\t\n"])
def test_scan_empty_transcript(tmp_path: Path, transcript: str) -> None:
    add_voice(tmp_path, "dave", transcript=transcript)
    assert scan_voices_dir(tmp_path) == ([], ["cloned voice 'dave': transcript dave.txt is empty"])


def test_scan_non_utf8_transcript(tmp_path: Path) -> None:
    add_voice(tmp_path, "erin", transcript=b"\xff\xfe caf\xe9")
    voices, problems = scan_voices_dir(tmp_path)
    assert voices == []
    assert len(problems) == 1
    assert problems[0].startswith("cloned voice 'erin': cannot read erin.txt: ")
    assert "utf-8" in problems[0]


def test_scan_yaml_that_is_a_list(tmp_path: Path) -> None:
    add_voice(tmp_path, "frank", yaml_text="- language: en\n")
    assert scan_voices_dir(tmp_path) == (
        [],
        ["cloned voice 'frank': frank.yaml must be a mapping such as 'language: en'"],
    )


@pytest.mark.parametrize(
    "yaml_text", ["language: 3\n", "language: [en, de]\n", "language: {code: en}\n"]
)
def test_scan_yaml_language_not_a_string(tmp_path: Path, yaml_text: str) -> None:
    add_voice(tmp_path, "gina", yaml_text=yaml_text)
    assert scan_voices_dir(tmp_path) == (
        [],
        ["cloned voice 'gina': gina.yaml: 'language' must be a string such as 'en'"],
    )


def test_scan_yaml_unknown_language_names_the_voice(tmp_path: Path) -> None:
    add_voice(tmp_path, "hank", yaml_text="language: klingon\n")
    voices, problems = scan_voices_dir(tmp_path)
    assert voices == []
    assert len(problems) == 1
    assert problems[0].startswith(
        "cloned voice 'hank': hank.yaml: language 'klingon' is not supported; use one of: "
    )


def test_scan_yaml_unknown_language_names_the_file(tmp_path: Path) -> None:
    add_voice(tmp_path, "hank", yaml_text="language: klingon\n")
    _, problems = scan_voices_dir(tmp_path)
    assert "hank.yaml" in problems[0]


def test_scan_invalid_yaml_is_a_problem_for_that_voice_only(tmp_path: Path) -> None:
    add_voice(tmp_path, "ivan", yaml_text="language: [en\n")
    add_voice(tmp_path, "judy", yaml_text="language: en\n")
    voices, problems = scan_voices_dir(tmp_path)
    assert [v.name for v in voices] == ["judy"]
    assert len(problems) == 1
    assert problems[0].startswith("cloned voice 'ivan': ")


def test_scan_invalid_yaml_problem_is_one_line_naming_the_file(tmp_path: Path) -> None:
    add_voice(tmp_path, "ivan", yaml_text="language: [en\n")
    _, problems = scan_voices_dir(tmp_path)
    assert "ivan.yaml" in problems[0]
    assert "\n" not in problems[0]


def test_scan_non_utf8_yaml(tmp_path: Path) -> None:
    add_voice(tmp_path, "kim", yaml_text=b"language: \xff\n")
    voices, problems = scan_voices_dir(tmp_path)
    assert voices == []
    assert len(problems) == 1
    assert problems[0].startswith("cloned voice 'kim': ")


def test_scan_nonexistent_dir(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert scan_voices_dir(missing) == ([], [f"voices dir {missing} does not exist"])


def test_scan_a_file_instead_of_a_dir(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "voices.txt"
    not_a_dir.write_text("x")
    assert scan_voices_dir(not_a_dir) == ([], [f"voices dir {not_a_dir} does not exist"])


def test_scan_empty_dir_and_stray_files(tmp_path: Path) -> None:
    assert scan_voices_dir(tmp_path) == ([], [])
    (tmp_path / "orphan.txt").write_text("no audio for me")
    (tmp_path / "orphan.yaml").write_text("language: en")
    (tmp_path / "readme.md").write_text("hi")
    assert scan_voices_dir(tmp_path) == ([], [])


def test_scan_voices_sorted_by_name_problems_in_order(tmp_path: Path) -> None:
    for name in ("charlie", "alice", "bob"):
        add_voice(tmp_path, name)
    add_voice(tmp_path, "zed", transcript=None)
    add_voice(tmp_path, "abe", transcript="")
    voices, problems = scan_voices_dir(tmp_path)
    assert [v.name for v in voices] == ["alice", "bob", "charlie"]
    assert problems == [
        "cloned voice 'abe': transcript abe.txt is empty",
        "cloned voice 'zed': missing transcript zed.txt",
    ]


def test_scan_voices_sorted_by_name_when_names_prefix_each_other(tmp_path: Path) -> None:
    add_voice(tmp_path, "a")
    add_voice(tmp_path, "a-b")
    voices, _ = scan_voices_dir(tmp_path)
    assert [v.name for v in voices] == ["a", "a-b"]


def test_scan_mixed_good_and_bad(tmp_path: Path) -> None:
    add_voice(tmp_path, "good", yaml_text="language: ja")
    add_voice(tmp_path, "bad", yaml_text="language: 3")
    add_voice(tmp_path, "silent", transcript=None)
    voices, problems = scan_voices_dir(tmp_path)
    assert [(v.name, v.language) for v in voices] == [("good", "japanese")]
    assert voices[0].language_codes == ["ja"]
    assert problems == [
        "cloned voice 'bad': bad.yaml: 'language' must be a string such as 'en'",
        "cloned voice 'silent': missing transcript silent.txt",
    ]


# --- load_reference_audio -------------------------------------------------------------------


def test_load_good_reference(tmp_path: Path) -> None:
    path = tmp_path / "good.wav"
    write_reference(path, 3.0)
    audio, sample_rate = load_reference_audio(path)
    assert sample_rate == 24000
    assert audio.shape == (72000,)
    assert audio.dtype == np.float32
    assert audio.flags.c_contiguous
    assert 0.05 < float(np.abs(audio).max()) <= 1.0
    expected, _ = soundfile.read(str(path), dtype="float32")
    np.testing.assert_array_equal(audio, expected)


@pytest.mark.parametrize("seconds", [MIN_REFERENCE_SECONDS, MAX_REFERENCE_SECONDS])
def test_load_reference_length_limits_are_inclusive(tmp_path: Path, seconds: float) -> None:
    path = tmp_path / "edge.wav"
    write_reference(path, seconds)
    audio, sample_rate = load_reference_audio(path)
    assert audio.shape[0] == int(seconds * sample_rate)


def test_load_reference_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(VoiceError) as err:
        load_reference_audio(path)
    assert str(err.value).startswith("noise.wav is not a readable audio file (")
    assert str(err.value).endswith("); save the recording as WAV")


def test_load_reference_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VoiceError) as err:
        load_reference_audio(tmp_path / "ghost.wav")
    assert str(err.value).startswith("ghost.wav is not a readable audio file (")


def test_load_reference_silent(tmp_path: Path) -> None:
    path = tmp_path / "quiet.wav"
    soundfile.write(str(path), np.zeros(48000, dtype=np.float32), 24000)
    with pytest.raises(VoiceError, match=r"^quiet\.wav is silent; record the reference again$"):
        load_reference_audio(path)


def test_load_reference_almost_silent(tmp_path: Path) -> None:
    path = tmp_path / "hiss.wav"
    write_reference(path, 2.0, amplitude=1e-4)
    with pytest.raises(VoiceError, match=r"^hiss\.wav is silent; record the reference again$"):
        load_reference_audio(path)


def test_load_reference_non_finite_samples_rejected(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    wave = np.full(48000, 0.3, dtype=np.float32)
    wave[100] = np.nan
    soundfile.write(str(path), wave, 24000, subtype="FLOAT")
    with pytest.raises(VoiceError, match=r"^nan\.wav "):
        load_reference_audio(path)


def test_load_reference_too_short(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    write_reference(path, 0.5)
    with pytest.raises(VoiceError) as err:
        load_reference_audio(path)
    assert str(err.value) == "short.wav is 0.50 s long; a reference needs at least 1 s of speech"


def test_load_reference_empty_audio(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    soundfile.write(str(path), np.zeros(0, dtype=np.float32), 24000)
    with pytest.raises(VoiceError) as err:
        load_reference_audio(path)
    assert str(err.value) == "empty.wav is 0.00 s long; a reference needs at least 1 s of speech"


def test_load_reference_too_long(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    write_reference(path, 31.0)
    with pytest.raises(VoiceError) as err:
        load_reference_audio(path)
    assert str(err.value) == "long.wav is 31.0 s long; use a clip of at most 30 s"


def test_load_reference_stereo_is_mixed_to_mono(tmp_path: Path) -> None:
    t = np.arange(2 * 24000) / 24000
    left = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    right = (0.25 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    path = tmp_path / "stereo.wav"
    soundfile.write(str(path), np.stack([left, right], axis=1), 24000, subtype="FLOAT")
    audio, sample_rate = load_reference_audio(path)
    assert sample_rate == 24000
    assert audio.ndim == 1
    assert audio.shape == (48000,)
    assert audio.dtype == np.float32
    assert audio.flags.c_contiguous
    np.testing.assert_allclose(audio, (left + right) / 2, atol=1e-6)


def test_load_reference_stereo_with_one_silent_channel_is_not_silent(tmp_path: Path) -> None:
    path = tmp_path / "left_only.wav"
    wave = np.zeros((48000, 2), dtype=np.float32)
    wave[:, 0] = 0.4 * np.sin(2 * np.pi * 200 * np.arange(48000) / 24000)
    soundfile.write(str(path), wave, 24000, subtype="FLOAT")
    audio, _ = load_reference_audio(path)
    np.testing.assert_allclose(audio, wave[:, 0] / 2, atol=1e-6)


def test_load_reference_48khz_keeps_its_rate(tmp_path: Path) -> None:
    path = tmp_path / "hifi.wav"
    t = np.arange(int(1.5 * 48000)) / 48000
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    soundfile.write(str(path), wave, 48000, subtype="PCM_16")
    audio, sample_rate = load_reference_audio(path)
    assert sample_rate == 48000
    assert isinstance(sample_rate, int)
    assert audio.shape == (72000,)
    np.testing.assert_allclose(audio, wave, atol=1 / 2**15)


def test_load_reference_length_uses_the_file_rate(tmp_path: Path) -> None:
    # 40000 samples: 0.83 s at 48 kHz (too short), though it would be 1.67 s at 24 kHz
    path = tmp_path / "rate.wav"
    soundfile.write(str(path), 0.3 * np.ones(40000, dtype=np.float32), 48000)
    with pytest.raises(VoiceError, match=r"^rate\.wav is 0\.83 s long"):
        load_reference_audio(path)


def test_load_reference_flac(tmp_path: Path) -> None:
    wav = tmp_path / "src.wav"
    write_reference(wav, 2.0)
    data, rate = soundfile.read(str(wav), dtype="float32")
    flac = tmp_path / "voice.flac"
    soundfile.write(str(flac), data, rate, format="FLAC")
    audio, sample_rate = load_reference_audio(flac)
    assert sample_rate == 24000
    np.testing.assert_allclose(audio, data, atol=1 / 2**15)


# --- VoiceCatalog ---------------------------------------------------------------------------


def clone(name: str, language: str | None = None) -> Voice:
    return Voice(
        name=name, kind=VoiceKind.CLONE, description=f"{name} (cloned voice)", language=language
    )


def test_catalog_resolves_case_insensitively() -> None:
    ryan, alice = premium_voice("ryan"), clone("Alice")
    catalog = VoiceCatalog([ryan, alice])
    assert catalog.resolve("ryan") is ryan
    assert catalog.resolve("RYAN") is ryan
    assert catalog.resolve("alice") is alice
    assert catalog.resolve("ALICE") is alice
    assert catalog.resolve("Alice") is alice
    assert catalog.names == ["ryan", "Alice"]
    assert len(catalog) == 2
    assert list(catalog) == [ryan, alice]


def test_catalog_implicit_default_is_the_first_voice() -> None:
    first, second = premium_voice("vivian"), clone("bob")
    catalog = VoiceCatalog([first, second])
    assert catalog.default is first
    assert catalog.resolve(None) is first
    assert catalog.resolve("") is first


def test_catalog_explicit_default_case_insensitive() -> None:
    first, second = premium_voice("vivian"), clone("Bob")
    catalog = VoiceCatalog([first, second], default="BOB")
    assert catalog.default is second
    assert catalog.resolve(None) is second
    assert catalog.resolve("vivian") is first


def test_catalog_unknown_voice_message_is_exact() -> None:
    catalog = VoiceCatalog([clone("b"), clone("a")])
    with pytest.raises(VoiceNotFoundError) as err:
        catalog.resolve("x")
    assert str(err.value) == "voice 'x' not found; available: a, b"
    assert err.value.name == "x"
    assert isinstance(err.value, VoiceError)


def test_catalog_unknown_voice_keeps_the_requested_spelling() -> None:
    catalog = VoiceCatalog([clone("a")])
    with pytest.raises(VoiceNotFoundError, match=r"^voice 'Nobody' not found; available: a$"):
        catalog.resolve("Nobody")


def test_catalog_duplicate_names_keep_the_first_and_log_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    premium, cloned = premium_voice("ryan"), clone("Ryan")
    with caplog.at_level(logging.ERROR, logger="wyoming_qwen_tts.voices"):
        catalog = VoiceCatalog([premium, cloned, clone("zoe")])
    assert catalog.names == ["ryan", "zoe"]
    assert catalog.resolve("RYAN") is premium
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "Skipping clone voice 'Ryan': a premium voice already has that name"
    ]
    assert errors[0].name == "wyoming_qwen_tts.voices.voice"


def test_catalog_default_naming_an_unknown_voice_raises() -> None:
    with pytest.raises(VoiceNotFoundError) as err:
        VoiceCatalog([clone("b"), clone("a")], default="x")
    assert str(err.value) == "voice 'x' not found; available: a, b"


def test_empty_catalog() -> None:
    catalog = VoiceCatalog([])
    assert len(catalog) == 0
    assert catalog.names == []
    assert catalog.default is None
    for name in (None, ""):
        with pytest.raises(VoiceError) as err:
            catalog.resolve(name)
        assert str(err.value) == "no voices are available; check the models and the voices dir"
        assert not isinstance(err.value, VoiceNotFoundError)
    with pytest.raises(VoiceNotFoundError, match=r"^voice 'x' not found; available: none$"):
        catalog.resolve("x")


def test_empty_catalog_with_a_default_raises() -> None:
    with pytest.raises(VoiceNotFoundError, match=r"^voice 'x' not found; available: none$"):
        VoiceCatalog([], default="x")


def test_catalog_of_scanned_voices(tmp_path: Path) -> None:
    for name in ("Zoe", "max"):
        add_voice(tmp_path, name)
    voices, problems = scan_voices_dir(tmp_path)
    assert problems == []
    catalog = VoiceCatalog([premium_voice("ryan"), *voices], default="zoe")
    assert catalog.default.name == "Zoe"
    assert catalog.resolve("MAX").reference.transcript == "Hello there."
