# One image for the Home Assistant add-on and for a standalone GPU box.
#
# Base: Home Assistant's Debian base image. It is multi-platform (amd64, aarch64), so a plain
# `docker build .` and the Supervisor's build (`--platform` from config.yaml's arch, no
# BUILD_FROM since there is no build.yaml) both get the right one. It carries s6-overlay and
# bashio, which the add-on's services use, and glibc, which torch's wheels need (Alpine's musl
# has none). On a GPU box the CUDA libraries come inside the CUDA torch wheels and the driver
# from the NVIDIA container toolkit, so the same base serves there too.
ARG BUILD_FROM=ghcr.io/home-assistant/base-debian:trixie
FROM ${BUILD_FROM}

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Passed by the Supervisor and by Home Assistant's builder: the add-on's version.
ARG BUILD_VERSION

# torch is pinned and installed first, from the CPU wheel index by default (a Home Assistant
# host has no GPU). The GPU box's compose file passes a CUDA index instead, for example
# --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG QWEN_TTS_VERSION=0.1.1

# Model downloads and other caches live in /data: the add-on's persistent folder (and the
# GPU box's volume), so a restart downloads nothing and recomputes no cloned voice's prompt
# (XDG_CACHE_HOME: /data/cache/wyoming-qwen-tts/prompts). config.yaml keeps them out of backups.
# The Hub's progress bars are carriage-return redraws, unreadable in a container log; the
# server logs a line every 10 s while a model downloads instead.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:${PATH} \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/data/models \
    XDG_CACHE_HOME=/data/cache \
    HF_HUB_DISABLE_PROGRESS_BARS=1 \
    HF_HUB_DISABLE_TELEMETRY=1

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv "${VIRTUAL_ENV}"

RUN pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"

# This package from the build context, then qwen-tts without its declared dependencies, last
# (as script/setup does; before it, pip's resolver prints an ERROR). Dropped are gradio (its demo
# only), torchaudio, sox and onnxruntime (its 25 Hz tokenizer only; PyPI's torchaudio pins
# another torch build) and librosa (this package has the two functions of it that qwen-tts
# calls). This package lists what qwen-tts really uses. `pip check` then reports exactly those
# five as missing; anything else it reports fails the build. qwen-tts's demo needs gradio: gone.
COPY pyproject.toml README.md /tmp/wyoming-qwen-tts/
COPY wyoming_qwen_tts /tmp/wyoming-qwen-tts/wyoming_qwen_tts
RUN pip install --no-cache-dir /tmp/wyoming-qwen-tts \
    && pip install --no-cache-dir --no-deps "qwen-tts==${QWEN_TTS_VERSION}" \
    && rm -rf /tmp/wyoming-qwen-tts "${VIRTUAL_ENV}/bin/qwen-tts-demo" \
    && { pip check > /tmp/pip-check.txt || true; } \
    && ! grep -v -E "^qwen-tts [0-9.]+ requires (gradio|torchaudio|sox|onnxruntime|librosa), which is not installed\.$" /tmp/pip-check.txt \
    && rm /tmp/pip-check.txt \
    && wyoming-qwen-tts --version

COPY addon/rootfs /
RUN chmod a+x /usr/local/bin/qwen-tts-entrypoint /etc/s6-overlay/s6-rc.d/*/run \
    /etc/s6-overlay/s6-rc.d/qwen-tts/finish

# No arguments (the Supervisor): the add-on's s6 services. Arguments: the server with them,
# e.g. `docker run IMAGE --voices-dir /voices`.
ENTRYPOINT ["/usr/local/bin/qwen-tts-entrypoint"]

# A Describe round trip, not just an open port, to the address the server announced (whatever
# --uri it was given). The long start period covers the first start's model download; the
# first success ends it.
HEALTHCHECK --start-period=60m --interval=30s --timeout=15s --retries=3 \
    CMD ["/opt/venv/bin/wyoming-qwen-tts", "health", "--timeout", "10"]

# io.hass.version and io.hass.arch come from the Supervisor's build and Home Assistant's
# builder, which set them from the add-on's version and the platform built.
LABEL \
    io.hass.type="app" \
    io.hass.name="Qwen3-TTS" \
    io.hass.description="Text to speech with Qwen3-TTS over the Wyoming protocol: premium and cloned voices, streamed while they are generated" \
    io.hass.url="https://github.com/wyoming-qwen-tts/wyoming-qwen-tts" \
    org.opencontainers.image.title="wyoming-qwen-tts" \
    org.opencontainers.image.description="Wyoming text-to-speech server on Qwen3-TTS" \
    org.opencontainers.image.source="https://github.com/wyoming-qwen-tts/wyoming-qwen-tts" \
    org.opencontainers.image.licenses="Apache-2.0" \
    org.opencontainers.image.version="${BUILD_VERSION}"
