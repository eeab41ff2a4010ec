"""Tests for wyoming_qwen_tts.normalize: speech-ready text per language."""

import random
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wyoming_qwen_tts.text import normalize
from wyoming_qwen_tts.text.normalize import (
    CodeBlockFilter,
    detect_language,
    normalize_for_speech,
    numerals,
)

PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LANGUAGES = [
    None,
    "english",
    "german",
    "french",
    "spanish",
    "italian",
    "portuguese",
    "russian",
    "chinese",
    "japanese",
    "korean",
]

ANNOUNCEMENTS = {
    "english": [
        ("It's 21.5 °C outside", "It's twenty-one point five degrees Celsius outside"),
        ("Alarm at 7:30", "Alarm at seven thirty"),
        ("Battery 50%", "Battery fifty percent"),
        ("**Note:** see https://example.com", "Note: see example dot com"),
        (
            "It is -3 °C, feels like 27°F",
            "It is minus three degrees Celsius, feels like twenty-seven degrees Fahrenheit",
        ),
        ("The heating is set to 21.5°", "The heating is set to twenty-one point five degrees"),
        (
            "It used 1 kWh, then 1.2 kWh.",
            "It used one kilowatt hour, then one point two kilowatt hours.",
        ),
        (
            "Wind 15 km/h, humidity 65 %",
            "Wind fifteen kilometers per hour, humidity sixty-five percent",
        ),
        ("Pressure 1013 hPa", "Pressure one thousand and thirteen hectopascals"),
        (
            "CO2 at 850 ppm, PM2.5 at 12 µg/m³",
            "CO2 at eight hundred and fifty parts per million,"
            " PM2.5 at twelve micrograms per cubic meter",
        ),
        (
            "Solar: 3,250 W at 230 V and 14 A",
            "Solar: three thousand two hundred and fifty watts"
            " at two hundred and thirty volts and fourteen amperes",
        ),
        ("Rain: 2.5 mm in 24 h", "Rain: two point five millimeters in twenty-four hours"),
        (
            "Add 500 g of flour and 250 ml of milk",
            "Add five hundred grams of flour and two hundred and fifty milliliters of milk",
        ),
        (
            "You walked 5 km and 1,234 m",
            "You walked five kilometers and one thousand two hundred and thirty-four meters",
        ),
        ("Tank: 1 l left of 10 L", "Tank: one liter left of ten liters"),
        ("Power costs $0.25 per kWh", "Power costs twenty-five cents per kWh"),
        (
            "£1 or €3.50 or $1,000",
            "one pound or three euros and fifty cents or one thousand dollars",
        ),
        (
            "Appointment on 2026-11-25 at 19:05",
            "Appointment on November twenty-fifth, twenty twenty-six at seven oh five p.m.",
        ),
        ("Meeting at 07:45", "Meeting at seven forty-five a.m."),
        ("Lunch at 12:00, dinner at 7 pm", "Lunch at twelve o'clock, dinner at seven p.m."),
        ("The timer ends at 00:15", "The timer ends at twelve fifteen a.m."),
        ("Wake up at 6:30 AM", "Wake up at six thirty a.m."),
        ("The 1st, 2nd, 3rd and 21st floors", "The first, second, third and twenty-first floors"),
        (
            "Built in 1998, sold in 2026",
            "Built in nineteen ninety-eight, sold in twenty twenty-six",
        ),
        ("On March 3, 2026", "On March third, twenty twenty-six"),
        ("We counted 2026 birds", "We counted two thousand and twenty-six birds"),
        ("From 10-15 km/h", "From ten to fifteen kilometers per hour"),
        ("Call 007 about issue #42", "Call zero zero seven about issue number forty-two"),
        ("Tom & Jerry", "Tom and Jerry"),
        ("Version 1.2.3", "Version one dot two dot three"),
        ("The value is 0.05", "The value is zero point zero five"),
        ("Temperatures of −5 °C", "Temperatures of minus five degrees Celsius"),
        ("A 3D printer and H2O", "A 3D printer and H2O"),
        ("Mail john.doe@example.org now", "Mail john dot doe at example dot org now"),
        ("Visit www.home-assistant.io/docs.", "Visit home-assistant dot io."),
        (
            "See [the docs](https://example.com/a_b) and <https://x.org>",
            "See the docs and x dot org",
        ),
    ],
    "german": [
        ("Es sind 21,5 °C draußen", "Es sind einundzwanzig Komma fünf Grad Celsius draußen"),
        ("Wecker um 7:30 Uhr", "Wecker um sieben Uhr dreißig"),
        ("Wecker um 7:30", "Wecker um sieben Uhr dreißig"),
        ("Akku 50 %", "Akku fünfzig Prozent"),
        ("**Hinweis:** siehe https://example.com", "Hinweis: siehe example Punkt com"),
        ("Es sind 21.5 Grad", "Es sind einundzwanzig Komma fünf Grad"),
        (
            "Die Waschmaschine hat 1,2 kWh verbraucht",
            "Die Waschmaschine hat eins Komma zwei Kilowattstunden verbraucht",
        ),
        ("Sie hat 1 kWh verbraucht", "Sie hat eine Kilowattstunde verbraucht"),
        ("Am 3. Oktober um 19:05 Uhr", "Am dritten Oktober um neunzehn Uhr fünf"),
        ("Zum 2. Mal auf dem 1. Platz", "Zum zweiten Mal auf dem ersten Platz"),
        ("Es sind 3.", "Es sind drei."),
        (
            "Der Termin ist am 25.11.2026",
            "Der Termin ist am fünfundzwanzigsten November zweitausendsechsundzwanzig",
        ),
        (
            "Heute ist der 2026-11-25",
            "Heute ist der fünfundzwanzigste November zweitausendsechsundzwanzig",
        ),
        (
            "Das Haus wurde im Jahr 1998 gebaut",
            "Das Haus wurde im Jahr neunzehnhundertachtundneunzig gebaut",
        ),
        ("Es ist 1 Uhr", "Es ist ein Uhr"),
        ("Um 8 Uhr und um 8.15 Uhr", "Um acht Uhr und um acht Uhr fünfzehn"),
        ("Die Tür ist seit 1 Stunde offen", "Die Tür ist seit einer Stunde offen"),
        ("Der Strom kostet 0,32 € pro kWh", "Der Strom kostet zweiunddreißig Cent pro kWh"),
        ("Das kostet 3,50 € oder 1 €", "Das kostet drei Euro und fünfzig Cent oder ein Euro"),
        (
            "Luftdruck 1.013 hPa bei 1.234,5 kWh",
            "Luftdruck eintausenddreizehn Hektopascal"
            " bei eintausendzweihundertvierunddreißig Komma fünf Kilowattstunden",
        ),
        ("Es sind -2 °C", "Es sind minus zwei Grad Celsius"),
        ("Wind mit 10-15 km/h", "Wind mit zehn bis fünfzehn Kilometer pro Stunde"),
        ("Mail an info@example.de", "Mail an info at example Punkt de"),
    ],
    "french": [
        ("Il fait 21,5 °C dehors", "Il fait vingt et un virgule cinq degrés Celsius dehors"),
        ("Réveil à 7h30", "Réveil à sept heures trente"),
        ("Réveil à 7:30", "Réveil à sept heures trente"),
        ("Batterie 50 %", "Batterie cinquante pour cent"),
        ("**Remarque :** voir https://example.com", "Remarque: voir example point com"),
        ("Il est 19h05", "Il est dix-neuf heures cinq"),
        (
            "Rendez-vous à 12h, puis à 0h30 et à 1h",
            "Rendez-vous à midi, puis à minuit trente et à une heure",
        ),
        (
            "Le rendez-vous est le 2026-11-25",
            "Le rendez-vous est le vingt-cinq novembre deux mille vingt-six",
        ),
        (
            "Le 1er janvier, il faisait -5 °C",
            "Le premier janvier, il faisait moins cinq degrés Celsius",
        ),
        ("Le 1 novembre, au 2e étage", "Le premier novembre, au deuxième étage"),
        ("Il fait 1,5 °C", "Il fait un virgule cinq degré Celsius"),
        (
            "Consommation : 1 kWh puis 2,5 kWh",
            "Consommation: un kilowattheure puis deux virgule cinq kilowattheures",
        ),
        ("La porte est ouverte depuis 1 heure", "La porte est ouverte depuis une heure"),
        ("Prix : 1 234,50 €", "Prix: mille deux cent trente-quatre euros et cinquante centimes"),
        ("Il reste £1", "Il reste une livre"),
        ("Écrivez à jean@example.fr", "Écrivez à jean arobase example point fr"),
    ],
    "spanish": [
        ("Hace 21,5 °C fuera", "Hace veintiuno coma cinco grados Celsius fuera"),
        ("Hace 21.5 °C fuera", "Hace veintiuno punto cinco grados Celsius fuera"),
        ("Alarma a las 7:30", "Alarma a las siete y treinta"),
        ("La alarma suena a la 1:00", "La alarma suena a la una en punto"),
        ("Batería al 50 %", "Batería al cincuenta por ciento"),
        ("**Nota:** visita https://example.com", "Nota: visita example punto com"),
        (
            "La cita es el 2026-11-25",
            "La cita es el veinticinco de noviembre de dos mil veintiséis",
        ),
        ("Cuesta 1 € o 21 €", "Cuesta un euro o veintiún euros"),
        ("La puerta lleva 1 hora abierta", "La puerta lleva una hora abierta"),
        ("Viento de 21 km/h", "Viento de veintiún kilómetros por hora"),
        ("El 1º y la 2ª", "El primero y la segunda"),
    ],
    "italian": [
        ("Fuori ci sono 21,5 °C", "Fuori ci sono ventuno virgola cinque gradi Celsius"),
        ("Sveglia alle 7:30", "Sveglia alle sette e trenta"),
        ("Batteria al 50 %", "Batteria al cinquanta per cento"),
        ("**Nota:** vedi https://example.com", "Nota: vedi example punto com"),
        (
            "L'appuntamento è il 2026-11-25",
            "L'appuntamento è il venticinque novembre duemilaventisei",
        ),
        ("Il consumo è di 1 kWh al giorno", "Il consumo è di un kilowattora al giorno"),
        ("La porta è aperta da 1 ora", "La porta è aperta da un'ora"),
        ("Costa 2,50 €", "Costa due euro e cinquanta centesimi"),
    ],
    "portuguese": [
        ("Estão 21,5 °C lá fora", "Estão vinte e um vírgula cinco graus Celsius lá fora"),
        ("Alarme às 7h30", "Alarme às sete e trinta"),
        ("Alarme às 7:30", "Alarme às sete e trinta"),
        ("Alarme às 7h", "Alarme às sete horas"),
        ("Bateria a 50 %", "Bateria a cinquenta por cento"),
        ("**Nota:** veja https://example.com", "Nota: veja example ponto com"),
        (
            "A consulta é em 2026-11-25",
            "A consulta é em vinte e cinco de novembro de dois mil e vinte e seis",
        ),
        ("A porta está aberta há 2 horas", "A porta está aberta há duas horas"),
        ("Custa 1 € ou 2 €", "Custa um euro ou dois euros"),
    ],
    "russian": [
        ("На улице 21,5 °C", "На улице двадцать одна целая пять десятых градуса Цельсия"),
        ("Будильник на 7:30", "Будильник на семь тридцать"),
        ("Будильник на 7:05", "Будильник на семь ноль пять"),
        ("Заряд батареи 50 %", "Заряд батареи пятьдесят процентов"),
        ("**Примечание:** см. https://example.com", "Примечание: см. example точка com"),
        (
            "Встреча 2026-11-25 в 19:05",
            "Встреча двадцать пятое ноября две тысячи двадцать шестого года"
            " в девятнадцать ноль пять",
        ),
        (
            "Температура 21 °C, 22 °C, 25 °C",
            "Температура двадцать один градус Цельсия, двадцать два градуса Цельсия,"
            " двадцать пять градусов Цельсия",
        ),
        ("Прошло 2 минуты", "Прошло две минуты"),
        ("Ветер 1 км/ч, расход 5 кВт·ч", "Ветер один километр в час, расход пять киловатт-часов"),
        ("Цена 3,50 €", "Цена три евро пятьдесят центов"),
        ("В 2026 году", "В две тысячи двадцать шестом году"),
        ("С 25 ноября, 1-е место", "С двадцать пятого ноября, первое место"),
        ("От 5-10 °C", "От пяти до десяти градусов Цельсия"),
        ("Ветер 5–10 м", "Ветер от пяти до десяти метров"),
    ],
}

