"""Speech-ready text: markdown, URLs, emoji, numbers, times, dates and units, per language.

``normalize_for_speech(text, language)`` turns what an LLM or a Home Assistant automation writes
into what a person would say.  It runs on each sentence (or a whole text) before synthesis.

* It never raises: if a rule fails on some input (a bug), the text gets only the character and
  whitespace cleanup below, and a warning is logged.
* It is idempotent: normalizing its own output changes nothing.  One pass of the rules leaves a
  fixed point for realistic text; the pass is repeated (at most four times) until nothing
  changes, which also covers contrived input where removing one piece of markup forms another.
  With ``language=None`` each pass detects the language of its own input, so the result is a
  fixed point for the language it will be detected as.
* Text is NFC-normalized, so canonically equivalent characters may change code points.

Which rules
-----------
``language`` is the model's language name (``"english"``, ``"german"``, ...).  Number rules
exist for English, German, French, Spanish, Italian, Portuguese and Russian.  Chinese, Japanese
and Korean get only the cleanup below (the model reads digits natively), and so does any other
language name.  ``None`` (the server runs the model on Auto) means: detect it, cheaply, per call
(``detect_language``): any Han, kana or Hangul character picks Chinese, Japanese or Korean (so
the text passes through), mostly Cyrillic letters pick Russian, and Latin text is scored with a
few stopwords and accented letters, English when nothing stands out.  There is no separate
fallback parameter: when the server has a configured language, it passes that one.

Cleanup (every language)
------------------------
* Control, format, private-use and surrogate characters go; line breaks are unified.
* Emoji and pictographs (including flags, keycaps, skin tones, arrows and dingbats) go; the
  text around them stays.  Emoji-only text becomes ``""``.
* Markdown: a fenced code block is replaced by a short spoken phrase ("Code omitted.",
  "Code ausgelassen.", ...), since reading code aloud helps nobody; an unterminated fence drops
  everything after it.  Headings, blockquotes, bullets, numbered-list markers, task boxes,
  rules and table separator rows are removed; a table row becomes its cells joined by commas;
  ``**bold**``, ``*italic*``, ``__x__``, ``_x_``, ``~~x~~`` and backticks lose their marks (a
  lone ``*`` between digits becomes ``×``); ``[text](url)`` becomes ``text``, ``![alt](url)``
  becomes ``alt``; reference definitions, footnote marks and HTML tags go; ``<br>`` breaks a
  line; a few HTML entities are decoded.
* Lines become sentences: a heading, list item or table row, or a line followed by one that does
  not start in lowercase, gets a full stop when it has no closing punctuation (a sentence
  terminator or clause mark, possibly before closing quotes or brackets: the ones the sentence
  splitter knows); then all whitespace collapses to single spaces.
* URLs and e-mail addresses: only the host is spoken, with the language's word for the dot
  ("example dot com", "example Punkt com", "example point com"; Chinese/Japanese/Korean and
  other languages keep ``example.com``); scheme, ``www.``, port, path and query are dropped.
  Bare host names are recognized by ``www.`` or a common top-level domain.  In an e-mail
  address ``@`` is spoken too ("at", "arobase", "arroba", "chiocciola", "собака").

Numbers (English, German, French, Spanish, Italian, Portuguese, Russian)
-----------------------------------------------------------------------
Words come from num2words; only grammar (agreement, case endings, month and unit names) is
written here.  In order of precedence:

* Dates: ISO ``2026-11-25`` (a ``T`` time after it is read as a time), and, outside English,
  day-first ``25.11.2026`` and ``25/11/2026``.  English says "November twenty-fifth, twenty
  twenty-six"; German picks the ordinal ending from the word before it ("am
  fünfundzwanzigsten November", "der fünfundzwanzigste", else "fünfundzwanzigster"); Russian
  uses an ordinal and a genitive month and year ("двадцать пятое ноября две тысячи двадцать
  шестого года").  English slashed dates are ambiguous (US/UK) and stay numbers.
* Times ``H:MM`` and ``H:MM:SS`` (hours 0-24, minutes 0-59), plus ``7:30 Uhr``, ``7.30 Uhr``
  and ``7 Uhr`` in German, ``7h30``/``7 h``/``19h`` in French and Portuguese, ``7 am`` and
  ``7:30 PM`` in English.  English uses the 12-hour clock: "seven thirty", "seven oh five
  p.m." for ``19:05``, "seven thirty a.m." for a zero-padded ``07:30``, "twelve a.m." for
  ``00:00``.  German "sieben Uhr dreißig", French "sept heures trente" ("midi", "minuit"),
  Spanish "siete y treinta" / "siete en punto", Italian "sette e trenta", Portuguese "sete e
  trinta" / "sete horas", Russian "семь тридцать" / "семь ноль пять".
* Money: ``€ $ £ ₽`` before or after an amount: "three dollars and fifty cents", "drei Euro
  und fünfzig Cent", "une livre"; more than two decimals are read as a decimal number.
* Ordinals where the spelling says so: ``1st 2nd 21st``; French ``1er 1re 2e 2ème 2nd``;
  Spanish/Italian/Portuguese ``1º 1ª 1.º``; Russian ``1-й 2-го 25-е 2026-м``; English "November
  25" (the day after a month name), French ``1 novembre`` ("premier"), Russian ``25 ноября``.
  German ``3.`` is an ordinal only before a month or one of a few nouns that take ordinals
  (``Mal``, ``Platz``, ``Stock``, ``Tag``, ``Jahrhundert``, ...): "am 3. Oktober" -> "am
  dritten Oktober", "zum 2. Mal" -> "zum zweiten Mal"; any other ``3.`` is the cardinal at a
  sentence end ("Es sind 3." -> "Es sind drei.").  ``°`` after a number is always degrees,
  never the Italian/Spanish ordinal sign (use ``º``).
* Years: English reads 1100-2099 as a year ("twenty twenty-six", "nineteen ninety") after
  ``in``, ``since``, ``from``, ``until``, ``by``, ``of``, ``year``, ``before``, ``after``, a
  month name, or before ``AD``/``BC``; elsewhere it is a cardinal ("two thousand and
  twenty-six").  German does the same for 1100-1999 ("neunzehnhundertneunzig").  Russian
  ``2026 год/года/году/г.`` becomes an ordinal in the matching case.  The other languages read
  years as cardinals, which is how they are said.
* Quantities: an optional sign (``-``, ``−``, ``+`` before the number, not after a word), a
  number, an optional range (``10-15``, ``10–15``: "ten to fifteen", "zehn bis fünfzehn", "от
  десяти до пятнадцати") and an optional unit: ``°C ℃ °F ℉ ° % km/h mph kWh MWh Wh kW MW W mV V
  mA A mm cm km m m² m³ kg mg g ml l L hPa mbar ppm µg/m³ min h`` and their Russian spellings
  (``км/ч кВт·ч Вт гПа мин ч`` ...).  Units are case-sensitive and must not be followed by a
  letter (``5 mal`` is not meters).  The unit takes the singular or plural the number asks for
  (English/German/Spanish/Italian/Portuguese: singular for exactly 1; French: below 2; Russian:
  one/few/many, genitive singular after a fraction).
* Agreement: a whole number before a unit, a currency, a clock hour or one of a few nouns
  written out (the unit names, and words like hour, week, night, person, door) takes the form
  that goes with that noun's gender: "eine Kilowattstunde", "ein Uhr", "une heure", "una
  hora", "veintiún euros", "duas horas", "одна минута"; German uses the dative after a
  preposition ("seit einer Stunde"), Italian elides ("un'ora").  Before any other word, and
  in other cases than these, num2words' own form is used.
* Number formats: English ``1,000`` and ``21.5``.  Elsewhere the decimal comma ``21,5``,
  thousands dots ``1.000``/``1.234.567,89`` and thousands spaces ``1 000``; everywhere a
  no-break or thin space between three-digit groups.  A dot that is not followed by exactly
  three-digit groups is a decimal point, so German ``21.5`` is "einundzwanzig Komma fünf" but
  ``21.500`` is 21500.  English and German read decimals digit by digit ("point zero five",
  "Komma null fünf"); French, Spanish, Italian and Portuguese read them as a number ("virgule
  cinquante"); Spanish says "coma" or "punto" after how it was written; Russian uses
  num2words' fractions ("двадцать одна целая пять десятых").  Three or more dotted parts that
  are not thousands (``1.2.3``, ``192.168.1.1``) are read part by part with the word for "dot".
* A number written with a leading zero (``007``, ``0800``) is read digit by digit.  A number
  glued to a letter or ``@`` (``3D``, ``H2O``, ``PM2.5``, ``x2026-11-25``) or followed by a dot
  and a letter or digit (part of a dotted name) is left alone.  ``#5``, ``№5``, ``No. 5`` and
  ``Nr. 5`` say "number five".  ``&`` between words becomes "and" in the language.
* Whatever num2words cannot say (a number over 15 digits, an unknown form) keeps its digits.

Streaming
---------
Sentence splitting cuts a fenced code block into pieces that no longer look like code, so a
caller that splits streamed text should pass the raw chunks through ``CodeBlockFilter`` first;
it replaces each block by the same phrase and passes everything else through unchanged.

Not handled: phone numbers (read as cardinals or ranges), Roman numerals, fractions like
``1/2``, magnitude words after money (``$5 million``), grammatical case beyond the cases above
(Russian "1 минуту" stays "один минуту"), and markdown nested more than ten levels deep.

Modules
-------
This module holds the pipeline.  ``cleanup`` (characters, whitespace), ``markup`` (markdown,
HTML, lines), ``addresses`` (URLs, e-mail), ``passes`` (which number pattern goes to which
handler), ``dates`` (dates, times, ordinals), ``quantities`` (units, money, ranges, years),
``numerals`` (numbers in words), ``words`` (the per-language tables), ``detect`` (language
detection) and ``codeblocks`` (``CodeBlockFilter``).  Scripts, punctuation, abbreviations and
month names shared with the sentence splitter are in ``wyoming_qwen_tts.text.lexicon``.
"""

