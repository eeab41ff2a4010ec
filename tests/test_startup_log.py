"""What a start prints, as a container's log shows it: no flash-attn banner, and each of the
Hub's warnings once."""

from __future__ import annotations

import subprocess
import sys

from .wyoming_server import REPO_ROOT, server_env


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=server_env(),
        timeout=120,
    )


def test_importing_qwen_tts_prints_no_flash_attn_banner() -> None:
    result = run_python(
        "from wyoming_qwen_tts.engine.compat import import_qwen_tts; import_qwen_tts()"
    )
    assert result.returncode == 0, result.stderr
    assert "flash" not in (result.stdout + result.stderr).lower()
    assert result.stdout == ""


def test_the_hubs_warnings_are_logged_once_in_the_servers_format() -> None:
    result = run_python(
        """
from wyoming_qwen_tts.cli.main import _setup_logging
from wyoming_qwen_tts.settings.settings import Settings

_setup_logging(Settings(log_format="%(levelname)s %(name)s: %(message)s"))
from huggingface_hub.utils import logging

logging.get_logger("huggingface_hub.utils._http").warning("Retrying in 1s [Retry 1/5].")
"""
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "WARNING huggingface_hub.utils._http: Retrying in 1s [Retry 1/5]."
    ]
