"""Canonical forms for what owners type: text, phone numbers, postal codes, dates, numbers.

Input arrives from phone IMEs in every width and style (０３（１２３４）５６７８, R5.4.1,
1,200万円). Each function here either returns the one canonical form or None, so callers
can ask the owner again instead of storing a guess.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

# Characters NFKC leaves alone that people still mean as a hyphen: IMEs turn "-" into the
# long-vowel mark ー in kana mode, and copy-paste brings minus signs and dashes.
_DASH_LIKE = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc", "-"))


def nfkc(text: str) -> str:
    """Unicode NFKC, the one width rule for everything people type: full-width letters and
    digits become half-width, half-width katakana full-width, U+3000 a plain space.

    Every NFKC in core goes through here. jaconv is not needed: NFKC does the width folding
    we want, and what jaconv adds (hiragana to katakana and back) would merge words that
    are different.
    """
    return unicodedata.normalize("NFKC", text)


def normalize_text(text: str) -> str:
    """NFKC plus folded whitespace: the form every stored free-text answer takes.

    NFKC turns full-width letters and digits half-width, half-width katakana full-width and
    the ideographic space U+3000 into a plain space, so the same answer typed on two phones
    compares equal.
    """
    return fold_whitespace(nfkc(text))


def fold_whitespace(text: str) -> str:
    """Collapse every run of whitespace (tabs, newlines, U+3000) into one space and trim."""
    return " ".join(text.split())


def _nfkc_compact(text: str) -> str:
    """NFKC with dash-likes unified and all whitespace dropped: the form codes are read in."""
    return "".join(nfkc(text).translate(_DASH_LIKE).split())


# ---------------------------------------------------------------------------- phone numbers

_PHONE_LABEL = re.compile(r"^(?:tel|phone|電話番号|電話|携帯|☎)[:.]?", re.IGNORECASE)
_PHONE_SHAPE = re.compile(r"\+?[0-9()\-.]+")


def normalize_phone(text: str) -> str | None:
    """Digits-only domestic form ("0312345678"), or None when it is not a Japanese number.

    Accepts hyphens, brackets, full-width digits, a "TEL:" label and the +81 form (with or
    without the trunk 0 in brackets). Whether the digits are a number that exists in Japan
    (length and ranges per prefix: 03 is 10 digits, 090 is 11, 0120 is free dial) is
    phonenumbers' JP metadata, not a table of ours. A number that cannot be dialled in
    Japan is refused rather than stored, because a wrong number would merge two businesses.
    A domestic number must start with its trunk 0 ("81 3 …" without the plus is ambiguous).
    """
    compact = _PHONE_LABEL.sub("", _nfkc_compact(text))
    if not _PHONE_SHAPE.fullmatch(compact) or not compact.lstrip("(").startswith(("0", "+")):
        return None
    number = _parse_jp(compact)
    if number is None:
        return None
    return re.sub(r"\D", "", phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))


def phone_e164(text: str) -> str | None:
    """What `normalize_phone` accepts, in the E.164 form ("+81312345678") that a `tel:` link
    dials and a hub's profile stores; None for what it refuses."""
    digits = normalize_phone(text)
    number = _parse_jp(digits) if digits is not None else None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164) if number else None


def format_phone(stored: str) -> str:
    """The way a Japanese number is written ("03-1234-5678", "0120-123-456", "090-1234-5678"),
    from a stored digits-only or E.164 form; anything unreadable comes back as it was."""
    number = _parse_jp(stored)
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL) if number else stored


def _parse_jp(text: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, "JP")
    except NumberParseException:
        return None
    if number.country_code != 81 or not phonenumbers.is_valid_number(number):
        return None
    return number


# ----------------------------------------------------------------------------- postal codes

_POSTAL = re.compile(r"〒?([0-9]{3})-?([0-9]{4})")


def normalize_postal_code(text: str) -> str | None:
    """ "123-4567" from 〒123-4567, １２３４５６７ or 123 4567; None for anything else."""
    match = _POSTAL.fullmatch(_nfkc_compact(text))
    return f"{match[1]}-{match[2]}" if match else None


# ------------------------------------------------------------------------------------ dates


