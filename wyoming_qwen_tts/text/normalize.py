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
  not start in lowercase, gets a full stop when it has no closing punctuation; then all
  whitespace collapses to single spaces.
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
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from num2words import num2words

__all__ = ["detect_language", "normalize_for_speech", "CodeBlockFilter"]

_LOG = logging.getLogger(__name__)

_MAX_INT_DIGITS = 15
_MAX_FRACTION_DIGITS = 6
_MAX_NESTING = 10
_MAX_STEPS = 4


# ---------------------------------------------------------------------------------------------
# Per-language words
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lang:
    name: str
    code: str  # num2words language code
    dot: str
    at: str
    minus: str
    plus: str
    and_: str
    to: str
    number: str
    point: str
    point_dot: str  # Spanish says "punto" for a written dot, "coma" for a comma
    digitwise_fraction: bool
    code_phrase: str
    months: tuple[str, ...]
    currency_and: str


# fmt: off
_LANGS: dict[str, _Lang] = {
    lang.name: lang
    for lang in (
        _Lang(
            "english", "en", "dot", "at", "minus", "plus", "and", "to", "number", "point",
            "point", True, "Code omitted.",
            ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"),
            "and",
        ),
        _Lang(
            "german", "de", "Punkt", "at", "minus", "plus", "und", "bis", "Nummer", "Komma",
            "Komma", True, "Code ausgelassen.",
            ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
             "September", "Oktober", "November", "Dezember"),
            "und",
        ),
        _Lang(
            "french", "fr", "point", "arobase", "moins", "plus", "et", "à", "numéro",
            "virgule", "virgule", False, "Code omis.",
            ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre"),
            "et",
        ),
        _Lang(
            "spanish", "es", "punto", "arroba", "menos", "más", "y", "a", "número", "coma",
            "punto", False, "Código omitido.",
            ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
             "septiembre", "octubre", "noviembre", "diciembre"),
            "con",
        ),
        _Lang(
            "italian", "it", "punto", "chiocciola", "meno", "più", "e", "a", "numero",
            "virgola", "virgola", False, "Codice omesso.",
            ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
             "settembre", "ottobre", "novembre", "dicembre"),
            "e",
        ),
        _Lang(
            "portuguese", "pt", "ponto", "arroba", "menos", "mais", "e", "a", "número",
            "vírgula", "vírgula", False, "Código omitido.",
            ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
             "setembro", "outubro", "novembro", "dezembro"),
            "e",
        ),
        _Lang(
            "russian", "ru", "точка", "собака", "минус", "плюс", "и", "до", "номер", "", "",
            False, "Код опущен.",
            ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
             "сентября", "октября", "ноября", "декабря"),
            "",
        ),
    )
}

_CJK_CODE_PHRASES = {
    "chinese": "代码已省略。",
    "japanese": "コードは省略します。",
    "korean": "코드는 생략합니다.",
}
_CODE_PHRASE_OTHER = "Code omitted."