TABLE = [(lang, text, spoken) for lang, rows in ANNOUNCEMENTS.items() for text, spoken in rows]


@pytest.mark.parametrize(("language", "text", "spoken"), TABLE)
def test_announcements(language: str, text: str, spoken: str) -> None:
    assert normalize_for_speech(text, language) == spoken


MARKDOWN = [
    (
        "## Weather today\nHere is the **forecast** for *Berlin*:\n\n- High of 21.5 °C\n"
        "- Low of 12 °C\n",
        "Weather today. Here is the forecast for Berlin: High of twenty-one point five degrees"
        " Celsius. Low of twelve degrees Celsius",
    ),
    (
        "1. Open the [app](https://home-assistant.io/app)\n2. Check ![the chart](img.png)\n3. Done",
        "Open the app. Check the chart. Done",
    ),
    (
        "| Room | Temp |\n|------|:----:|\n| Kitchen | 20° |\n| Bath | 23° |",
        "Room, Temp. Kitchen, twenty degrees. Bath, twenty-three degrees",
    ),
    ("> Quoted *advice*\n> on two lines", "Quoted advice on two lines"),
    (
        "Run this:\n\n```python\nimport os\nprint(os.getcwd())\n```\n\nThat prints the folder.",
        "Run this: Code omitted. That prints the folder.",
    ),
    ("```yaml\nautomation:\n  - alias: x", "Code omitted."),
    ("```\n```", ""),
    ("Use `ls -la` or ``git status``.", "Use ls -la or git status."),
    (
        "__Bold__ and _italic_ and ~~gone~~ but snake_case stays",
        "Bold and italic and gone but snake_case stays",
    ),
    ("* item one\n+ item two\n• item three", "item one. item two. item three"),
    ("- [x] done\n- [ ] todo", "done. todo"),
    ("Title\n=====\nText\n\n---\n\n***", "Title. Text"),
    ("A long line that\nwraps here", "A long line that wraps here"),
    ("Line one\nLine two", "Line one. Line two"),
    ("Footnote[^1] here.\n\n[^1]: https://example.com", "Footnote here."),
    ("See [docs][1].\n\n[1]: https://example.com", "See docs."),
    ("Bold<br>line and <b>tag</b> &amp; more&nbsp;text", "Bold line and tag and more text"),
    ("One<br>Two", "One. Two"),
    ("Keep <your token> here", "Keep <your token> here"),
    ("Escaped \\*stars\\* and \\_under\\_", "Escaped stars and under"),
    ("### Heading ###", "Heading"),
    ("2*3 is 6", "two×three is six"),
]