class DatePrecision(StrEnum):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date as precisely as the owner knew it.

    "2023年4月" is kept as 2023-04-01 with month precision, so reports can show "2023年4月"
    instead of inventing the 1st.
    """

    value: date
    precision: DatePrecision

    @property
    def day_missing(self) -> bool:
        return self.precision != DatePrecision.DAY


@dataclass(frozen=True, slots=True)
class _Era:
    name: str
    letter: str
    start: date
    end: date | None


# Meiji is taken to start with its first year: before 1873 Japan used the lunisolar
# calendar, so checking Meiji 1-5 dates to the day would be fiction anyway.
_ERAS = (
    _Era("明治", "M", date(1868, 1, 1), date(1912, 7, 29)),
    _Era("大正", "T", date(1912, 7, 30), date(1926, 12, 24)),
    _Era("昭和", "S", date(1926, 12, 25), date(1989, 1, 7)),
    _Era("平成", "H", date(1989, 1, 8), date(2019, 4, 30)),
    _Era("令和", "R", date(2019, 5, 1), None),
)
_ERA_BY_KEY = {key: era for era in _ERAS for key in (era.name, era.letter)}

_YEAR = (
    r"(?:西暦)?(?P<western>[0-9]{4})"
    r"|(?P<era>明治|大正|昭和|平成|令和|[MTSHR])(?P<era_year>元|[0-9]{1,2})"
)
_WEEKDAY = r"(?:\([月火水木金土日](?:曜日?)?\))?"
_KANJI_DATE = re.compile(
    rf"(?:{_YEAR})(?:年(?:(?P<month>[0-9]{{1,2}})月(?:(?P<day>[0-9]{{1,2}})日{_WEEKDAY})?)?)?",
    re.IGNORECASE,
)
_SEPARATED_DATE = re.compile(
    rf"(?:{_YEAR})(?P<sep>[/.\-])(?P<month>[0-9]{{1,2}})(?:(?P=sep)(?P<day>[0-9]{{1,2}}){_WEEKDAY})?",
    re.IGNORECASE,
)


def parse_date(text: str) -> PartialDate | None:
    """Read a date the way people type it, Western or by era, to day, month or year.

    Era dates outside their era (平成32年, 昭和64年1月8日, 令和元年4月) are refused, as are
    plans such as 創業予定 or 未定: the caller asks again rather than storing a wrong year.
    A bare number ("2023") is not taken as a year, since it may be anything.
    """
    compact = _nfkc_compact(text)
    match = _KANJI_DATE.fullmatch(compact) or _SEPARATED_DATE.fullmatch(compact)
    if match is None:
        return None
    if match.re is _KANJI_DATE and match["western"] is not None and "年" not in compact:
        return None  # a bare "2023"; an era year alone ("R5") is unambiguous enough
    month = int(match["month"]) if match["month"] else None
    day = int(match["day"]) if match["day"] else None
    era = _ERA_BY_KEY[match["era"].upper()] if match["era"] else None
    if era is not None:
        era_year = 1 if match["era_year"] == "元" else int(match["era_year"])
        if era_year < 1:
            return None
        year = era.start.year + era_year - 1
    else:
        year = int(match["western"])
    result = _partial_date(year, month, day)
    if result is None or (era is not None and not _falls_within(result, era)):
        return None
    return result


def _partial_date(year: int, month: int | None, day: int | None) -> PartialDate | None:
    try:
        if month is None:
            return PartialDate(date(year, 1, 1), DatePrecision.YEAR)
        if day is None:
            return PartialDate(date(year, month, 1), DatePrecision.MONTH)
        return PartialDate(date(year, month, day), DatePrecision.DAY)
    except ValueError:
        return None


def _falls_within(partial: PartialDate, era: _Era) -> bool:
    """Whether any day the owner may have meant lies inside the era."""
    first = partial.value
    if partial.precision == DatePrecision.YEAR:
        last = date(first.year, 12, 31)
    elif partial.precision == DatePrecision.MONTH:
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    else:
        last = first
    return last >= era.start and (era.end is None or first <= era.end)


# ---------------------------------------------------------------------------------- numbers

_APPROX_BEFORE = r"(?:約|およそ|凡そ|おおよそ|概ね|おおむね|大体|だいたい|ほぼ)?"
_APPROX_AFTER = r"(?:程度|くらい|ぐらい|位|前後|ほど)?"
_COUNT = re.compile(rf"{_APPROX_BEFORE}(?P<amount>.+?)(?:人|名)?{_APPROX_AFTER}")
_YEN = re.compile(rf"{_APPROX_BEFORE}[¥\\]?(?P<amount>.+?)円?{_APPROX_AFTER}")

_NUMBER = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_TERM = re.compile(rf"(?P<number>{_NUMBER})(?P<small>[十百千]?)(?P<large>[万億兆]?)")
_SMALL_UNITS = {"": 1, "十": 10, "百": 100, "千": 1_000}
_LARGE_UNITS = {"": 1, "万": 10**4, "億": 10**8, "兆": 10**12}


def parse_int(text: str) -> int | None:
    """A head count as typed ("１２人", "約30名", "1,200", "30人くらい"), or None.

    Approximations are taken at face value, because owners rarely know the exact count; a
    range ("5~10人") or a bound ("3人以上") is refused so the dialog can ask again.
    """
    match = _COUNT.fullmatch(_nfkc_compact(text))
    return _parse_amount(match["amount"]) if match else None


def parse_yen(text: str) -> int | None:
    """An amount of yen as typed ("1,200万円", "3億", "500千円", "1億2000万円"), or None.

    Accounting units such as 千円 and 百万円 are multiplied out, so sales entered from a
    financial statement and from memory compare on one scale.
    """
    match = _YEN.fullmatch(_nfkc_compact(text))
    return _parse_amount(match["amount"]) if match else None


def _parse_amount(text: str) -> int | None:
    """Sum terms such as 1億 + 2000万 + 500; large units must fall from left to right."""
    total = Decimal(0)
    previous_large: int | None = None
    position = 0
    while position < len(text):
        term = _TERM.match(text, position)
        if term is None:
            return None
        large = _LARGE_UNITS[term["large"]]
        if previous_large is not None and large >= previous_large:
            return None
        number = Decimal(term["number"].replace(",", ""))
        total += number * _SMALL_UNITS[term["small"]] * large
        previous_large = large
        position = term.end()
    if previous_large is None or total != total.to_integral_value():
        return None
    return int(total)
