"""Server settings: one frozen object whose fields are the option table.

Each field is declared once, with ``option``: its default, its flag and help, which commands
have it, whether the add-on's options file carries it, and how it is checked. The flags
(``settings.flags``), the options file (``settings.options_file``) and the README's
configuration table are generated from these declarations.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from wyoming_qwen_tts.settings.option import (  # fmt: skip
    DESIGN, MODELS, SERVE, SPEAKING, addon_boolean, addon_choice, addon_language, addon_number,
    addon_optional_string, addon_string, at_least, device_check, option, optional_model, options,
    port_check, positive_seconds, zero_or_more_seconds
)
from wyoming_qwen_tts.settings.delivery_options import (  # fmt: skip
    DEFAULT_TARGET_LUFS, MAX_SPEED, MIN_SPEED, LoudnessTarget, loudness_target, speed_check
)
from wyoming_qwen_tts.settings.cache_paths import CachePaths
from wyoming_qwen_tts.settings.model_options import (  # fmt: skip
    DEFAULT_BASE_MODEL, DEFAULT_CUSTOM_VOICE_MODEL, DEFAULT_VOICE_DESIGN_MODEL, DTYPES,
    MAX_PREBUFFER, PREBUFFER_MODES, QUANTIZE_SCHEMES, model_of_size, prebuffer_check
)
from wyoming_qwen_tts.settings.remote_options import addon_remote_urls, remote_urls
from wyoming_qwen_tts.settings.voice_options import read_cloned_voices, read_styles
from wyoming_qwen_tts.text.languages import model_language
from wyoming_qwen_tts.voices.styles import Style
from wyoming_qwen_tts.voices.voice import ClonedVoice, Voice

DEFAULT_URI = "tcp://0.0.0.0:10200"
DEFAULT_ZEROCONF_NAME = "qwen3-tts"
_LIMITS = "limits"
_DELIVERY = "speech: speed, pauses, loudness, pronunciation, repeats"
_HTTP = "HTTP: web page and speech API"
_REMOTE = "remote engines: vLLM-Omni or other servers of ours"


@dataclass(frozen=True)
class Settings(CachePaths):
    uri: str = option(
        DEFAULT_URI,
        "where to listen: `tcp://HOST:PORT`, `unix://PATH` or `stdio://`",
        flag="--uri",
    )
    custom_voice_model: str | None = option(
        DEFAULT_CUSTOM_VOICE_MODEL,
        "Hugging Face id or local folder of a CustomVoice checkpoint (premium speakers); "
        "`none` disables premium voices",
        flag="--custom-voice-model",
        commands=SPEAKING,
        convert=optional_model,
        addon="model_size",
        addon_default="0.6B",
        from_addon=model_of_size(0),
    )
    base_model: str | None = option(
        DEFAULT_BASE_MODEL,
        "Base checkpoint for cloned voices; loaded only when `--voices-dir` holds voices; "
        "`none`: cloned voices go to a remote, or are not offered",
        flag="--base-model",
        commands=SPEAKING,
        convert=optional_model,
        addon="model_size",
        addon_default="0.6B",
        from_addon=model_of_size(1),
    )
    voice_design_model: str = option(
        DEFAULT_VOICE_DESIGN_MODEL,
        "VoiceDesign checkpoint (Hugging Face id or folder) that `voice design` renders with",
        flag="--voice-design-model",
        commands=frozenset({SERVE, DESIGN}),
    )
    voices_dir: Path | None = option(
        None,
        "folder of cloned voices: `NAME.wav` + `NAME.txt` [+ `NAME.yaml`] (below)",
        flag="--voices-dir",
        commands=SPEAKING,
        parse=Path,
    )
    voices_poll_interval: float = option(
        5.0,
        "seconds between looks at `--voices-dir` for added, changed or removed voices; 0: never",
        flag="--voices-poll-interval",
        parse=float,
        metavar="SECONDS",
        check=zero_or_more_seconds,
    )
    voice: str | None = option(
        None,
        "the voice used when a request names none",
        flag="--voice",
        commands=SPEAKING,
        shown_default="first voice",
        addon="voice",
        addon_default="ryan",
        from_addon=addon_optional_string,
    )
    language: str | None = option(
        None,
        "language for voices without their own: `en`, `de`, `zh`, ... or `auto`",
        flag="--language",
        commands=SPEAKING,
        convert=model_language,
        shown_default="`auto`",
        addon="language",
        addon_default="auto",
        from_addon=addon_language,
    )
    cloned_voices: tuple[ClonedVoice, ...] = option(
        (),
        "cloned voices listed one by one (name, audio, transcript, language), besides those "
        "in the voices dir",
        addon="cloned_voices",
        addon_default=[],
        from_addon=read_cloned_voices,
    )
    styles: tuple[Style, ...] = option(
        (),
        "style presets (name, instruct) offered besides the built-in ones",
        addon="styles",
        addon_default=[],
        from_addon=read_styles,
    )
    device: str = option(
        "auto",
        "`auto` (CUDA, then MPS, then CPU), `cpu`, `cuda`, `cuda:N`, `mps`",
        flag="--device",
        commands=MODELS,
        check=device_check,
        addon="device",
        addon_default="auto",
        from_addon=addon_string,
    )
    dtype: str = option(
        "auto",
        "`auto` (bfloat16 on GPU, float32 on CPU), `float32`, `bfloat16`, `float16`",
        flag="--dtype",
        commands=MODELS,
        choices=DTYPES,
        addon="dtype",
        addon_default="auto",
        from_addon=addon_choice(DTYPES),
    )
    quantize: str = option(
        "none",
        "CPU only: `int8` or `int4` weights for the talker and code predictor, faster and "
        "smaller, but no longer upstream's exact output; `none`",
        flag="--quantize",
        commands=MODELS,
        choices=QUANTIZE_SCHEMES,
        addon="quantize",
        addon_default="none",
        from_addon=addon_choice(QUANTIZE_SCHEMES),
    )
    zeroconf_name: str | None = option(
        DEFAULT_ZEROCONF_NAME,
        "advertise over mDNS as NAME (tcp:// only)",
        flag="--zeroconf",
        kind="optional_value",
        const=DEFAULT_ZEROCONF_NAME,
        metavar="NAME",
        negation="--no-zeroconf",
        negation_help="do not advertise",
        shown_default=f"on, `{DEFAULT_ZEROCONF_NAME}`",
    )
    zeroconf_host: str | None = option(
        None,
        "the address to advertise instead of the bound one (Docker bridge, NAT)",
        flag="--zeroconf-host",
        shown_default="bound address",
    )
    zeroconf_interfaces: tuple[str, ...] | None = option(
        None,
        "limit mDNS to the interface with this address (repeatable)",
        flag="--zeroconf-interface",
        kind="append",
        metavar="ADDRESS",
        convert=tuple,
        shown_default="all",
    )
    speed: float = option(
        1.0,
        "speaking rate of voices without their own `speed:`, 0.5 to 2.0 (pitch is kept); 1: the "
        "model's own",
        flag="--speed",
        commands=SPEAKING,
        group=_DELIVERY,
        parse=float,
        metavar="FACTOR",
        check=speed_check,
        addon="speed",
        addon_default=1.0,
        from_addon=addon_number(MIN_SPEED, MAX_SPEED),
    )
    sentence_silence: float = option(
        0.0,
        "seconds of silence between sentences, for voices without their own "
        "`sentence_silence:`",
        flag="--sentence-silence",
        commands=SPEAKING,
        group=_DELIVERY,
        parse=float,
        metavar="SECONDS",
        check=zero_or_more_seconds,
        addon="sentence_silence",
        addon_default=0.0,
        from_addon=addon_number(0.0, 10.0),
    )
    loudness_target: LoudnessTarget = option(
        None,
        "LUFS every voice is brought to, or `off`; unset: cloned voices are brought to "
        f"{DEFAULT_TARGET_LUFS:g} LUFS and premium voices keep the model's level",
        flag="--loudness-target",
        commands=SPEAKING,
        group=_DELIVERY,
        convert=loudness_target,
        metavar="LUFS",
        shown_default="cloned voices only",
    )
    lexicon: Path | None = option(
        None,
        "pronunciation file of whole-word replacements (DOCS.md), reloaded when it changes",
        flag="--lexicon",
        commands=SPEAKING,
        group=_DELIVERY,
        parse=Path,
        metavar="FILE",
        shown_default="`lexicon.yaml` in `--voices-dir`",
    )
    audio_cache_mb: int = option(
        256,
        "megabytes of spoken sentences kept on disk, so that a repeated sentence is played at "
        "once and sounds the same; 0: off",
        flag="--audio-cache-mb",
        group=_DELIVERY,
        parse=int,
        metavar="MB",
        check=at_least(0),
    )
    samples_per_chunk: int = option(
        1024,
        "samples per `audio-chunk` event",
        flag="--samples-per-chunk",
        parse=int,
        check=at_least(1),
    )
    max_batch: int = option(
        8,
        "sentences generated together per model, one per answer: the rooms served at once",
        flag="--max-batch",
        parse=int,
        check=at_least(1),
    )
    prebuffer: str = option(
        "auto",
        "`auto`: on a model slower than real time, hold a sentence's first audio until the "
        "rest can follow without a gap; `off`: send audio as it comes",
        flag="--prebuffer",
        commands=SPEAKING,
        choices=PREBUFFER_MODES,
        addon="prebuffer",
        addon_default="auto",
        from_addon=addon_choice(PREBUFFER_MODES),
    )
    max_prebuffer: float = option(
        3.0,
        f"the longest silence prebuffering may leave a client in, 0 to {MAX_PREBUFFER:g} "
        "seconds (satellites give up after about 5)",
        flag="--max-prebuffer",
        commands=SPEAKING,
        parse=float,
        metavar="SECONDS",
        check=prebuffer_check,
        addon="max_prebuffer",
        addon_default=3.0,
        from_addon=addon_number(0.0, MAX_PREBUFFER),
    )
    max_text_chars: int = option(
        10_000,
        "characters in one request: one `synthesize` (a stream has no total limit)",
        flag="--max-text",
        group=_LIMITS,
        parse=int,
        metavar="CHARS",
        check=at_least(1),
    )
    max_sentences: int = option(
        200,
        "sentences of one request waiting or being spoken; past it the server stops reading "
        "that connection until one is spoken",
        flag="--max-sentences",
        group=_LIMITS,
        parse=int,
        check=at_least(1),
    )
    max_connections: int = option(
        64,
        "open connections; more are answered \"server busy\"",
        flag="--max-connections",
        group=_LIMITS,
        parse=int,
        check=at_least(1),
    )
    max_event_bytes: int = option(
        256 * 1024,
        "JSON data in one event, checked before it is read",
        flag="--max-event-bytes",
        group=_LIMITS,
        parse=int,
        metavar="BYTES",
        check=at_least(1),
    )
    idle_timeout: float = option(
        120.0,
        "seconds a connection may stay silent while nothing is being spoken to it",
        flag="--idle-timeout",
        group=_LIMITS,
        parse=float,
        metavar="SECONDS",
        check=positive_seconds,
    )
    http_port: int | None = option(
        None,
        "serve the web page and the OpenAI-compatible speech API on this port (below)",
        flag="--http-port",
        group=_HTTP,
        parse=int,
        metavar="PORT",
        check=port_check,
        shown_default="off",
    )
    http_host: str = option(
        "0.0.0.0",
        "the address the HTTP side listens on",
        flag="--http-host",
        group=_HTTP,
        metavar="HOST",
    )
    http_token: str | None = option(
        None,
        "the API key every HTTP endpoint but `/health` asks for, as `Authorization: Bearer TOKEN`",
        flag="--http-token",
        group=_HTTP,
        metavar="TOKEN",
        env="WYOMING_QWEN_TTS_HTTP_TOKEN",
    )
    http_no_auth: bool = option(
        False,
        "allow the HTTP side on an address other than loopback without a token",
        flag="--http-no-auth",
        group=_HTTP,
        kind="switch",
    )
    http_allow: tuple[str, ...] | None = option(
        None,
        "accept HTTP connections only from this address (repeatable; the add-on's ingress "
        "proxy)",
        flag="--http-allow",
        group=_HTTP,
        kind="append",
        metavar="ADDRESS",
        convert=tuple,
        shown_default="any",
    )
    max_upload_bytes: int = option(
        20 * 1024 * 1024,
        "bytes in one voice upload over HTTP, refused before they are buffered",
        flag="--max-upload-bytes",
        group=_HTTP,
        parse=int,
        metavar="BYTES",
        check=at_least(1),
    )
    remote_urls: tuple[str, ...] = option(
        (),
        "base URL of an OpenAI-compatible speech API that speaks for this server, such as "
        "`http://gpu-box:8091/v1` (repeatable); with one and no model flags, no model is "
        "loaded here",
        flag="--remote-url",
        commands=SPEAKING,
        group=_REMOTE,
        kind="append",
        metavar="URL",
        convert=remote_urls,
        shown_default="none",
        addon="remote_url",
        addon_default="",
        from_addon=addon_remote_urls,
    )
    remote_token: str | None = option(
        None,
        "the API key the remotes ask for, sent as `Authorization: Bearer TOKEN`",
        flag="--remote-token",
        commands=SPEAKING,
        group=_REMOTE,
        metavar="TOKEN",
        env="WYOMING_QWEN_TTS_REMOTE_TOKEN",
        addon="remote_token",
        addon_default="",
        from_addon=addon_optional_string,
    )
    remote_timeout: float = option(
        5.0,
        "seconds a remote may take to send a sentence's first audio, or stay silent within "
        "it; then the sentence fails (or goes to another remote)",
        flag="--remote-timeout",
        commands=SPEAKING,
        group=_REMOTE,
        parse=float,
        metavar="SECONDS",
        check=positive_seconds,
    )
    remote_max_requests: int = option(
        8,
        "sentences sent to one remote at once; more wait here, fairly between rooms",
        flag="--remote-max-requests",
        group=_REMOTE,
        parse=int,
        check=at_least(1),
    )
    data_dir: Path | None = option(
        None,
        "where models are downloaded",
        flag="--data-dir",
        commands=MODELS,
        parse=Path,
        shown_default="Hugging Face cache",
    )
    cache_dir: Path | None = option(
        None,
        "where prepared cloned voices (`prompts/`) and quantized weights (`quantized/`) are "
        "kept; the image uses "
        "`/data/cache/wyoming-qwen-tts`",
        flag="--cache-dir",
        commands=MODELS,
        parse=Path,
        shown_default="`$XDG_CACHE_HOME/wyoming-qwen-tts`, else `~/.cache/wyoming-qwen-tts`",
    )
    local_files_only: bool = option(
        False,
        "never download; use the cache or local folders",
        flag="--local-files-only",
        commands=MODELS,
        kind="switch",
    )
    seed: int | None = option(
        None,
        "seed every sentence, for reproducible speech (with CUDA graphs only the first "
        "codebook follows the seed exactly; see Performance)",
        flag="--seed",
        commands=MODELS,
        parse=int,
    )
    debug: bool = option(
        False,
        "log at DEBUG level, including per-sentence timings",
        flag="--debug",
        commands=MODELS,
        kind="switch",
        addon="debug_logging",
        addon_default=False,
        from_addon=addon_boolean,
    )
    log_format: str = option(
        logging.BASIC_FORMAT,
        "logging format",
        flag="--log-format",
        commands=MODELS,
        shown_default="Python's basic format",
    )

    @property
    def listed_voices(self) -> list[Voice]:
        """The cloned voices named in the options, as voices."""
        return [voice.as_voice() for voice in self.cloned_voices]

    @property
    def lexicon_path(self) -> Path | None:
        """``--lexicon``, else ``lexicon.yaml`` in the voices dir, else None."""
        if self.lexicon is not None:
            return self.lexicon
        return self.voices_dir / "lexicon.yaml" if self.voices_dir is not None else None


OPTIONS = options(Settings)
"""The option table: every field of ``Settings``, in order."""
