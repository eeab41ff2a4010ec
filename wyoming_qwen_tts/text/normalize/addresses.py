"""Addresses: a URL, host name or e-mail address is said as its host, dot by dot.

Scheme, ``www.``, port, path and query are dropped; the host is spoken with the language's word
for the dot ("example dot com"), an e-mail address with its word for ``@``.  Languages without
number rules keep ``example.com``.  Bare host names are recognized by ``www.`` or a common
top-level domain.
"""

from __future__ import annotations

import re

from wyoming_qwen_tts.text.lexicon import CLOSERS, PAUSE_MARKS
from wyoming_qwen_tts.text.normalize.words import LANGS, Lang

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
# Punctuation after an address belongs to the sentence.
_TRAILING = PAUSE_MARKS + CLOSERS


def speak_addresses(line: str, language: str) -> str:
    """``line`` with each URL, host name and e-mail address as it is said in ``language``."""
    lang = LANGS.get(language)
    line = _EMAIL.sub(lambda m: _email(m[0], lang), line)
    line = _URL.sub(lambda m: _url(m[0], lang), line)
    return _BARE_HOST.sub(lambda m: _url(m[0], lang), line)


def _without_trailing(address: str) -> tuple[str, str]:
    """The address and the punctuation after it."""
    core = address.rstrip(_TRAILING)
    return core, address[len(core) :]


def _url(url: str, lang: Lang | None) -> str:
    url, trailing = _without_trailing(url)
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url, flags=re.I)
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1]
    host = re.sub(r":\d*$", "", host).strip(".").lower()
    if host.startswith("www."):
        host = host[4:]
    if not host:
        return trailing
    return _spell_host(host, lang) + trailing


def _email(address: str, lang: Lang | None) -> str:
    address, trailing = _without_trailing(address)
    if lang is None:
        return address + trailing
    local, _, domain = address.rpartition("@")
    return f"{_spell_host(local, lang)} {lang.at} {_spell_host(domain.lower(), lang)}{trailing}"


def _spell_host(host: str, lang: Lang | None) -> str:
    if lang is None:
        return host
    return f" {lang.dot} ".join(part for part in host.split(".") if part)
