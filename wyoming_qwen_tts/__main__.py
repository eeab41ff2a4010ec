"""``python -m wyoming_qwen_tts``: the command line (see ``cli.main``)."""

from wyoming_qwen_tts.cli.main import run

if __name__ == "__main__":
    run()