# "sg|pl" (Russian "one|few|many"), one form when invariant; an optional "f:" or "n:" prefix
# gives the grammatical gender (default masculine), which the number before it agrees with.
_UNIT_NAMES: dict[str, dict[str, str]] = {
    "celsius": {
        "en": "degree Celsius|degrees Celsius", "de": "n:Grad Celsius",
        "fr": "degré Celsius|degrés Celsius", "es": "grado Celsius|grados Celsius",
        "it": "grado Celsius|gradi Celsius", "pt": "grau Celsius|graus Celsius",
        "ru": "градус Цельсия|градуса Цельсия|градусов Цельсия",
    },
    "fahrenheit": {
        "en": "degree Fahrenheit|degrees Fahrenheit", "de": "n:Grad Fahrenheit",
        "fr": "degré Fahrenheit|degrés Fahrenheit", "es": "grado Fahrenheit|grados Fahrenheit",
        "it": "grado Fahrenheit|gradi Fahrenheit", "pt": "grau Fahrenheit|graus Fahrenheit",
        "ru": "градус по Фаренгейту|градуса по Фаренгейту|градусов по Фаренгейту",
    },
    "degree": {
        "en": "degree|degrees", "de": "n:Grad", "fr": "degré|degrés", "es": "grado|grados",
        "it": "grado|gradi", "pt": "grau|graus", "ru": "градус|градуса|градусов",
    },
    "percent": {
        "en": "percent", "de": "n:Prozent", "fr": "pour cent", "es": "por ciento",
        "it": "per cento", "pt": "por cento", "ru": "процент|процента|процентов",
    },
    "kmh": {
        "en": "kilometer per hour|kilometers per hour", "de": "Kilometer pro Stunde",
        "fr": "kilomètre par heure|kilomètres par heure",
        "es": "kilómetro por hora|kilómetros por hora",
        "it": "chilometro orario|chilometri orari",
        "pt": "quilômetro por hora|quilômetros por hora",
        "ru": "километр в час|километра в час|километров в час",
    },
    "mph": {
        "en": "mile per hour|miles per hour", "de": "f:Meile pro Stunde|Meilen pro Stunde",
        "fr": "mile par heure|miles par heure", "es": "milla por hora|millas por hora",
        "it": "miglio orario|miglia orarie", "pt": "f:milha por hora|milhas por hora",
        "ru": "миля в час|мили в час|миль в час",
    },
    "kwh": {
        "en": "kilowatt hour|kilowatt hours", "de": "f:Kilowattstunde|Kilowattstunden",
        "fr": "kilowattheure|kilowattheures", "es": "kilovatio hora|kilovatios hora",
        "it": "kilowattora", "pt": "quilowatt-hora|quilowatts-hora",
        "ru": "киловатт-час|киловатт-часа|киловатт-часов",
    },
    "mwh": {
        "en": "megawatt hour|megawatt hours", "de": "f:Megawattstunde|Megawattstunden",
        "fr": "mégawattheure|mégawattheures", "es": "megavatio hora|megavatios hora",
        "it": "megawattora", "pt": "megawatt-hora|megawatts-hora",
        "ru": "мегаватт-час|мегаватт-часа|мегаватт-часов",
    },
    "wh": {
        "en": "watt hour|watt hours", "de": "f:Wattstunde|Wattstunden",
        "fr": "wattheure|wattheures", "es": "vatio hora|vatios hora", "it": "wattora",
        "pt": "watt-hora|watts-hora", "ru": "ватт-час|ватт-часа|ватт-часов",
    },
    "w": {
        "en": "watt|watts", "de": "n:Watt", "fr": "watt|watts", "es": "vatio|vatios",
        "it": "watt", "pt": "watt|watts", "ru": "ватт|ватта|ватт",
    },
    "kw": {
        "en": "kilowatt|kilowatts", "de": "n:Kilowatt", "fr": "kilowatt|kilowatts",
        "es": "kilovatio|kilovatios", "it": "kilowatt", "pt": "quilowatt|quilowatts",
        "ru": "киловатт|киловатта|киловатт",
    },
    "mw": {
        "en": "megawatt|megawatts", "de": "n:Megawatt", "fr": "mégawatt|mégawatts",
        "es": "megavatio|megavatios", "it": "megawatt", "pt": "megawatt|megawatts",
        "ru": "мегаватт|мегаватта|мегаватт",
    },
    "v": {
        "en": "volt|volts", "de": "n:Volt", "fr": "volt|volts", "es": "voltio|voltios",
        "it": "volt", "pt": "volt|volts", "ru": "вольт|вольта|вольт",
    },
    "mv": {
        "en": "millivolt|millivolts", "de": "n:Millivolt", "fr": "millivolt|millivolts",
        "es": "milivoltio|milivoltios", "it": "millivolt", "pt": "milivolt|milivolts",
        "ru": "милливольт|милливольта|милливольт",
    },
    "a": {
        "en": "ampere|amperes", "de": "n:Ampere", "fr": "ampère|ampères",
        "es": "amperio|amperios", "it": "ampere", "pt": "ampere|amperes",
        "ru": "ампер|ампера|ампер",
    },
    "ma": {
        "en": "milliampere|milliamperes", "de": "n:Milliampere", "fr": "milliampère|milliampères",
        "es": "miliamperio|miliamperios", "it": "milliampere", "pt": "miliampere|miliamperes",
        "ru": "миллиампер|миллиампера|миллиампер",
    },
    "mm": {
        "en": "millimeter|millimeters", "de": "Millimeter", "fr": "millimètre|millimètres",
        "es": "milímetro|milímetros", "it": "millimetro|millimetri",
        "pt": "milímetro|milímetros", "ru": "миллиметр|миллиметра|миллиметров",
    },
    "cm": {
        "en": "centimeter|centimeters", "de": "Zentimeter", "fr": "centimètre|centimètres",
        "es": "centímetro|centímetros", "it": "centimetro|centimetri",
        "pt": "centímetro|centímetros", "ru": "сантиметр|сантиметра|сантиметров",
    },
    "km": {
        "en": "kilometer|kilometers", "de": "Kilometer", "fr": "kilomètre|kilomètres",
        "es": "kilómetro|kilómetros", "it": "chilometro|chilometri",
        "pt": "quilômetro|quilômetros", "ru": "километр|километра|километров",
    },
    "m": {
        "en": "meter|meters", "de": "Meter", "fr": "mètre|mètres", "es": "metro|metros",
        "it": "metro|metri", "pt": "metro|metros", "ru": "метр|метра|метров",
    },
    "m2": {
        "en": "square meter|square meters", "de": "Quadratmeter",
        "fr": "mètre carré|mètres carrés", "es": "metro cuadrado|metros cuadrados",
        "it": "metro quadrato|metri quadrati", "pt": "metro quadrado|metros quadrados",
        "ru": "квадратный метр|квадратных метра|квадратных метров",
    },
    "m3": {
        "en": "cubic meter|cubic meters", "de": "Kubikmeter", "fr": "mètre cube|mètres cubes",
        "es": "metro cúbico|metros cúbicos", "it": "metro cubo|metri cubi",
        "pt": "metro cúbico|metros cúbicos",
        "ru": "кубический метр|кубических метра|кубических метров",
    },
    "kg": {
        "en": "kilogram|kilograms", "de": "n:Kilogramm", "fr": "kilogramme|kilogrammes",
        "es": "kilogramo|kilogramos", "it": "chilogrammo|chilogrammi",
        "pt": "quilograma|quilogramas", "ru": "килограмм|килограмма|килограммов",
    },
    "g": {
        "en": "gram|grams", "de": "n:Gramm", "fr": "gramme|grammes", "es": "gramo|gramos",
        "it": "grammo|grammi", "pt": "grama|gramas", "ru": "грамм|грамма|граммов",
    },
    "mg": {
        "en": "milligram|milligrams", "de": "n:Milligramm", "fr": "milligramme|milligrammes",
        "es": "miligramo|miligramos", "it": "milligrammo|milligrammi",
        "pt": "miligrama|miligramas", "ru": "миллиграмм|миллиграмма|миллиграммов",
    },
    "l": {
        "en": "liter|liters", "de": "Liter", "fr": "litre|litres", "es": "litro|litros",
        "it": "litro|litri", "pt": "litro|litros", "ru": "литр|литра|литров",
    },
    "ml": {
        "en": "milliliter|milliliters", "de": "Milliliter", "fr": "millilitre|millilitres",
        "es": "mililitro|mililitros", "it": "millilitro|millilitri",
        "pt": "mililitro|mililitros", "ru": "миллилитр|миллилитра|миллилитров",
    },
    "hpa": {
        "en": "hectopascal|hectopascals", "de": "n:Hektopascal",
        "fr": "hectopascal|hectopascals", "es": "hectopascal|hectopascales",
        "it": "ettopascal", "pt": "hectopascal|hectopascais",
        "ru": "гектопаскаль|гектопаскаля|гектопаскалей",
    },
    "mbar": {
        "en": "millibar|millibars", "de": "n:Millibar", "fr": "millibar|millibars",
        "es": "milibar|milibares", "it": "millibar", "pt": "milibar|milibares",
        "ru": "миллибар|миллибара|миллибар",
    },
    "ppm": {
        "en": "part per million|parts per million", "de": "n:ppm",
        "fr": "f:partie par million|parties par million",
        "es": "f:parte por millón|partes por millón", "it": "f:parte per milione|parti per milione",
        "pt": "f:parte por milhão|partes por milhão", "ru": "ppm",
    },
    "ugm3": {
        "en": "microgram per cubic meter|micrograms per cubic meter",
        "de": "n:Mikrogramm pro Kubikmeter",
        "fr": "microgramme par mètre cube|microgrammes par mètre cube",
        "es": "microgramo por metro cúbico|microgramos por metro cúbico",
        "it": "microgrammo per metro cubo|microgrammi per metro cubo",
        "pt": "micrograma por metro cúbico|microgramas por metro cúbico",
        "ru": "микрограмм на кубический метр|микрограмма на кубический метр"
        "|микрограммов на кубический метр",
    },
    "h": {
        "en": "hour|hours", "de": "f:Stunde|Stunden", "fr": "f:heure|heures",
        "es": "f:hora|horas", "it": "f:ora|ore", "pt": "f:hora|horas", "ru": "час|часа|часов",
    },
    "min": {
        "en": "minute|minutes", "de": "f:Minute|Minuten", "fr": "f:minute|minutes",
        "es": "minuto|minutos", "it": "minuto|minuti", "pt": "minuto|minutos",
        "ru": "f:минута|минуты|минут",
    },
    "s": {
        "en": "second|seconds", "de": "f:Sekunde|Sekunden", "fr": "f:seconde|secondes",
        "es": "segundo|segundos", "it": "secondo|secondi", "pt": "segundo|segundos",
        "ru": "f:секунда|секунды|секунд",
    },
}

# Nouns often written out after a number in announcements, beyond the unit names: the number
# before one of them (or a unit name) takes its gender: "1 hora" -> "una hora".
_EXTRA_NOUNS = {
    "de": "f:Woche|Wochen f:Nacht|Nächte f:Person|Personen f:Nachricht|Nachrichten f:Tür|Türen"
    " f:Lampe|Lampen m:Tag|Tage m:Monat|Monate n:Jahr|Jahre n:Mal n:Fenster m:Grad",
    "fr": "f:semaine|semaines f:nuit|nuits f:personne|personnes f:fois f:porte|portes"
    " f:lampe|lampes f:lumière|lumières f:fenêtre|fenêtres m:jour|jours m:mois m:an|ans",
    "es": "f:semana|semanas f:noche|noches f:persona|personas f:vez|veces f:puerta|puertas"
    " f:luz|luces f:ventana|ventanas m:día|días m:mes|meses m:año|años",
    "it": "f:settimana|settimane f:notte|notti f:persona|persone f:volta|volte f:porta|porte"
    " f:luce|luci f:finestra|finestre m:giorno|giorni m:mese|mesi m:anno|anni",
    "pt": "f:semana|semanas f:noite|noites f:pessoa|pessoas f:vez|vezes f:porta|portas"
    " f:luz|luzes f:janela|janelas m:dia|dias m:mês|meses m:ano|anos",
    "ru": "f:неделя|недели|недель f:ночь|ночи|ночей f:штука|штуки|штук f:дверь|двери|дверей"
    " f:лампа|лампы|ламп n:окно|окна|окон m:день|дня|дней m:месяц|месяца|месяцев"
    " m:раз|раза m:человек|человека",
}

_UNIT_SYMBOLS = {
    "°C": "celsius", "° C": "celsius", "℃": "celsius", "ºC": "celsius",
    "°F": "fahrenheit", "° F": "fahrenheit", "℉": "fahrenheit", "ºF": "fahrenheit",
    "°": "degree", "%": "percent", "km/h": "kmh", "mph": "mph",
    "kWh": "kwh", "MWh": "mwh", "Wh": "wh", "kW": "kw", "MW": "mw", "W": "w",
    "mV": "mv", "V": "v", "mA": "ma", "A": "a",
    "mm": "mm", "cm": "cm", "km": "km", "m²": "m2", "m2": "m2", "m³": "m3", "m3": "m3", "m": "m",
    "kg": "kg", "mg": "mg", "g": "g", "ml": "ml", "mL": "ml", "l": "l", "L": "l",
    "hPa": "hpa", "mbar": "mbar", "ppm": "ppm",
    "µg/m³": "ugm3", "μg/m³": "ugm3", "µg/m3": "ugm3", "μg/m3": "ugm3", "ug/m³": "ugm3",
    "ug/m3": "ugm3", "min": "min", "h": "h",
    "км/ч": "kmh", "км": "km", "м": "m", "см": "cm", "мм": "mm", "м²": "m2", "м³": "m3",
    "кг": "kg", "г": "g", "мг": "mg", "л": "l", "мл": "ml", "кВт·ч": "kwh", "кВт⋅ч": "kwh",
    "кВтч": "kwh", "кВт": "kw", "МВт": "mw", "Вт": "w", "гПа": "hpa", "мбар": "mbar",
    "мин": "min", "ч": "h",
}

