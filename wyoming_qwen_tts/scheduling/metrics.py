"""What the server has done, as Prometheus metrics: requests by interface and outcome, first-
audio time, audio produced, each model's speed, queue and batch, and the sentence cache.

Both the Wyoming handler and the HTTP side record requests here; the models' figures are read
from the scheduler when Prometheus scrapes.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from wyoming_qwen_tts.audio.pcm import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH
from wyoming_qwen_tts.audio.sentence_cache import SentenceCache
from wyoming_qwen_tts.scheduling.scheduler import Scheduler

FIRST_AUDIO_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4)

WYOMING = "wyoming"
HTTP = "http"


class SpeechMetrics:
    """The server's metrics, in a registry of their own (one per server)."""

    def __init__(
        self, scheduler: Scheduler | None = None, cache: SentenceCache | None = None
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "qwen_tts_requests",
            "Speech requests by interface and outcome (ok, error, cancelled)",
            ["interface", "outcome"],
            registry=self.registry,
        )
        self.first_audio = Histogram(
            "qwen_tts_first_audio_seconds",
            "From a request to its first audio",
            ["interface"],
            buckets=FIRST_AUDIO_BUCKETS,
            registry=self.registry,
        )
        self.audio = Counter(
            "qwen_tts_audio_seconds",
            "Seconds of audio sent",
            ["interface"],
            registry=self.registry,
        )
        if scheduler is not None:
            self.registry.register(_ModelCollector(scheduler))
        if cache is not None:
            self.registry.register(_CacheCollector(cache))

    def request_done(self, interface: str, outcome: str) -> None:
        self.requests.labels(interface, outcome).inc()

    def first_audio_after(self, interface: str, seconds: float) -> None:
        self.first_audio.labels(interface).observe(seconds)

    def audio_sent(self, interface: str, pcm_bytes: int) -> None:
        self.audio.labels(interface).inc(pcm_bytes / (SAMPLE_WIDTH * CHANNELS * SAMPLE_RATE))


class _ModelCollector(Collector):
    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler

    def collect(self) -> Iterator[Metric]:
        speed = GaugeMetricFamily(
            "qwen_tts_real_time_factor",
            "Audio seconds a model produced per second spent generating",
            labels=["model"],
        )
        waiting = GaugeMetricFamily(
            "qwen_tts_queue_depth", "Sentences waiting for a model", labels=["model"]
        )
        occupancy = GaugeMetricFamily(
            "qwen_tts_batch_occupancy",
            "Sentences in a model's batch, as a share of its capacity",
            labels=["model"],
        )
        for key, stats in self._scheduler.stats().items():
            model = str(key)
            seconds = stats.audio_bytes / (SAMPLE_WIDTH * CHANNELS * SAMPLE_RATE)
            speed.add_metric([model], seconds / stats.step_seconds if stats.step_seconds else 0.0)
            waiting.add_metric([model], stats.waiting)
            occupancy.add_metric([model], stats.active / stats.capacity if stats.capacity else 0.0)
        yield from (speed, waiting, occupancy)


class _CacheCollector(Collector):
    def __init__(self, cache: SentenceCache) -> None:
        self._cache = cache

    def collect(self) -> Iterator[Metric]:
        lookups = CounterMetricFamily(
            "qwen_tts_sentence_cache_lookups",
            "Sentence cache lookups by result (hit, miss)",
            labels=["result"],
        )
        lookups.add_metric(["hit"], self._cache.hits)
        lookups.add_metric(["miss"], self._cache.misses)
        size = GaugeMetricFamily("qwen_tts_sentence_cache_bytes", "Bytes the sentence cache holds")
        size.add_metric([], self._cache.size_bytes)
        yield from (lookups, size)