@pytest.mark.parametrize(("text", "spoken"), MARKDOWN)
def test_llm_markdown(text: str, spoken: str) -> None:
    assert normalize_for_speech(text, "english") == spoken


@pytest.mark.parametrize(
    ("text", "language", "spoken"),
    [
        ("```\nx = 1\n```", "german", "Code ausgelassen."),
        ("```\nx = 1\n```", "french", "Code omis."),
        ("```\nx = 1\n```", "russian", "Код опущен."),
        ("```\nx = 1\n```", "chinese", "代码已省略。"),
        ("```\nx = 1\n```", "dutch", "Code omitted."),
    ],
)
def test_code_phrase_per_language(text: str, language: str, spoken: str) -> None:
    assert normalize_for_speech(text, language) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("😀", ""),
        ("😀🎉👍🏽🇩🇪", ""),
        ("👨‍👩‍👧‍👦", ""),
        ("Great job 🎉! Lights on 💡", "Great job! Lights on"),
        ("Dinner is ready 🍕🍕", "Dinner is ready"),
        ("Hi👋there", "Hi there"),
        ("✅ Done ➡️ next ⭐", "Done next"),
        ("Step 1️⃣ starts", "Step one starts"),
        ("Alarm (⏰) set", "Alarm set"),
    ],
)
def test_emoji(text: str, spoken: str) -> None:
    assert normalize_for_speech(text, "english") == spoken