# (main unit, cents), same format as the units.
_CURRENCIES: dict[str, dict[str, tuple[str, str]]] = {
    "€": {
        "en": ("euro|euros", "cent|cents"), "de": ("Euro", "Cent"),
        "fr": ("euro|euros", "centime|centimes"), "es": ("euro|euros", "céntimo|céntimos"),
        "it": ("euro", "centesimo|centesimi"), "pt": ("euro|euros", "cêntimo|cêntimos"),
        "ru": ("евро", "цент|цента|центов"),
    },
    "$": {
        "en": ("dollar|dollars", "cent|cents"), "de": ("Dollar", "Cent"),
        "fr": ("dollar|dollars", "cent|cents"), "es": ("dólar|dólares", "centavo|centavos"),
        "it": ("dollaro|dollari", "centesimo|centesimi"),
        "pt": ("dólar|dólares", "centavo|centavos"),
        "ru": ("доллар|доллара|долларов", "цент|цента|центов"),
    },
    "£": {
        "en": ("pound|pounds", "penny|pence"), "de": ("n:Pfund", "Penny|Pence"),
        "fr": ("f:livre|livres", "penny|pence"), "es": ("f:libra|libras", "penique|peniques"),
        "it": ("f:sterlina|sterline", "penny|pence"), "pt": ("f:libra|libras", "pêni|pence"),
        "ru": ("фунт|фунта|фунтов", "n:пенни"),
    },
    "₽": {
        "en": ("ruble|rubles", "kopeck|kopecks"), "de": ("Rubel", "f:Kopeke|Kopeken"),
        "fr": ("rouble|roubles", "kopeck|kopecks"), "es": ("rublo|rublos", "kopek|kopeks"),
        "it": ("rublo|rubli", "copeco|copechi"), "pt": ("rublo|rublos", "copeque|copeques"),
        "ru": ("рубль|рубля|рублей", "f:копейка|копейки|копеек"),
    },
}


# fmt: on


@dataclass(frozen=True)
class _Noun:
    forms: tuple[str, ...]
    gender: str  # "m", "f" or "n"


@cache
def _noun(spec: str) -> _Noun:
    gender = "m"
    if spec[:2] in ("f:", "n:", "m:"):
        gender, spec = spec[0], spec[2:]
    return _Noun(tuple(spec.split("|")), gender)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def normalize_for_speech(text: str, language: str | None) -> str:
    """Text as it should be spoken in ``language`` (a model language name; None: detect)."""
    try:
        return _normalize(text, language)
    except Exception:  # a bug here must never cost the user the whole answer
        _LOG.warning("Text normalization failed; speaking it with basic cleanup", exc_info=True)
        try:
            return _tidy(_clean_characters(text))
        except Exception:
            return text if isinstance(text, str) else ""


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


def detect_language(text: str) -> str | None:
    """A cheap guess of the model language name of ``text``; None when it has no letters."""
    cyrillic = latin = 0
    han = False
    for ch in text:
        o = ord(ch)
        if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9F:
            return "japanese"
        if 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
            return "korean"
        if _is_han(o):
            han = True  # Chinese, unless kana or Hangul turn up later
            continue
        if ch.isalpha():
            if 0x0400 <= o <= 0x04FF:
                cyrillic += 1
            elif o < 0x0250 or 0x1E00 <= o <= 0x1EFF:
                latin += 1
    if han:
        return "chinese"
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


def _is_han(o: int) -> bool:
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x20000 <= o <= 0x2FA1F
        or 0xF900 <= o <= 0xFAFF
        or 0x3000 <= o <= 0x303F
        or 0xFF01 <= o <= 0xFF65
    )


# ---------------------------------------------------------------------------------------------
# Pipeline
# ---------------------------------------------------------------------------------------------


def _normalize(text: str, language: str | None) -> str:
    name = _language_name(language)
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
    text = _clean_characters(text)
    text = _strip_markdown(text, name)
    lang = _LANGS.get(name)
    if lang is not None:
        text = _speak_numbers(_LOOSE_SPACE.sub(" ", text), lang)
    return _tidy(text)


def _language_name(language: str | None) -> str | None:
    if language is None:
        return None
    key = language.strip().lower()
    if key in ("", "auto"):
        return None
    for lang in _LANGS.values():
        if key == lang.code or key.startswith(lang.code + "-") or key.startswith(lang.code + "_"):
            return lang.name
    return {"zh": "chinese", "ja": "japanese", "ko": "korean"}.get(key[:2], key)


_NEWLINES = re.compile(r"\r\n?|[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_EMOJI_RANGES = (
    (0x1F000, 0x1FAFF),
    (0x2600, 0x27BF),
    (0x2300, 0x23FF),
    (0x2B00, 0x2BFF),
    (0x2190, 0x21FF),
    (0x25A0, 0x25FF),
    (0xFE00, 0xFE0F),
    (0x20E3, 0x20E3),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3297),
    (0x3299, 0x3299),
    (0xE0000, 0xE007F),
)
_EMOJI = re.compile(
    "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in _EMOJI_RANGES) + "]+"
)


def _clean_characters(text: str) -> str:
    text = unicodedata.normalize("NFC", _NEWLINES.sub("\n", text))
    text = "".join(
        ch
        for ch in text
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
    )
    return _EMOJI.sub(" ", text)


def _tidy(text: str) -> str:
    text = " ".join(text.split())
    for _ in range(_MAX_NESTING):
        previous = text
        text = _drop_empty_brackets(text)
        text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
        text = _REPEATED_STOP.sub(".", text)
        text = " ".join(text.split())
        if text == previous:
            break
    return text


_BRACKET_PAIRS = {")": "(", "]": "[", "}": "{", "）": "（"}


def _drop_empty_brackets(text: str) -> str:
    """Removes brackets with nothing but whitespace (or other such brackets) inside."""
    out: list[str] = []
    opened: list[list[int]] = []  # [index in out, whether it holds something], innermost last
    for ch in text:
        if ch in "([{（":
            opened.append([len(out), 0])
            out.append(ch)
        elif opened and _BRACKET_PAIRS.get(ch) == out[opened[-1][0]]:
            start, full = opened.pop()
            if full:
                out.append(ch)
                if opened:
                    opened[-1][1] = 1
            else:
                del out[start:]
        else:
            out.append(ch)
            if opened and not ch.isspace():
                opened[-1][1] = 1
    return "".join(out)


# Whitespace as it will be after _tidy, except for the spaces that group digits.
_LOOSE_SPACE = re.compile(r"\s{2,}|[^\S \u00a0\u202f\u2009]")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?…])(?!\d)")
_REPEATED_STOP = re.compile(r"(?<!\.)\.\s+\.(?!\.)")

# ---------------------------------------------------------------------------------------------
# Markdown, HTML, URLs
# ---------------------------------------------------------------------------------------------

