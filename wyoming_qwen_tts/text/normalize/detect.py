"""Language detection: which model language a text is written in, cheaply, per call.

Any kana or Hangul character picks Japanese or Korean (whichever comes first), else any Han
character, CJK punctuation or fullwidth form picks Chinese; then mostly Cyrillic letters pick
Russian, and Latin text is scored with a few stopwords and accented letters, English when
nothing stands out.
"""

from __future__ import annotations

import re

from wyoming_qwen_tts.text.lexicon import (
    CJK_PUNCTUATION_RANGES,
    CYRILLIC_RANGES,
    HAN_RANGES,
    HANGUL_RANGES,
    KANA_RANGES,
    LATIN_RANGES,
    char_class,
)

_STOPWORDS = {
    "english": """the a an is are was were it it's its this that and or of to in on at for with
        you your we be not no outside today tomorrow will has have there what how""",
    "german": """der die das und ist sind nicht ein eine es im um uhr mit auf für den dem des zu
        von bei heute morgen draußen ich du wir sie wird hat noch auch""",
    "french": """le la les et est sont une un des il elle fait à au aux pour dans du ce cette
        avec sur pas dehors aujourd'hui demain je vous nous c'est qui""",
    "spanish": """el la los las y es son una un del que por para con en hay está hace fuera
        hoy mañana yo usted muy""",
    "italian": """il lo la gli le e è sono una un del della che per con ci fa fuori oggi domani
        io alle sei non""",
    "portuguese": """o a os as e é são uma um do da que para com em está faz fora hoje amanhã
        eu você às não""",
}
_STOPWORD_SETS = {name: frozenset(words.split()) for name, words in _STOPWORDS.items()}
_LETTER_HINTS = {
    "german": "äöüß",
    "french": "êâîôûëïœçèùà",
    "spanish": "ñ¿¡áíóú",
    "italian": "ìòèùà",
    "portuguese": "ãõçêâôá",
}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
# The first kana or Hangul character decides between Japanese and Korean.
_KANA_OR_HANGUL = re.compile(f"(?P<kana>{char_class(KANA_RANGES)})|{char_class(HANGUL_RANGES)}")
_HAN_OR_CJK_PUNCTUATION = re.compile(char_class(HAN_RANGES, CJK_PUNCTUATION_RANGES))
_CYRILLIC = re.compile(char_class(CYRILLIC_RANGES))
_LATIN = re.compile(char_class(LATIN_RANGES))


def detect_language(text: str) -> str | None:
    """A cheap guess of the model language name of ``text``; None when it has no letters."""
    cjk = _KANA_OR_HANGUL.search(text)
    if cjk is not None:
        return "japanese" if cjk["kana"] else "korean"
    if _HAN_OR_CJK_PUNCTUATION.search(text):
        return "chinese"
    cyrillic = sum(ch.isalpha() for ch in _CYRILLIC.findall(text))
    latin = sum(ch.isalpha() for ch in _LATIN.findall(text))
    if cyrillic == 0 and latin == 0:
        return None
    if cyrillic > latin:
        return "russian"
    lowered = text.lower()
    scores = dict.fromkeys(_STOPWORD_SETS, 0)
    for word in _WORD.findall(lowered):
        word = word.replace("’", "'")
        for name, words in _STOPWORD_SETS.items():
            if word in words:
                scores[name] += 1
    for name, letters in _LETTER_HINTS.items():
        scores[name] += 2 * sum(lowered.count(ch) for ch in letters)
    best = max(scores.values())
    winners = [name for name, score in scores.items() if score == best]
    if best == 0 or "english" in winners or len(winners) > 1:
        return "english"
    return winners[0]
