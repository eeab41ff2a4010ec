"""Per-language words: number vocabulary, month names, units, currencies and counted nouns.

``LANGS`` holds the languages with number rules, by model language name.  English and German
month names and the German ordinal nouns come from ``lexicon``, which the sentence splitter
shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from wyoming_qwen_tts.text.lexicon import ENGLISH_MONTHS, GERMAN_MONTHS, GERMAN_ORDINAL_NOUNS


@dataclass(frozen=True)
class Lang:
    """The words and number conventions of one language with number rules."""

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
LANGS: dict[str, Lang] = {
    lang.name: lang
    for lang in (
        Lang(
            "english", "en", "dot", "at", "minus", "plus", "and", "to", "number", "point",
            "point", True, "Code omitted.",
            ENGLISH_MONTHS,
            "and",
        ),
        Lang(
            "german", "de", "Punkt", "at", "minus", "plus", "und", "bis", "Nummer", "Komma",
            "Komma", True, "Code ausgelassen.",
            GERMAN_MONTHS,
            "und",
        ),
        Lang(
            "french", "fr", "point", "arobase", "moins", "plus", "et", "à", "numéro",
            "virgule", "virgule", False, "Code omis.",
            ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre"),
            "et",
        ),
        Lang(
            "spanish", "es", "punto", "arroba", "menos", "más", "y", "a", "número", "coma",
            "punto", False, "Código omitido.",
            ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
             "septiembre", "octubre", "noviembre", "diciembre"),
            "con",
        ),
        Lang(
            "italian", "it", "punto", "chiocciola", "meno", "più", "e", "a", "numero",
            "virgola", "virgola", False, "Codice omesso.",
            ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
             "settembre", "ottobre", "novembre", "dicembre"),
            "e",
        ),
        Lang(
            "portuguese", "pt", "ponto", "arroba", "menos", "mais", "e", "a", "número",
            "vírgula", "vírgula", False, "Código omitido.",
            ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
             "setembro", "outubro", "novembro", "dezembro"),
            "e",
        ),
        Lang(
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

# A noun after which a German "3." is an ordinal, as a regular expression.
GERMAN_ORDINAL_NOUN = "(?:" + "|".join(sorted(GERMAN_ORDINAL_NOUNS)) + ")"

# "sg|pl" (Russian "one|few|many"), one form when invariant; an optional "f:" or "n:" prefix
# gives the grammatical gender (default masculine), which the number before it agrees with.
UNIT_NAMES: dict[str, dict[str, str]] = {
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
EXTRA_NOUNS = {
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

UNIT_SYMBOLS = {
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
CURRENCIES: dict[str, dict[str, tuple[str, str]]] = {
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
class Noun:
    """A unit, currency or counted noun: its forms after a number, and its gender."""

    forms: tuple[str, ...]
    gender: str  # "m", "f" or "n"


@cache
def parse_noun(spec: str) -> Noun:
    """A noun from its table entry: ``"f:Stunde|Stunden"``."""
    gender = "m"
    if spec[:2] in ("f:", "n:", "m:"):
        gender, spec = spec[0], spec[2:]
    return Noun(tuple(spec.split("|")), gender)


def language_name(language: str | None) -> str | None:
    """The model language name for ``language`` (a name or code); None for Auto."""
    if language is None:
        return None
    key = language.strip().lower()
    if key in ("", "auto"):
        return None
    for lang in LANGS.values():
        if key == lang.code or key.startswith(lang.code + "-") or key.startswith(lang.code + "_"):
            return lang.name
    return {"zh": "chinese", "ja": "japanese", "ko": "korean"}.get(key[:2], key)


def code_phrase(name: str) -> str:
    """What is said instead of a fenced code block, in the language ``name``."""
    lang = LANGS.get(name)
    return lang.code_phrase if lang else _CJK_CODE_PHRASES.get(name, _CODE_PHRASE_OTHER)