_FENCE = re.compile(
    r"^[ \t]{0,3}(?P<fence>`{3,}(?=[^`\n]*$)|~{3,})[^\n]*"
    r"(?P<body>(?:\n.*?)??)"
    r"(?:\n[ \t]{0,3}(?P=fence)[`~]*[ \t]*$|\Z)",
    re.M | re.S,
)
_BR = re.compile(r"<br\s*/?>", re.I)
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^<>\s]+|mailto:[^<>\s]+|[^<>\s@]+@[^<>\s@]+)>", re.I)
_TAG = re.compile(
    r"</?(?:a|b|i|u|s|p|em|strong|small|big|mark|del|ins|sub|sup|code|pre|kbd|samp|var|span|div"
    r"|font|center|ul|ol|li|dl|dt|dd|h[1-6]|hr|img|table|thead|tbody|tfoot|tr|td|th|caption"
    r"|blockquote|q|cite|abbr|details|summary|section|article|header|footer|nav|main|aside"
    r"|figure|figcaption|time|strike|tt)(?:\s[^<>]*)?/?>",
    re.I,
)
_ENTITY = re.compile(r"&(nbsp|amp|lt|gt|quot|apos|#\d{1,7}|#[xX][0-9a-fA-F]{1,6});")
_ENTITIES = {"nbsp": "\u00a0", "amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}

_LINE_PREFIX = re.compile(
    r"^[ \t]*(?:>[ \t]?|#{1,6}(?:[ \t]+|$)|[-*+•‣◦▪·][ \t]+|\d{1,3}[.)](?:[ \t]+|$)"
    r"|\[[ xX]\][ \t]+)"
)
_RULE_LINE = re.compile(r"^[ \t]*(?:(?:[-*_=][ \t]*){3,}|[-=]+)[ \t]*$")
_REF_DEFINITION = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*\S+.*$")

_IMAGE = re.compile(r"!\[([^\[\]\n]*)\]\([^()\n]*\)")
_LINK = re.compile(r"\[([^\[\]\n]*)\]\([^()\n]*\)")
_REF_LINK = re.compile(r"\[([^\[\]\n]+)\]\[[^\[\]\n]*\]")
_FOOTNOTE = re.compile(r"\[\^[^\[\]\n]*\]")
_ESCAPE = re.compile(r"\\(?=[!-/:-@\[-`{-~])")
_STAR_BETWEEN_DIGITS = re.compile(r"(?<=\d)[ \t]*\*[ \t]*(?=\d)")
_UNDERSCORE = re.compile(r"(?<![^\W_])_+|_+(?![^\W_])")
_HASHTAG = re.compile(r"(?<![\w&#])#+(?=[^\W\d_])")

_URL_CHARS = r"[^\s<>\"'`*|\[\]{}()]"
_URL = re.compile(
    rf"(?<![^\W_])(?:(?:https?|ftp)://|www\.){_URL_CHARS}+",
    re.I,
)
_EMAIL = re.compile(
    r"(?<![\w.+@-])[\w.+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z][A-Za-z0-9-]*(?![\w@-]|\.[A-Za-z0-9])"
)
_TLDS = (
    "com|org|net|io|dev|app|ai|info|biz|eu|de|at|ch|fr|es|it|pt|br|ru|uk|nl|be|pl|se|no|dk|fi"
    "|cz|us|ca|au|nz|jp|cn|kr|tv|me|co|gov|edu|local|lan|home|arpa"
)
_BARE_HOST = re.compile(
    rf"(?<![\w@.-])(?:(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
    rf"(?:{_TLDS})"
    rf"(?::\d{{1,5}})?(?:/{_URL_CHARS}*)?(?![\w-]|\.[A-Za-z0-9])",
    re.I,
)
_TRAILING_URL_PUNCT = ".,;:!?…'\")]}"
_TERMINAL = ".!?…:;,。！？；：，、"
_CLOSERS = "\"')]}»”’›」』】》〉）］｝"


def _strip_markdown(text: str, language: str) -> str:
    text = _FENCE.sub(lambda m: _fenced_code(m, language), text)
    text = _repeat(_ENTITY, _entity, text)
    text = _BR.sub("\n", text)
    text = _AUTOLINK.sub(r" \1 ", text)
    text = _repeat(_TAG, " ", text)

    lines: list[tuple[str, bool]] = []  # (text, is a block item such as a heading)
    for raw in text.split("\n"):
        line, block = _strip_line(raw, language)
        lines.append((line, block))

    spoken: list[str] = []
    for i, (line, block) in enumerate(lines):
        if not line:
            continue
        following = next((j for j in range(i + 1, len(lines)) if lines[j][0]), None)
        if following is not None:
            next_line, next_block = lines[following]
            blank_between = following > i + 1
            continues = next_line[0].islower() and not (block or next_block or blank_between)
            if not continues and line.rstrip(_CLOSERS)[-1:] not in _TERMINAL:
                line += "。" if language in ("chinese", "japanese") else "."
        spoken.append(line)
    return " ".join(spoken)


def _repeat(
    pattern: re.Pattern[str], replacement: str | Callable[[re.Match[str]], str], text: str
) -> str:
    for _ in range(_MAX_NESTING):
        new = pattern.sub(replacement, text)
        if new == text:
            break
        text = new
    return text


def _fenced_code(match: re.Match[str], language: str) -> str:
    if not (match["body"] or "").strip():
        return "\n"
    lang = _LANGS.get(language)
    phrase = lang.code_phrase if lang else _CJK_CODE_PHRASES.get(language, _CODE_PHRASE_OTHER)
    return f"\n\n{phrase}\n\n"


def _entity(match: re.Match[str]) -> str:
    name = match[1]
    if name[0] != "#":
        return _ENTITIES[name]
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return " "
    ch = chr(code)
    return ch if unicodedata.category(ch) not in ("Cc", "Cf", "Co") or ch == "\n" else " "


def _strip_line(line: str, language: str) -> tuple[str, bool]:
    """The line without markdown, and whether it was a block item (heading, list, table)."""
    block = False
    for _ in range(_MAX_NESTING):
        stripped, is_block = _strip_line_once(line, language)
        block = block or is_block
        if stripped == line:
            break
        line = stripped
    return line, block


def _strip_line_once(line: str, language: str) -> tuple[str, bool]:
    if _RULE_LINE.match(line) or _is_table_separator(line) or _REF_DEFINITION.match(line):
        return "", True
    block = False
    for _ in range(_MAX_NESTING):
        match = _LINE_PREFIX.match(line)
        if match is None or _is_ordinal_prefix(line, match, language):
            break
        if match[0].lstrip().startswith("#"):
            line = _without_closing_hashes(line)
        line = line[match.end() :]
        block = block or not match[0].lstrip().startswith(">")
    if "|" in line:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        line = ", ".join(cell for cell in cells if cell)
        block = True
    line = _repeat(_IMAGE, r"\1", line)
    line = _repeat(_LINK, r"\1", line)
    line = _REF_LINK.sub(r"\1", line)
    line = _FOOTNOTE.sub("", line)
    line = _ESCAPE.sub("", line)
    line = _STAR_BETWEEN_DIGITS.sub("×", line)
    line = line.replace("*", "").replace("`", "").replace("~~", "")
    line = _UNDERSCORE.sub("", line)
    line = _HASHTAG.sub("", line)
    return _speak_addresses(line, language).strip(), block


def _is_table_separator(line: str) -> bool:
    """``|---|:--:|``"""
    return "|" in line and "-" in line and not line.strip(" \t|:-")


def _without_closing_hashes(line: str) -> str:
    """``## Title ##`` -> ``## Title``"""
    stripped = line.rstrip(" \t")
    core = stripped.rstrip("#")
    if core != stripped and core[-1:] in (" ", "\t"):
        return core.rstrip(" \t")
    return line


def _is_ordinal_prefix(line: str, match: re.Match[str], language: str) -> bool:
    """``3. Oktober``, ``2. Platz``: an ordinal at the start of a line, not a list marker."""
    marker = match[0].strip()
    lang = _LANGS.get(language)
    if lang is None or not (marker[:-1].isdigit() and marker.endswith(".")):
        return False
    if lang.code == "de":
        return bool(_DE_ORDINAL_NOUN_AHEAD.match(line, match.end()))
    rest = line[match.end() :].lstrip()
    return any(rest.startswith(month) for month in lang.months)


def _speak_addresses(line: str, language: str) -> str:
    lang = _LANGS.get(language)
    line = _EMAIL.sub(lambda m: _email(m[0], lang), line)
    line = _URL.sub(lambda m: _url(m[0], lang), line)
    return _BARE_HOST.sub(lambda m: _url(m[0], lang), line)


def _url(url: str, lang: _Lang | None) -> str:
    trailing = ""
    while url and url[-1] in _TRAILING_URL_PUNCT:
        trailing = url[-1] + trailing
        url = url[:-1]
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url, flags=re.I)
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1]
    host = re.sub(r":\d*$", "", host).strip(".").lower()
    if host.startswith("www."):
        host = host[4:]
    if not host:
        return trailing
    return _spell_host(host, lang) + trailing