from __future__ import annotations

import logging

from wyoming_qwen_tts.text.normalize.cleanup import clean_characters, tidy
from wyoming_qwen_tts.text.normalize.codeblocks import CodeBlockFilter
from wyoming_qwen_tts.text.normalize.detect import detect_language
from wyoming_qwen_tts.text.normalize.markup import strip_markdown
from wyoming_qwen_tts.text.normalize.passes import speak_numbers
from wyoming_qwen_tts.text.normalize.words import LANGS, language_name

__all__ = ["detect_language", "normalize_for_speech", "CodeBlockFilter"]

_LOG = logging.getLogger(__name__)

_MAX_STEPS = 4


def normalize_for_speech(text: str, language: str | None) -> str:
    """Text as it should be spoken in ``language`` (a model language name; None: detect)."""
    try:
        return _normalize(text, language)
    except Exception:  # a bug here must never cost the user the whole answer
        _LOG.warning("Text normalization failed; speaking it with basic cleanup", exc_info=True)
        try:
            return tidy(clean_characters(text))
        except Exception:
            return text if isinstance(text, str) else ""


def _normalize(text: str, language: str | None) -> str:
    name = language_name(language)
    # One step leaves a fixed point for all but contrived input (markup split across lines,
    # markers that only form after others are removed); a second step confirms it.  Detection
    # looks at each step's input, so that the result is a fixed point for its own language.
    for _ in range(_MAX_STEPS):
        spoken = _normalize_step(text, name or detect_language(text) or "english")
        if spoken == text:
            break
        text = spoken
    return text


def _normalize_step(text: str, name: str) -> str:
    text = clean_characters(text)
    text = strip_markdown(text, name)
    lang = LANGS.get(name)
    if lang is not None:
        text = speak_numbers(text, lang)
    return tidy(text)