def test_control_characters_and_whitespace() -> None:
    text = "It\u200bs\x00 21.5\u00a0°C \t\r\n out\u00adside\ufeff\u2028\x07now"
    assert normalize_for_speech(text, "english") == (
        "Its twenty-one point five degrees Celsius outside now"
    )


@pytest.mark.parametrize(
    ("text", "language", "spoken"),
    [
        ("今天21.5度", "chinese", "今天21.5度"),
        ("今天21.5度", None, "今天21.5度"),
        ("气温21.5°C，湿度50%。", "chinese", "气温21.5°C，湿度50%。"),
        ("会議は2026-11-25の19:05です", "japanese", "会議は2026-11-25の19:05です"),
        ("오늘 기온은 21.5도입니다 😀", "korean", "오늘 기온은 21.5도입니다"),
        ("**注意：** 请看 https://example.com/a 😀", "chinese", "注意： 请看 example.com"),
        ("１２３ 今日は25°Cです。", None, "１２３ 今日は25°Cです。"),
        ("- 第一\n- 第二", "chinese", "第一。 第二"),
    ],
)
def test_cjk_passes_through(text: str, language: str | None, spoken: str) -> None:
    assert normalize_for_speech(text, language) == spoken


@pytest.mark.parametrize(
    ("text", "language", "spoken"),
    [
        ("It's 21.5 °C outside", None, "It's twenty-one point five degrees Celsius outside"),
        ("Es sind 21,5 °C draußen", None, "Es sind einundzwanzig Komma fünf Grad Celsius draußen"),
        ("Il fait 21,5 °C dehors", None, "Il fait vingt et un virgule cinq degrés Celsius dehors"),
        ("На улице 21,5 °C", None, "На улице двадцать одна целая пять десятых градуса Цельсия"),
        ("It's 21.5 °C outside", "en", "It's twenty-one point five degrees Celsius outside"),
        ("Akku 50 %", "de-DE", "Akku fünfzig Prozent"),
        ("Akku 50 %", "auto", "Akku fifty percent"),
        ("Accu 50 %", "dutch", "Accu 50 %"),
        ("**Let op:** zie https://example.com", "dutch", "Let op: zie example.com"),
    ],
)
def test_language_names_and_detection(text: str, language: str | None, spoken: str) -> None:
    assert normalize_for_speech(text, language) == spoken


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("It's 21.5 °C outside and the alarm is at 7:30", "english"),
        ("Es sind 21,5 °C draußen und der Wecker ist gestellt", "german"),
        ("Il fait beau, c'est très agréable aujourd'hui", "french"),
        ("Hace 21,5 °C y el cielo está despejado, ¿no?", "spanish"),
        ("Oggi è una bella giornata e ci sono gli amici", "italian"),
        ("Hoje não está frio e a porta está aberta", "portuguese"),
        ("Будильник на 7:30", "russian"),
        ("今天21.5度", "chinese"),
        ("今日は晴れです", "japanese"),
        ("오늘 기온", "korean"),
        ("Batterie 50 %", "english"),
        ("", None),
        ("123 %", None),
    ],
)
def test_detect_language(text: str, language: str | None) -> None:
    assert detect_language(text) == language