def _email(address: str, lang: _Lang | None) -> str:
    trailing = ""
    while address and address[-1] in _TRAILING_URL_PUNCT:
        trailing = address[-1] + trailing
        address = address[:-1]
    if lang is None:
        return address + trailing
    local, _, domain = address.rpartition("@")
    return f"{_spell_host(local, lang)} {lang.at} {_spell_host(domain.lower(), lang)}{trailing}"


def _spell_host(host: str, lang: _Lang | None) -> str:
    if lang is None:
        return host
    return f" {lang.dot} ".join(part for part in host.split(".") if part)


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------


class _Unsayable(Exception):
    """num2words cannot say this number: keep the digits."""


@dataclass(frozen=True)
class _Num:
    integer: int
    int_digits: str
    fraction: str  # digits after the decimal separator, "" if none
    separator: str  # "." or "," as written, "" if none
    grouped: bool

    @property
    def is_one(self) -> bool:
        return self.integer == 1 and not self.fraction


_SPACES = "\u00a0\u202f\u2009"


@cache
def _number_pattern(code: str) -> str:
    """A number as written in this language (no sign), not part of a longer digit run."""
    if code == "en":
        body = rf"(?:\d{{1,3}}(?:,\d{{3}})+|\d{{1,3}}(?:[{_SPACES}]\d{{3}})+|\d+)(?:\.\d+)?"
    else:
        body = (
            rf"\d{{1,3}}(?:\.\d{{3}})+(?:,\d+)?|\d{{1,3}}(?:[ {_SPACES}]\d{{3}})+(?:,\d+)?"
            r"|\d+(?:[,.]\d+)?"
        )
    return rf"(?<![\w.,])(?<!\d[.,])(?:{body})(?![\d]|[.,]\d|\.[^\W\d_])"


def _parse(raw: str, code: str) -> _Num:
    digits = re.sub(f"[ {_SPACES}]", "", raw)
    grouped = digits != raw
    separator = ""
    if code == "en":
        grouped = grouped or "," in digits
        digits = digits.replace(",", "")
        if "." in digits:
            separator = "."
    elif "," in digits:
        grouped = grouped or "." in digits
        digits = digits.replace(".", "")
        separator = ","
    elif "." in digits:
        if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", digits):
            digits = digits.replace(".", "")
            grouped = True
        else:
            separator = "."
    int_digits, _, fraction = digits.replace(",", ".").partition(".")
    if len(int_digits.lstrip("0")) > _MAX_INT_DIGITS or len(fraction) > 2 * _MAX_INT_DIGITS:
        raise _Unsayable(raw)
    return _Num(_int(int_digits), int_digits, fraction, separator, grouped)


def _n2w(value: int | str, code: str, **kwargs: object) -> str:
    try:
        words = num2words(value, lang=code, **kwargs)
    except Exception as error:  # num2words raises many types for what it cannot say
        raise _Unsayable(str(value)) from error
    if not isinstance(words, str) or any(ch.isdigit() for ch in words):
        raise _Unsayable(str(value))
    return words.replace(",", "")  # "three thousand, two hundred": no pause inside a number


def _cardinal(n: int, lang: _Lang, gender: str | None = None, case: str | None = None) -> str:
    """A whole number; with ``gender``, in the form used before a noun of that gender."""
    if lang.code == "ru":
        kwargs: dict[str, object] = {"gender": gender or "m"}
        if case:
            kwargs["case"] = case
        return _n2w(n, "ru", **kwargs)
    words = _n2w(n, lang.code)
    if gender is None:
        return words
    if lang.code == "de" and words.endswith("eins"):
        return words[:-4] + ("eine" if gender == "f" else "ein")
    if lang.code == "fr" and gender == "f":
        return re.sub(r"\bun$", "une", words)
    if lang.code == "es" and words.endswith("uno"):
        if gender == "f":
            return words[:-1] + "a"
        return words[:-3] + "ún" if words.endswith("iuno") else words[:-1]
    if lang.code == "it" and words.endswith("uno"):
        if gender == "f":
            return words[:-1] + "a"
        return "un" if words == "uno" else words
    if lang.code == "pt" and gender == "f":
        return re.sub(r"\bum$", "uma", re.sub(r"\bdois$", "duas", words))
    return words


def _ordinal(n: int, lang: _Lang, gender: str = "m", case: str = "n") -> str:
    if lang.code == "ru":
        return _n2w(n, "ru", to="ordinal", gender=gender, case=case)
    words = _n2w(n, lang.code, to="ordinal")
    if gender == "f" and lang.code in ("es", "it", "pt"):
        words = re.sub(r"o\b", "a", words)
    if gender == "f" and lang.code == "fr" and words == "premier":
        words = "première"
    return words


def _int(digits: str) -> int:
    if len(digits) > 2 * _MAX_INT_DIGITS:
        raise _Unsayable(digits)
    return int(digits)


def _digits(digits: str, lang: _Lang) -> str:
    return " ".join(_n2w(int(d), lang.code) for d in digits)


def _say_number(num: _Num, lang: _Lang, gender: str | None = None) -> str:
    """A number (no sign); a whole one agrees with ``gender``."""
    if len(num.int_digits) > 1 and num.int_digits.startswith("0") and not num.fraction:
        if num.grouped:
            return _cardinal(num.integer, lang, gender)
        return _digits(num.int_digits, lang)
    if not num.fraction:
        return _cardinal(num.integer, lang, gender)
    if lang.code == "ru":
        if len(num.fraction) > _MAX_FRACTION_DIGITS:
            raise _Unsayable(num.fraction)
        return _n2w(f"{num.integer}.{num.fraction}", "ru")
    whole = _n2w(num.integer, lang.code)
    point = lang.point_dot if num.separator == "." else lang.point
    if lang.digitwise_fraction or len(num.fraction) > _MAX_FRACTION_DIGITS:
        return f"{whole} {point} {_digits(num.fraction, lang)}"
    stripped = num.fraction.lstrip("0")
    zeros = len(num.fraction) - len(stripped)
    parts = [_n2w(0, lang.code)] * zeros + ([_n2w(int(stripped), lang.code)] if stripped else [])
    return f"{whole} {point} {' '.join(parts)}"


def _pick(noun: _Noun, num: _Num | None, lang: _Lang, many: bool = False) -> str:
    """The form of ``noun`` after ``num`` (``many``: after a Russian range, genitive plural)."""
    forms = noun.forms
    if len(forms) == 1:
        return forms[0]
    if lang.code == "ru":
        if many:
            return forms[-1]
        if num is None or num.fraction:
            return forms[1]
        n = num.integer
        if n % 100 in (11, 12, 13, 14):
            return forms[2]
        return forms[0] if n % 10 == 1 else forms[1] if n % 10 in (2, 3, 4) else forms[2]
    if num is None:
        return forms[-1]
    if lang.code == "fr":
        singular = num.integer < 2
    else:
        singular = num.is_one
    return forms[0] if singular else forms[1]


def _count(n: int, unit: str, lang: _Lang) -> str:
    noun = _noun(_UNIT_NAMES[unit][lang.code])
    num = _Num(n, str(n), "", "", False)
    return f"{_cardinal(n, lang, noun.gender)} {_pick(noun, num, lang)}"


# -- the passes --------------------------------------------------------------------------------


_Handler = Callable[[re.Match[str], _Lang], str]


def _speak_numbers(text: str, lang: _Lang) -> str:
    for pattern, handler in _passes(lang.name):
        text = pattern.sub(lambda m, h=handler: _safe(h, m, lang), text)
    return text


def _safe(handler: _Handler, match: re.Match[str], lang: _Lang) -> str:
    if _glued(match):
        return match[0]
    try:
        return handler(match, lang)
    except _Unsayable:
        return match[0]


_GLUED_DOT_WORD = re.compile(r"\.[^\W_]")


