"""Text as it is spoken: fenced code removed, cut into sentences, each normalized for speech.

Text arrives whole (a one-shot synthesize, ``say``) or in chunks (Home Assistant's streaming
path, an LLM writing); both go the same way:

1. ``CodeBlockFilter`` replaces fenced code blocks by a short phrase. It runs first, because
   sentence splitting would cut a block into pieces that no longer look like code.
2. ``SentenceStream`` cuts the text into sentences as soon as each is complete.
3. The pronunciation lexicon (``text.pronunciation``), where there is one, replaces its words.
4. ``normalize_for_speech`` turns each sentence into what a person would say (markdown, URLs,
   emoji, numbers, times, units), in the voice's language, or the detected one. A sentence
   that becomes empty (an emoji, a stray bullet) is skipped.

The model and its frame budget then see the normalized sentence.
"""

from __future__ import annotations

from wyoming_qwen_tts.text.normalize import CodeBlockFilter, normalize_for_speech
from wyoming_qwen_tts.text.pronunciation import Lexicon
from wyoming_qwen_tts.text.sentences import SentenceStream

_NO_LEXICON = Lexicon()


class SpokenSentences:
    """Incremental: ``feed`` returns the sentences the text so far completes, ``flush`` the rest,
    each ready to be spoken (normalized, never empty)."""

    def __init__(self, language: str | None, lexicon: Lexicon = _NO_LEXICON) -> None:
        """``language`` is the model's language name; None means detect it per sentence."""
        self._language = language
        self._lexicon = lexicon
        self._code = CodeBlockFilter(language)
        self._sentences = SentenceStream()

    def feed(self, chunk: str) -> list[str]:
        return self._spoken(self._sentences.feed(self._code.feed(chunk)))

    def flush(self) -> list[str]:
        rest = self._sentences.feed(self._code.flush())
        return self._spoken(rest + self._sentences.flush())

    def _spoken(self, sentences: list[str]) -> list[str]:
        spoken = (
            normalize_for_speech(self._lexicon.apply(sentence, self._language), self._language)
            for sentence in sentences
        )
        return [sentence for sentence in spoken if sentence.strip()]


def spoken_sentences(
    text: str, language: str | None, lexicon: Lexicon = _NO_LEXICON
) -> list[str]:
    """The sentences of a whole text, ready to be spoken."""
    stream = SpokenSentences(language, lexicon)
    return stream.feed(text) + stream.flush()