def test_unsayable_numbers_keep_their_digits() -> None:
    big = "123456789012345678901234567890"
    assert normalize_for_speech(f"It has {big} items", "english") == f"It has {big} items"
    assert normalize_for_speech("x" + "9" * 5000, "english") == "x" + "9" * 5000


def test_num2words_failures_keep_the_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> str:
        raise NotImplementedError("not for this language")

    monkeypatch.setattr(numerals, "num2words", broken)
    assert normalize_for_speech("**Battery** 50% at 7:30", "english") == "Battery 50% at 7:30"


def test_never_raises_even_when_a_rule_breaks(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str, name: str) -> str:
        raise RuntimeError("bug")

    monkeypatch.setattr(normalize, "_normalize_step", broken)
    assert normalize_for_speech("Battery\x00  50% 😀", "english") == "Battery 50%"


# -- properties ---------------------------------------------------------------------------------

TOKENS = [
    "21.5", "21,5", "1.000", "1,000", "1 000", "-5", "+3", "−2", "7:30", "19:05", "07:30", "7h30",
    "Uhr", "°C", "°", "%", " %", "km/h", "kWh", "m", "A", "h", "€", "$", "£", "2026-11-25",
    "25.11.2026", "1st", "1er", "1º", "2-го", "**", "*", "_", "__", "`", "```", "\n", "\n\n", "# ",
    "- ", "1. ", "> ", "|", "[a](http://x.com)", "![b](y.png)", "https://example.com/a_b",
    "www.foo.de", "a@b.com", "😀", "🇩🇪", "&", "&amp;", "<b>", "<br>", "\\*", "~~", "#5", "in",
    "year", "am", "der", "November", "ноября", "году", "Tag", "hora", "the", "Mal", "今天", " ",
    ".", ",", ":", "(", ")", "[", "]", "x", "0", "007", "1", "2", "13", "24", "1990", "2026",
    "123456789012345678",
]  # fmt: skip
SOUP = st.lists(st.sampled_from(TOKENS), max_size=30).map("".join)
TEXTS = st.one_of(st.text(max_size=120), SOUP, SOUP.map(lambda s: s.replace("\n", " ")))
ANY_LANGUAGE = st.one_of(st.sampled_from(LANGUAGES), st.text(max_size=8))