def _wordlike(ch: str) -> bool:
    return ch.isalpha() or ch == "@"


def _wordlike_or_space(ch: str) -> bool:
    return ch.isalpha() or ch.isspace()


def _glued(match: re.Match[str]) -> bool:
    """A number that is part of a word ("x2026-11-25", "0.0.0A"), an address or a dotted name."""
    text, string, start, end = match[0], match.string, match.start(), match.end()
    if not any(ch.isdigit() for ch in text):
        return False
    if start and _wordlike(string[start - 1]) and not _wordlike_or_space(text[0]):
        return True
    if end < len(string) and _wordlike(string[end]) and not _wordlike_or_space(text[-1]):
        return True
    return bool(_GLUED_DOT_WORD.match(string, end))


def _group(match: re.Match[str], name: str) -> str | None:
    return match[name] if name in match.re.groupindex else None


@cache
def _passes(name: str) -> tuple[tuple[re.Pattern[str], _Handler], ...]:
    lang = _LANGS[name]
    code = lang.code
    num = _number_pattern(code)
    sp = f"[ {_SPACES}]"
    months = "|".join(lang.months)
    passes: list[tuple[str, _Handler, int]] = []

    def add(pattern: str, handler: _Handler, flags: int = 0) -> None:
        passes.append((pattern, handler, flags))

    add(r"(?<![\d.,/-])(\d{4}-\d{2}-\d{2})T(?=\d{2}:\d{2})", lambda m, _l: m[1] + " ")
    add(r"(?<![\d.,/:-])(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})(?![\d]|[.,]\d|-\d)", _date)
    if code != "en":
        add(
            r"(?<![\d.,/:-])(?P<d>\d{1,2})(?P<s>[./])(?P<mo>\d{1,2})(?P=s)(?P<y>\d{4})"
            r"(?![\d]|[.,/]\d)",
            _date,
        )
    add(
        r"(?<![\w.,])\d+(?:\.\d+){2,}(?![\d]|[.,]\d)",
        _dotted,
    )
    time = r"(?<![\d.,:])(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?(?![\d]|[.,:]\d)"
    if code == "en":
        ampm = rf"(?:{sp}?(?P<ap>[AaPp])\.?{sp}?[Mm]\.?(?![^\W\d_]))"
        add(time + ampm + "?", _time)
        add(rf"(?<![\w.,:])(?P<h>\d{{1,2}}){ampm}", _time)
    elif code == "de":
        add(time + rf"(?:{sp}?Uhr\b)?", _time)
        add(rf"(?<![\w.,:])(?P<h>\d{{1,2}})(?:[.:](?P<mi>\d{{2}}))?{sp}?Uhr\b", _time)
    elif code in ("fr", "pt"):
        add(rf"(?<![\w.,:])(?P<h>\d{{1,2}}){sp}?h{sp}?(?P<mi>\d{{2}})?(?![^\W\d_])", _time)
        add(time + rf"(?:{sp}?h\b)?", _time)
    else:
        add(time + rf"(?:{sp}?(?:h|hs|horas|ore)\b)?", _time)

    add(r"(?:(?<![\w#&])#|№|\bNo\.|\bNr\.) ?(?=\d)", lambda m, lang_: f"{lang_.number} ")
    signed = rf"(?P<sign>(?<![\w.,)\]}}])[-−+])?(?P<num>{num})"
    currency = "[€$£₽]"
    add(rf"(?P<cur>{currency}){sp}?{signed}", _money)
    add(rf"{signed}{sp}?(?P<cur>{currency})", _money)

    if code == "en":
        add(r"(?<![\w.,])(?P<n>\d+)(?:st|nd|rd|th|ST|ND|RD|TH)(?![^\W\d_])", _ordinal_mark)
        add(
            rf"\b(?P<month>{months}|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
            rf"{sp}(?P<n>\d{{1,2}})(?![\d]|[.,]\d|:|{sp}?(?:%|°|[a-z]))",
            _month_day,
        )
    elif code == "fr":
        add(
            r"(?<![\w.,])(?P<n>\d+)(?P<mark>ers?|res?|ère|ères|ème|èmes|eme|e|es|nde?|d)"
            r"(?![^\W\d_])",
            _ordinal_mark,
        )
        add(rf"(?<![\w.,])1{sp}(?=(?:{months})\b)", lambda m, _l: "premier ")
    elif code in ("es", "it", "pt"):
        add(r"(?<![\w.,])(?P<n>\d+)\.?(?P<mark>[ºª])", _ordinal_mark)
    elif code == "ru":
        add(
            r"(?<![\w.,])(?P<n>\d+)-(?P<mark>ый|ий|ой|ая|ое|ые|ых|ую|го|му|ми|й|я|е|х|м|ю)"
            r"(?![^\W\d_])",
            _ordinal_mark,
        )
        add(
            rf"(?<![\w.,])(?P<n>\d{{3,4}}){sp}?(?P<word>году|года|годом|годе|год|г\.)"
            r"(?![^\W\d_])",
            _russian_year,
        )
        add(rf"(?<![\w.,])(?P<n>\d{{1,2}}){sp}(?=(?:{months})\b)", _russian_day)
    elif code == "de":
        add(rf"(?<![\w.,])(?P<n>\d{{1,4}})\.{sp}+(?={_DE_ORDINAL_NOUNS}\b)", _german_ordinal)

    units = "|".join(re.escape(u) for u in sorted(_UNIT_SYMBOLS, key=len, reverse=True))
    add(
        rf"{signed}(?:(?P<range>{sp}?[–—]{sp}?|-)(?P<num2>{num}))?"
        rf"(?:{sp}?(?P<unit>{units})(?![^\W\d_]|['’]))?(?![^\W\d_])",
        _quantity,
    )
    add(r"(?<![^\W\d_])(?<!\d)\d+(?![^\W\d_]|\d|\.[^\W\d_])", _leftover)
    add(r"(?<=\s)&(?=\s)|(?<=[^\W\d_])&(?=[^\W\d_])", lambda m, lang_: f" {lang_.and_} ")
    if code == "it":
        add(r"(?<=\bun') (?=[^\W\d_])", lambda m, _l: "")
    return tuple((re.compile(p, f), h) for p, h, f in passes)


_DE_ORDINAL_NOUNS = (
    "(?:Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November"
    "|Dezember|Jan|Feb|Mär|Mrz|Apr|Jun|Jul|Aug|Sep|Sept|Okt|Nov|Dez|Mal|Platz|Stock|Stockwerk"
    "|Etage|Stelle|Klasse|Liga|Runde|Jahrhundert|Jahrtausend|Geburtstag|Jahrestag|Advent"
    "|Halbzeit|Tag|Woche|Monat|Quartal|Kapitel|Auflage|Obergeschoss|Reihe|Spieltag|Lauf)"
)
_DE_ORDINAL_NOUN_AHEAD = re.compile(rf"[ \t]*{_DE_ORDINAL_NOUNS}\b")
_DE_WEAK = re.compile(
    r"\b(?:am|vom|zum|im|beim|dem|den|des|ab|bis|seit|einem|einen|jedem|jeden)\s+$", re.I
)
_DE_DEFINITE = re.compile(r"\b(?:der|die|das)\s+$", re.I)


def _german_ending(before: str) -> str:
    if _DE_WEAK.search(before):
        return "n"
    if _DE_DEFINITE.search(before):
        return ""
    return "r"


def _before(match: re.Match[str], width: int = 40) -> str:
    return match.string[max(0, match.start() - width) : match.start()]


def _date(match: re.Match[str], lang: _Lang) -> str:
    year, month, day = int(match["y"]), int(match["mo"]), int(match["d"])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise _Unsayable(match[0])
    name = lang.months[month - 1]
    code = lang.code
    if code == "en":
        return f"{name} {_ordinal(day, lang)}, {_n2w(year, 'en', to='year')}"
    if code == "de":
        ending = _german_ending(_before(match))
        return f"{_ordinal(day, lang)}{ending} {name} {_n2w(year, 'de', to='year')}"
    if code == "ru":
        case = _russian_case(_before(match))
        day_words = _ordinal(day, lang, gender="n", case=case)
        return f"{day_words} {name} {_ordinal(year, lang, case='g')} года"
    if day == 1 and code in ("fr", "it", "pt", "es"):
        day_words = _ordinal(1, lang)
    else:
        day_words = _cardinal(day, lang)
    year_words = _cardinal(year, lang)
    if code in ("es", "pt"):
        return f"{day_words} de {name} de {year_words}"
    return f"{day_words} {name} {year_words}"


