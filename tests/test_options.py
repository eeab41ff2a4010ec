"""The options file (the add-on's /data/options.json, or ``--options FILE``) -> Settings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info

from wyoming_qwen_tts.cli.main import parse_args
from wyoming_qwen_tts.settings.flags import given_fields, settings_from_args
from wyoming_qwen_tts.settings.options_file import OPTION_DEFAULTS, settings_from_options
from wyoming_qwen_tts.settings.model_options import model_ids
from wyoming_qwen_tts.settings.settings import DEFAULT_URI, Settings
from wyoming_qwen_tts.voices.files import collect_clone_voices
from wyoming_qwen_tts.voices.styles import Style
from wyoming_qwen_tts.voices.voice import ClonedVoice

from .wyoming_server import read_until, start_server, write_reference

FULL_OPTIONS: dict[str, Any] = {
    "model_size": "1.7B",
    "voice": "grandma",
    "language": "de",
    "cloned_voices": [
        {
            "name": "grandma",
            "audio": "grandma.wav",
            "transcript": "Guten Morgen, mein Schatz.",
            "language": "de",
        },
        {"name": "Uncle Bob", "audio": "/clips/bob.flac", "transcript": "Hi there."},
    ],
    "styles": [{"name": "bedtime", "instruct": "Speak softly and slowly."}],
    "device": "cuda:1",
    "dtype": "bfloat16",
    "debug_logging": True,
}


def test_model_ids_are_the_official_ones() -> None:
    assert model_ids("0.6B") == (
        "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice",
        "Qwen/Qwen3-TTS-12Hz-0.6B-Base",
    )
    assert model_ids("1.7B") == (
        "Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice",
        "Qwen/Qwen3-TTS-12Hz-1.7B-Base",
    )
    with pytest.raises(ValueError, match="3B"):
        model_ids("3B")


def test_empty_options_are_the_defaults() -> None:
    settings = settings_from_options({})
    assert settings == settings_from_options(OPTION_DEFAULTS)
    assert settings == Settings(voice="ryan")  # the add-on's default voice; all else as flags


def test_every_option_maps_onto_settings(tmp_path: Path) -> None:
    settings = settings_from_options(FULL_OPTIONS, voices_dir=tmp_path)
    assert settings.custom_voice_model == "Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice"
    assert settings.base_model == "Qwen/Qwen3-TTS-12Hz-1.7B-Base"
    assert settings.voice == "grandma"
    assert settings.language == "german"
    assert settings.cloned_voices == (
        ClonedVoice("grandma", tmp_path / "grandma.wav", "Guten Morgen, mein Schatz.", "german"),
        ClonedVoice("Uncle Bob", Path("/clips/bob.flac"), "Hi there.", None),
    )
    assert settings.styles == (Style("bedtime", "Speak softly and slowly."),)
    assert settings.device == "cuda:1"
    assert settings.dtype == "bfloat16"
    assert settings.debug is True
    # what the options do not cover keeps its default
    assert settings.uri == DEFAULT_URI
    assert settings.voices_dir is None
    assert settings.zeroconf_name == Settings().zeroconf_name
    hash(settings)  # still frozen and hashable with the tuples of voices and styles


@pytest.mark.parametrize("language", ["auto", "", None])
def test_no_language_means_auto(language: str | None) -> None:
    voice = {"name": "a", "audio": "/a.wav", "transcript": "A.", "language": language}
    settings = settings_from_options({"language": language, "cloned_voices": [voice]})
    assert settings.language is None
    assert settings.cloned_voices[0].language is None


@pytest.mark.parametrize("voice", ["", None, "   "])
def test_empty_voice_means_the_first_voice(voice: str | None) -> None:
    assert settings_from_options({"voice": voice}).voice is None


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])
def test_devices(device: str) -> None:
    assert settings_from_options({"device": device}).device == device


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"debug_logging": "yes"}, "option 'debug_logging' must be a boolean, got 'yes'"),
        ({"debug_logging": 1}, "option 'debug_logging' must be a boolean, got 1"),
        ({"model_size": "3B"}, "option 'model_size' must be one of 0.6B, 1.7B, got '3B'"),
        ({"model_size": 0.6}, "option 'model_size' must be one of 0.6B, 1.7B, got 0.6"),
        ({"voice": 7}, "option 'voice' must be a string, got 7"),
        (
            {"language": 3},
            "option 'language' must be a language code such as 'en' or 'auto', got 3",
        ),
        ({"language": "klingon"}, "option 'language': language 'klingon' is not supported; use"),
        ({"device": "gpu"}, "option 'device' must be auto, cpu, cuda, cuda:N or mps, got 'gpu'"),
        ({"device": ""}, "option 'device' must be a non-empty string, got ''"),
        (
            {"dtype": "int8"},
            "option 'dtype' must be one of auto, float32, bfloat16, float16, got 'int8'",
        ),
        ({"cloned_voices": "grandma"}, "option 'cloned_voices' must be a list, got 'grandma'"),
        (
            {"cloned_voices": ["grandma"]},
            "option 'cloned_voices' item 1 must be a mapping with the keys "
            "name, audio, transcript, language, got 'grandma'",
        ),
        (
            {"cloned_voices": [{"name": "a", "audio": "a.wav", "transcript": "A", "pitch": 2}]},
            "option 'cloned_voices' item 1: unknown key 'pitch'; "
            "the keys are: name, audio, transcript, language",
        ),
        (
            {"cloned_voices": [{"audio": "a.wav", "transcript": "A"}]},
            "option 'cloned_voices' item 1: 'name' must be a non-empty string, got None",
        ),
        (
            {"cloned_voices": [{"name": "../etc", "audio": "a.wav", "transcript": "A"}]},
            "option 'cloned_voices' item 1: 'name' must start with a letter or digit",
        ),
        (
            {"cloned_voices": [{"name": "a/b", "audio": "a.wav", "transcript": "A"}]},
            "option 'cloned_voices' item 1: 'name' must start with a letter or digit",
        ),
        (
            {"cloned_voices": [{"name": "a", "transcript": "A"}]},
            "option 'cloned_voices' item 1 ('a'): 'audio' must be a non-empty string, got None",
        ),
        (
            {"cloned_voices": [{"name": "a", "audio": "a.wav", "transcript": " "}]},
            "option 'cloned_voices' item 1 ('a'): 'transcript' must be a non-empty string, got ' '",
        ),
        (
            {
                "cloned_voices": [
                    {"name": "a", "audio": "a.wav", "transcript": "A", "language": "xx"}
                ]
            },
            "option 'cloned_voices' item 1 ('a'): 'language': language 'xx' is not supported",
        ),
        (
            {
                "cloned_voices": [
                    {"name": "a", "audio": "a.wav", "transcript": "A"},
                    {"name": "A", "audio": "b.wav", "transcript": "B"},
                ]
            },
            "option 'cloned_voices': the name 'A' is used twice",
        ),
        (
            {"styles": [{"name": "calm"}]},
            "option 'styles' item 1 ('calm'): 'instruct' must be a non-empty string, got None",
        ),
        (
            {"styles": [{"name": 5, "instruct": "x"}]},
            "option 'styles' item 1: 'name' must be a non-empty string, got 5",
        ),
        (
            {"styles": [{"name": "a", "instruct": "x"}, {"name": "a", "instruct": "y"}]},
            "option 'styles': the name 'a' is used twice",
        ),
        ({"speed": 3}, "option 'speed' must be a number from 0.5 to 2, got 3"),
        ({"sentence_silence": "long"}, "option 'sentence_silence' must be a number from 0 to 10"),
        (
            {"debug": True},
            "unknown option 'debug'; the options are: model_size, voice, language, "
            "cloned_voices, styles, device, dtype, quantize, speed, sentence_silence, prebuffer, "
            "max_prebuffer, remote_url, remote_token, debug_logging",
        ),
    ],
)
def test_wrong_options_are_clear_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as error:
        settings_from_options(options)
    assert str(error.value).startswith(message), str(error.value)


def test_json_file_and_relative_clips_next_to_it(tmp_path: Path) -> None:
    path = tmp_path / "options.json"
    path.write_text(json.dumps(FULL_OPTIONS))
    settings = settings_from_options(path)
    assert settings == settings_from_options(FULL_OPTIONS, voices_dir=tmp_path)
    assert settings.cloned_voices[0].audio == tmp_path / "grandma.wav"
    assert settings.cloned_voices[1].audio == Path("/clips/bob.flac")
    # with a voices folder, relative clips are found there instead
    voices = tmp_path / "voices"
    assert (
        settings_from_options(path, voices_dir=voices).cloned_voices[0].audio
        == voices / "grandma.wav"
    )


def test_yaml_file_and_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "options.yaml"
    path.write_text(yaml.safe_dump(FULL_OPTIONS))
    assert settings_from_options(path) == settings_from_options(FULL_OPTIONS, voices_dir=tmp_path)
    path.write_text("")
    assert settings_from_options(path) == settings_from_options({})


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "options.json",
            '{"voice": "ryan",\n "debug_logging": tru}',
            r"is not valid JSON \(line 2\)$",
        ),
        ("options.yaml", "voice: [ryan\nlanguage: en\n", r"is not valid YAML \(line 2\)$"),
        ("options.yaml", "- a\n- b\n", r"must hold a mapping of option names to values$"),
        ("options.json", "[]", r"must hold a mapping of option names to values$"),
    ],
)
def test_unreadable_files_are_clear_errors(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"^options file {path} {message}"):
        settings_from_options(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^options file .*nope\.json does not exist$"):
        settings_from_options(tmp_path / "nope.json")


# --- --options on the command line --------------------------------------------------------------


def write_options(tmp_path: Path, options: dict[str, Any]) -> Path:
    path = tmp_path / "options.json"
    path.write_text(json.dumps(options))
    return path


def settings_for(*argv: str) -> Settings:
    return settings_from_args(parse_args(list(argv)))


def test_options_flag_reads_the_file(tmp_path: Path) -> None:
    path = write_options(tmp_path, FULL_OPTIONS)
    assert settings_for("--options", str(path)) == settings_from_options(path)
    assert settings_for("serve", "--options", str(path)) == settings_from_options(path)


def test_explicit_flags_win_over_the_options_file(tmp_path: Path) -> None:
    path = write_options(tmp_path, FULL_OPTIONS)
    settings = settings_for(
        "--options",
        str(path),
        "--device",
        "cpu",
        "--voice",
        "ryan",
        "--custom-voice-model",
        "/models/cv",
        "--uri",
        "tcp://127.0.0.1:1234",
        "--no-zeroconf",
    )
    assert settings.device == "cpu"
    assert settings.voice == "ryan"
    assert settings.custom_voice_model == "/models/cv"
    assert settings.base_model == "Qwen/Qwen3-TTS-12Hz-1.7B-Base"  # from the file: not given
    assert settings.uri == "tcp://127.0.0.1:1234"
    assert settings.zeroconf_name is None
    assert settings.dtype == "bfloat16"
    assert settings.debug is True
    assert settings.language == "german"


def test_a_flag_equal_to_its_default_still_wins(tmp_path: Path) -> None:
    path = write_options(tmp_path, {"device": "cuda", "dtype": "float16", "language": "de"})
    settings = settings_for("--options", str(path), "--device", "auto", "--language=auto")
    assert settings.device == "auto"
    assert settings.language is None
    assert settings.dtype == "float16"


def test_flags_left_at_their_defaults_do_not_override(tmp_path: Path) -> None:
    path = write_options(tmp_path, {"device": "cpu", "debug_logging": True, "voice": ""})
    settings = settings_for("--options", str(path))
    assert (settings.device, settings.debug, settings.voice) == ("cpu", True, None)


def test_voices_dir_flag_places_relative_clips(tmp_path: Path) -> None:
    path = write_options(tmp_path, FULL_OPTIONS)
    settings = settings_for("--options", str(path), "--voices-dir", "/share/qwen_tts")
    assert settings.voices_dir == Path("/share/qwen_tts")
    assert settings.cloned_voices[0].audio == Path("/share/qwen_tts/grandma.wav")


def test_options_errors_reach_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wyoming_qwen_tts.cli.main import main

    path = write_options(tmp_path, {"debug_logging": "yes"})
    assert main(["--options", str(path)]) == 2
    assert capsys.readouterr().err == (
        "wyoming-qwen-tts: error: option 'debug_logging' must be a boolean, got 'yes'\n"
    )


def test_given_fields_names_only_what_was_given() -> None:
    assert given_fields(parse_args([])) == frozenset()
    given = given_fields(
        parse_args(["--device", "auto", "--no-zeroconf", "--zeroconf-interface", "x"])
    )
    assert given == {"device", "zeroconf_name", "zeroconf_interfaces"}
    assert given_fields(parse_args(["--options", "f", "--debug"])) == {"debug"}
    assert given_fields(parse_args(["say", "hi", "-o", "-", "--seed", "1"])) == {"seed"}


def test_a_parsed_namespace_carries_what_was_given(tmp_path: Path) -> None:
    path = write_options(tmp_path, {"device": "cuda", "dtype": "float16"})
    args = parse_args(["--options", str(path), "--device", "cpu"])
    assert isinstance(args, argparse.Namespace)
    settings = settings_from_args(args)
    assert (settings.device, settings.dtype) == ("cpu", "float16")


# --- cloned voices from the options join those of the voices folder ---------------------------


def test_listed_voices_join_the_voices_folder(tmp_path: Path) -> None:
    share = tmp_path / "share"
    share.mkdir()
    write_reference(share / "grandma.wav", 2.0)
    write_reference(share / "bob-take2.wav", 2.0)
    # a voice already laid out the folder way, and one whose clip the options list under a name
    write_reference(share / "anna.wav", 2.0)
    (share / "anna.txt").write_text("Anna speaking.\n")
    (share / "anna.yaml").write_text("language: en\n")
    (share / "bob-take2.txt").write_text("A transcript the options replace.\n")
    options = {
        "cloned_voices": [
            {
                "name": "grandma",
                "audio": "grandma.wav",
                "transcript": "Guten Morgen.",
                "language": "de",
            },
            {"name": "Bob", "audio": "bob-take2.wav", "transcript": "Hi, Bob here."},
            {"name": "ghost", "audio": "missing.wav", "transcript": "Boo."},
        ]
    }
    settings = settings_from_options(options, voices_dir=share)
    voices, problems = collect_clone_voices(share, settings.listed_voices)
    assert problems == [f"cloned voice 'ghost': audio file {share / 'missing.wav'} does not exist"]
    by_name = {voice.name: voice for voice in voices}
    assert sorted(by_name) == ["Bob", "anna", "grandma"]
    assert by_name["grandma"].language == "german"
    assert by_name["grandma"].reference.transcript == "Guten Morgen."
    assert by_name["grandma"].reference.audio_path == share / "grandma.wav"
    assert by_name["Bob"].reference.transcript == "Hi, Bob here."
    assert by_name["Bob"].language is None
    assert by_name["anna"].language == "english"
    assert sorted(path.name for path in share.iterdir()) == [
        "anna.txt", "anna.wav", "anna.yaml", "bob-take2.txt", "bob-take2.wav", "grandma.wav"
    ]  # nothing is written into the user's folder  # fmt: skip


def test_listed_voices_without_a_voices_folder(tmp_path: Path) -> None:
    write_reference(tmp_path / "oma.wav", 2.0)
    settings = settings_from_options(
        {"cloned_voices": [{"name": "oma", "audio": "oma.wav", "transcript": "Hallo."}]},
        voices_dir=tmp_path,
    )
    voices, problems = collect_clone_voices(None, settings.listed_voices)
    assert problems == []
    assert [(v.name, v.reference.audio_path) for v in voices] == [("oma", tmp_path / "oma.wav")]


# --- the real server, started from an options file -----------------------------------------------


async def test_server_starts_from_an_options_file(
    tmp_path: Path, custom_voice_checkpoint: Path, base_checkpoint: Path
) -> None:
    share = tmp_path / "share"
    share.mkdir()
    write_reference(share / "oma.wav", 3.0)
    options = {
        "model_size": "0.6B",
        "voice": "oma",
        "language": "en",
        "cloned_voices": [
            {
                "name": "oma",
                "audio": "oma.wav",
                "transcript": "Hallo, hier ist Oma.",
                "language": "de",
            }
        ],
        "styles": [{"name": "bedtime", "instruct": "Speak softly."}],
        "device": "cpu",
        "dtype": "float32",
        "debug_logging": True,
    }
    path = write_options(tmp_path, options)
    # The checkpoints are local folders here: explicit flags win over the file's model_size.
    server = start_server(
        [
            "--uri",
            "tcp://127.0.0.1:0",
            "--no-zeroconf",
            "--custom-voice-model",
            str(custom_voice_checkpoint),
            "--base-model",
            str(base_checkpoint),
            "--voices-dir",
            str(share),
            "--options",
            str(path),
        ],
        tmp_path / "server.log",
    )
    try:
        async with AsyncTcpClient(server.host, server.port) as client:
            await client.write_event(Describe().event())
            info = Info.from_event((await read_until(client, ("info",), timeout=30))[-1])
        voices = {voice.name: voice for voice in info.tts[0].voices}
        assert set(voices) == {"vivian", "ryan", "ono_anna", "dylan", "oma"}
        assert voices["oma"].languages == ["de"]
        log = server.log()
        assert "(default: oma)" in log
        assert "DEBUG" in log  # debug_logging
    finally:
        server.stop()