@PROPERTY
@given(TEXTS, ANY_LANGUAGE)
def test_never_raises_and_returns_clean_text(text: str, language: str | None) -> None:
    spoken = normalize_for_speech(text, language)
    assert isinstance(spoken, str)
    assert spoken == spoken.strip()
    assert "  " not in spoken and "\n" not in spoken
    assert not any(ord(ch) < 32 for ch in spoken)


@PROPERTY
@given(TEXTS, st.sampled_from(LANGUAGES))
def test_idempotent(text: str, language: str | None) -> None:
    once = normalize_for_speech(text, language)
    assert normalize_for_speech(once, language) == once


@PROPERTY
@given(
    st.text(alphabet=st.characters(categories=["L", "Zs"]), max_size=80), st.sampled_from(LANGUAGES)
)
def test_plain_words_are_kept(text: str, language: str | None) -> None:
    """Text of letters and spaces only loses nothing but extra whitespace (and is made NFC)."""
    expected = " ".join(unicodedata.normalize("NFC", text).split())
    assert normalize_for_speech(text, language) == expected


@pytest.mark.parametrize(
    "text",
    [
        "[" * 20000 + "]" * 20000,
        " " * 40000,
        "# " + " \t" * 20000 + "#",
        "|" + " -" * 20000,
        "1." * 20000,
        "a." * 20000 + "com",
        "*" * 40000,
        "```\n" * 10000,
        "( " * 20000 + ") " * 20000,
    ],
)
def test_long_hostile_input_is_fast(text: str) -> None:
    start = time.perf_counter()
    normalize_for_speech(text, "english")
    assert time.perf_counter() - start < 5


# -- streaming code blocks -------------------------------------------------------------------


def filtered(chunks: list[str], language: str | None = "english") -> str:
    code_filter = CodeBlockFilter(language)
    return "".join(code_filter.feed(chunk) for chunk in chunks) + code_filter.flush()


def random_chunks(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    chunks, i = [], 0
    while i < len(text):
        step = rng.randint(1, 7)
        chunks.append(text[i : i + step])
        i += step
    return chunks


ANSWER = "Here you go:\n\n```python\nimport os\n\nprint(os.getcwd())\n```\nDone, see `x`.\n"


def test_code_filter_replaces_blocks() -> None:
    assert filtered([ANSWER]) == "Here you go:\n\n\n\nCode omitted.\n\nDone, see `x`.\n"
    assert filtered([ANSWER], "german").count("Code ausgelassen.") == 1


@pytest.mark.parametrize("seed", range(20))
def test_code_filter_ignores_chunking(seed: int) -> None:
    assert filtered(random_chunks(ANSWER, seed)) == filtered([ANSWER])


def test_code_filter_streams_prose_without_delay() -> None:
    code_filter = CodeBlockFilter("english")
    assert code_filter.feed("It is ") == "It is "
    assert code_filter.feed("21.5 °C") == "21.5 °C"
    assert code_filter.feed("\n``") == "\n"
    assert code_filter.feed("`sh\nls\n") == ""
    assert code_filter.feed("```\nok") == "\n\nCode omitted.\n\nok"


def test_code_filter_unterminated_and_empty_blocks() -> None:
    assert filtered(["text\n```\nx = 1"]) == "text\n\n\nCode omitted.\n\n"
    assert filtered(["```\n```\nafter"]) == "\nafter"
    assert filtered(["a ```b``` c\n"]) == "a ```b``` c\n"


@PROPERTY
@given(st.text(alphabet=st.characters(exclude_characters="`~")), st.integers(0, 1000))
def test_code_filter_passes_text_without_fences(text: str, seed: int) -> None:
    assert filtered(random_chunks(text, seed)) == text