def _dotted(match: re.Match[str], lang: _Lang) -> str:
    text = match[0]
    if lang.code != "en" and re.fullmatch(r"\d{1,3}(?:\.\d{3})+", text):
        return text  # thousands, for the quantity pass
    parts = text.split(".")
    return f" {lang.dot} ".join(_say_number(_Num(_int(p), p, "", "", False), lang) for p in parts)


def _time(match: re.Match[str], lang: _Lang) -> str:
    hour = int(match["h"])
    minute = int(_group(match, "mi") or 0)
    second = int(_group(match, "s") or 0)
    if hour > 24 or minute > 59 or second > 59 or (hour == 24 and minute):
        raise _Unsayable(match[0])
    code = lang.code
    seconds = ""
    if second:
        joiner = f" {lang.and_} " if code != "ru" else " "
        seconds = joiner + _count(second, "s", lang)
    if code == "en":
        ap = _group(match, "ap")
        padded = match["h"].startswith("0") and len(match["h"]) == 2
        if ap:
            period = "a.m." if ap in "Aa" else "p.m."
        elif hour == 0 or hour > 12 or padded:
            period = "a.m." if hour < 12 or hour == 24 else "p.m."
        else:
            period = ""
        hour_words = _cardinal((hour % 12 or 12) if period else hour, lang)
        if minute == 0:
            minute_words = "" if period else " o'clock"
        elif minute < 10:
            minute_words = f" oh {_cardinal(minute, lang)}"
        else:
            minute_words = f" {_cardinal(minute, lang)}"
        return f"{hour_words}{minute_words}{seconds}" + (f" {period}" if period else "")
    if code == "de":
        out = f"{_cardinal(hour, lang, 'n')} Uhr"
        return out + (f" {_cardinal(minute, lang)}" if minute else "") + seconds
    if code == "fr":
        if hour in (0, 12):
            out = "minuit" if hour == 0 else "midi"
        else:
            out = _count(hour, "h", lang)
        return out + (f" {_cardinal(minute, lang)}" if minute else "") + seconds
    if code == "ru":
        if minute == 0:
            return _count(hour, "h", lang) + seconds
        zero = f"{_n2w(0, 'ru')} " if minute < 10 else ""
        return f"{_cardinal(hour, lang)} {zero}{_cardinal(minute, lang, 'f')}{seconds}"
    hour_words = _cardinal(hour, lang, "f")
    if code == "es":
        rest = f" y {_cardinal(minute, lang)}" if minute else " en punto"
    elif code == "it":
        rest = f" e {_cardinal(minute, lang)}" if minute else ""
    else:
        if not minute:
            return _count(hour, "h", lang) + seconds
        rest = f" e {_cardinal(minute, lang)}"
    return hour_words + rest + seconds


def _money(match: re.Match[str], lang: _Lang) -> str:
    num = _parse(match["num"], lang.code)
    main_spec, cent_spec = _CURRENCIES[match["cur"]][lang.code]
    main, cent = _noun(main_spec), _noun(cent_spec)
    sign = _sign(match, lang)
    if len(num.fraction) > 2:
        return f"{sign}{_say_number(num, lang)} {_pick(main, num, lang)}"
    cents = int(num.fraction.ljust(2, "0")) if num.fraction else 0
    whole = _Num(num.integer, num.int_digits, "", "", num.grouped)
    cents_num = _Num(cents, str(cents), "", "", False)
    cents_words = f"{_cardinal(cents, lang, cent.gender)} {_pick(cent, cents_num, lang)}"
    if num.integer == 0 and cents:
        return sign + cents_words
    out = f"{sign}{_cardinal(num.integer, lang, main.gender)} {_pick(main, whole, lang)}"
    if cents:
        joiner = f" {lang.currency_and} " if lang.currency_and else " "
        out += joiner + cents_words
    return out


def _sign(match: re.Match[str], lang: _Lang) -> str:
    sign = match["sign"]
    if not sign:
        return ""
    return f"{lang.plus} " if sign == "+" else f"{lang.minus} "


# fmt: off
_RU_MARKS = {
    "й": ("n", "m"), "ый": ("n", "m"), "ий": ("n", "m"), "ой": ("n", "m"),
    "я": ("n", "f"), "ая": ("n", "f"), "е": ("n", "n"), "ое": ("n", "n"),
    "го": ("g", "m"), "му": ("d", "m"), "м": ("p", "m"), "ю": ("a", "f"), "ую": ("a", "f"),
}
# fmt: on


def _ordinal_mark(match: re.Match[str], lang: _Lang) -> str:
    n = _int(match["n"])
    mark = _group(match, "mark") or ""
    if lang.code == "fr":
        if mark.startswith(("nd", "d")) and n == 2:
            return "seconde" if mark.startswith("nde") else "second"
        feminine = n == 1 and mark.startswith(("r", "è"))
        return _ordinal(n, lang, "f" if feminine else "m")
    if lang.code in ("es", "it", "pt"):
        return _ordinal(n, lang, "f" if mark == "ª" else "m")
    if lang.code == "ru":
        if mark in ("ые", "ых", "х", "ми"):
            case = {"ые": "n", "ых": "g", "х": "p", "ми": "i"}[mark]
            return _n2w(n, "ru", to="ordinal", case=case, plural=True)
        case, gender = _RU_MARKS[mark]
        return _ordinal(n, lang, gender, case)
    return _ordinal(n, lang)


def _month_day(match: re.Match[str], lang: _Lang) -> str:
    n = int(match["n"])
    if not 1 <= n <= 31:
        raise _Unsayable(match[0])
    month = match["month"]
    full = next((m for m in lang.months if m.startswith(month)), month)
    return f"{full} {_ordinal(n, lang)}"


def _german_ordinal(match: re.Match[str], lang: _Lang) -> str:
    return _ordinal(int(match["n"]), lang) + _german_ending(_before(match)) + " "


_RU_GENITIVE_BEFORE = re.compile(r"\b(?:до|с|со|после|от|около|для|из|без|кроме)\s+$", re.I)
_RU_DATIVE_BEFORE = re.compile(r"\b(?:к|ко|по)\s+$", re.I)
_RU_FROM_BEFORE = re.compile(r"\bот\s+$", re.I)
_RU_IN_BEFORE = re.compile(r"\b(?:в|во)\s+$", re.I)


def _russian_case(before: str) -> str:
    if _RU_GENITIVE_BEFORE.search(before):
        return "g"
    if _RU_DATIVE_BEFORE.search(before):
        return "d"
    return "n"


def _russian_year(match: re.Match[str], lang: _Lang) -> str:
    word = match["word"]
    before = _before(match)
    end = ""
    if word == "г.":
        word = "году" if _RU_IN_BEFORE.search(before) else "года"
        end = "." if match.end() == len(match.string) else ""
    case = {"год": "n", "года": "g", "годом": "i", "годе": "p"}.get(word, "p")
    if word == "году" and _RU_DATIVE_BEFORE.search(before):
        case = "d"
    return f"{_ordinal(int(match['n']), lang, 'm', case)} {word}{end}"


def _russian_day(match: re.Match[str], lang: _Lang) -> str:
    n = int(match["n"])
    if not 1 <= n <= 31:
        raise _Unsayable(match[0])
    return _ordinal(n, lang, "n", _russian_case(_before(match))) + " "


_EN_YEAR_BEFORE = re.compile(
    r"(?:\b(?:in|since|from|until|till|by|of|year|before|after|during|around|circa|c\.)"
    r"|\b(?:January|February|March|April|May|June|July|August|September|October|November"
    r"|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
    r"(?:\s+(?:\d{1,2}(?:st|nd|rd|th)?|[^\W\d_]+(?:-[^\W\d_]+)?)){0,2},?"
    r"|\b(?:1[1-9]|20)\d\d\s*(?:to|and|or|through|-|–))\s*$",
    re.I,
)
_EN_YEAR_AFTER = re.compile(r"\s*(?:AD|BC|BCE|CE|A\.D\.|B\.C\.)(?![^\W\d_])")
_DE_YEAR_BEFORE = re.compile(
    r"(?:\b(?:im|seit|bis|ab|von|vor|nach|anno|Jahr|Jahre|Jahres|Jahrgang|Sommer|Winter"
    r"|Frühjahr|Frühling|Herbst|Januar|Februar|März|April|Mai|Juni|Juli|August|September"
    r"|Oktober|November|Dezember)|\b1[1-9]\d\d\s*(?:bis|und|oder|-|–))\s*$",
)


def _is_year(num: _Num, match: re.Match[str], lang: _Lang) -> bool:
    if num.fraction or num.grouped or len(num.int_digits) != 4 or match["sign"]:
        return False
    if lang.code == "en" and 1100 <= num.integer <= 2099:
        before, after = _before(match), match.string[match.end() :]
        return bool(_EN_YEAR_BEFORE.search(before) or _EN_YEAR_AFTER.match(after))
    if lang.code == "de" and 1100 <= num.integer <= 1999:
        return bool(_DE_YEAR_BEFORE.search(_before(match)))
    return False


def _quantity(match: re.Match[str], lang: _Lang) -> str:
    num = _parse(match["num"], lang.code)
    num2 = _parse(match["num2"], lang.code) if match["num2"] else None
    unit = _UNIT_SYMBOLS.get(match["unit"] or "")
    if num2 is not None and (len(match["num"]) > 5 or len(match["num2"]) > 5):
        raise _Unsayable(match[0])
    if unit is None and _is_year(num, match, lang):
        words = _n2w(num.integer, lang.code, to="year")
        if num2 is not None:
            end = _n2w(num2.integer, lang.code, to="year") if 1000 <= num2.integer else None
            words += f" {lang.to} {end or _say_number(num2, lang)}"
        return words
    noun = _noun(_UNIT_NAMES[unit][lang.code]) if unit else None
    gender = noun.gender if noun else _gender_of_next_word(match, lang)
    sign = _sign(match, lang)
    if num2 is None:
        words = sign + _say_number(num, lang, gender)
        if gender and num.is_one and not sign:
            words = _one_in_context(words, gender, match, lang)
        return f"{words} {_pick(noun, num, lang)}" if noun else words
    if lang.code == "ru" and not num.fraction and not num2.fraction:
        start = "" if _RU_FROM_BEFORE.search(_before(match)) else "от "
        words = f"{start}{sign}{_cardinal(num.integer, lang, gender, 'g')} до "
        words += _cardinal(num2.integer, lang, gender, "g")
        return f"{words} {_pick(noun, num2, lang, many=True)}" if noun else words
    words = f"{sign}{_say_number(num, lang, gender)} {lang.to} {_say_number(num2, lang, gender)}"
    return f"{words} {_pick(noun, num2, lang)}" if noun else words


@cache
def _noun_genders(code: str) -> dict[str, str]:
    genders: dict[str, str] = {}
    specs = [names[code] for names in _UNIT_NAMES.values()] + _EXTRA_NOUNS[code].split()
    for spec in specs:
        noun = _noun(spec)
        for form in noun.forms:
            genders.setdefault(form.split()[0].split("-")[0].casefold(), noun.gender)
    return genders


_TOKEN_TAIL = re.compile(r"\S{0,40}$")
_TOKEN_HEAD = re.compile(r"\S{0,40}")
_LETTER_DIGIT = re.compile(r"[^\W\d_]\d|\d[^\W\d_]")
_NEXT_WORD = re.compile(r"[ \u00a0\u202f]+([^\W\d_]+)")


def _gender_of_next_word(match: re.Match[str], lang: _Lang) -> str | None:
    if lang.code == "en":
        return None
    word = _NEXT_WORD.match(match.string, match.end())
    return _noun_genders(lang.code).get(word[1].casefold()) if word else None


_DE_DATIVE_BEFORE = re.compile(r"\b(?:seit|mit|nach|von|vor|in|bei|zu|aus|binnen|ab)\s+$", re.I)
_VOWEL_START = re.compile(r"\s*[aeiouàèéìòùAEIOU]")


def _one_in_context(words: str, gender: str, match: re.Match[str], lang: _Lang) -> str:
    """A one whose form depends on the words around it: "seit einer Stunde", "un'ora"."""
    if lang.code == "de" and _DE_DATIVE_BEFORE.search(_before(match)):
        return "einer" if gender == "f" else "einem"
    if lang.code == "it" and words == "una":
        unit = match["unit"]
        after = match.string[match.end() :] if not unit else _pick_first(unit, lang)
        if _VOWEL_START.match(after):
            return "un'"
    return words


def _pick_first(unit: str, lang: _Lang) -> str:
    return _noun(_UNIT_NAMES[_UNIT_SYMBOLS[unit]][lang.code]).forms[0]


def _leftover(match: re.Match[str], lang: _Lang) -> str:
    digits, string, start, end = match[0], match.string, match.start(), match.end()
    token_start = _TOKEN_TAIL.search(string, max(0, start - 40), start).start()
    token = string[token_start : _TOKEN_HEAD.match(string, end).end()]
    if len(digits.lstrip("0")) > _MAX_INT_DIGITS or _LETTER_DIGIT.search(token):
        raise _Unsayable(digits)  # "PM2.5", "v1.2b": a name, not a number
    return _say_number(_Num(_int(digits), digits, "", "", False), lang)


# ---------------------------------------------------------------------------------------------
# Streaming: fenced code across chunks
# ---------------------------------------------------------------------------------------------


class CodeBlockFilter:
    """Removes fenced code blocks from text that arrives in chunks, before sentence splitting.

    Sentence splitting cuts a code block into pieces that ``normalize_for_speech`` can no longer
    recognize as code, so a streaming caller passes the raw chunks through this filter first.
    A block with code in it becomes a paragraph holding the language's spoken phrase; all other
    text comes out unchanged, a partial line as soon as it cannot be the start of a fence.
    """

    def __init__(self, language: str | None) -> None:
        self._language = language
        self._pending = ""
        self._mid_line = False  # the start of the current line has been passed through
        self._fence: str | None = None
        self._has_code = False

    def feed(self, chunk: str) -> str:
        self._pending += chunk
        out: list[str] = []
        while self._pending:
            newline = self._pending.find("\n")
            if newline >= 0:
                line = self._pending[: newline + 1]
                self._pending = self._pending[newline + 1 :]
                out.append(line if self._mid_line else self._line(line))
                self._mid_line = False
            elif self._mid_line or (self._fence is None and not _MAYBE_FENCE.match(self._pending)):
                out.append(self._pending)
                self._pending = ""
                self._mid_line = True
            else:
                break
        return "".join(out)

    def flush(self) -> str:
        out = self._pending if self._mid_line else self._line(self._pending)
        if self._fence is not None and self._has_code:
            out += f"\n\n{self._phrase()}\n\n"
        self._pending, self._mid_line, self._fence, self._has_code = "", False, None, False
        return out

    def _line(self, line: str) -> str:
        if self._fence is None:
            match = _FENCE_OPEN.match(line)
            if match is None:
                return line
            self._fence, self._has_code = match["fence"], False
            return ""
        stripped = line.strip()
        if stripped.startswith(self._fence) and not stripped.strip(self._fence[0]):
            had_code = self._has_code
            self._fence, self._has_code = None, False
            return f"\n\n{self._phrase()}\n\n" if had_code else "\n"
        self._has_code = self._has_code or bool(stripped)
        return ""

    def _phrase(self) -> str:
        name = _language_name(self._language) or "english"
        lang = _LANGS.get(name)
        return lang.code_phrase if lang else _CJK_CODE_PHRASES.get(name, _CODE_PHRASE_OTHER)


_FENCE_OPEN = re.compile(r"[ \t]{0,3}(?P<fence>`{3,}(?=[^`\n]*\n?$)|~{3,})")
_MAYBE_FENCE = re.compile(r"[ \t]{0,3}(?:$|`{1,2}$|~{1,2}$|`{3,}(?=[^`]*$)|~{3,})")
