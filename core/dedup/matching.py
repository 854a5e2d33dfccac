"""Whether two business records describe the same business, and why.

Evidence is weighed strongest first: the 法人番号 settles it either way; a shared phone
number is next; a name counts only together with the place, because shop names repeat
across Japan (there are many パン工房さくら) and merging two businesses mixes their
histories. Each verdict carries its reason so the UI can explain a merge to the CO.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from core.domain.corporate_number import normalize_corporate_number
from core.text.normalize import nfkc, normalize_phone


@dataclass(frozen=True, slots=True)
class BusinessFacts:
    """What an owner or a CO typed about a business, as typed."""

    name: str
    corporate_number: str | None = None
    phone: str | None = None
    prefecture_code: str | None = None
    """JIS X 0401 code, "01" to "47"."""
    municipality: str | None = None
    representative_name: str | None = None


class MatchReason(StrEnum):
    SAME_CORPORATE_NUMBER = "same_corporate_number"
    SAME_PHONE = "same_phone"
    SAME_NAME_AND_PLACE = "same_name_and_place"
    DIFFERENT_CORPORATE_NUMBER = "different_corporate_number"
    DIFFERENT_PLACE = "different_place"
    """Same name, but another prefecture or municipality (or no prefecture to compare)."""
    DIFFERENT_REPRESENTATIVE = "different_representative"
    """Same name and place, but both records name a representative and they differ."""
    NO_EVIDENCE = "no_evidence"


# Strongest first: find_match prefers the earliest reason in this order.
_SAME_REASONS = (
    MatchReason.SAME_CORPORATE_NUMBER,
    MatchReason.SAME_PHONE,
    MatchReason.SAME_NAME_AND_PLACE,
)


@dataclass(frozen=True, slots=True)
class MatchVerdict:
    reason: MatchReason

    @property
    def same(self) -> bool:
        return self.reason in _SAME_REASONS


@dataclass(frozen=True, slots=True)
class Match:
    record: BusinessFacts
    reason: MatchReason


# Legal forms in their NFKC, case-folded spelling. Longer forms first, so 医療法人社団 goes
# whole instead of leaving 社団 behind.
_JAPANESE_LEGAL_FORMS = (
    "特定非営利活動法人",
    "一般社団法人",
    "一般財団法人",
    "公益社団法人",
    "公益財団法人",
    "社会福祉法人",
    "医療法人社団",
    "医療法人財団",
    "医療法人",
    "npo法人",
    "株式会社",
    "有限会社",
    "合同会社",
    "合資会社",
    "合名会社",
    "(一社)",
    "(一財)",
    "(公社)",
    "(公財)",
    "(特非)",
    "(社福)",
    "(株)",
    "(有)",
    "(同)",
    "(資)",
    "(名)",
    "(医)",
    "(福)",
    "(社)",
    "(財)",
)
# Latin forms only count as whole words, so "CoCo壱番屋" keeps its "co".
_LATIN_LEGAL_FORM = re.compile(
    r"(?:^|(?<=[\s,.&]))"
    r"(?:co\.?\s*,?\s*ltd|ltd|inc|corp(?:oration)?|k\.\s*k|llc|co)\.?"
    r"(?=[\s,.)]|$)"
)


def name_key(name: str) -> str:
    """The business name reduced to what identifies it, for comparing only.

    Legal forms (株式会社, ㈱, (有), Co., Ltd. ...) are dropped wherever they stand, widths
    unified, case folded and spaces, 中黒 and punctuation removed, so 「㈱ＡＢＣ商事」 and
    "ABC商事 株式会社" share one key. Readings in kana (カブシキガイシャ) are kept: they are
    too rare to be worth the risk of cutting into a real name.
    """
    text = nfkc(name).casefold()
    text = _LATIN_LEGAL_FORM.sub(" ", text)
    text = "".join(text.split())
    for form in _JAPANESE_LEGAL_FORMS:
        text = text.replace(form, "")
    return "".join(char for char in text if unicodedata.category(char)[0] not in "PSZC")


def compare(a: BusinessFacts, b: BusinessFacts) -> MatchVerdict:
    """Whether a and b are one business, with the reason that decided it."""
    number_a = _corporate_number(a)
    number_b = _corporate_number(b)
    if number_a is not None and number_b is not None:
        if number_a == number_b:
            return MatchVerdict(MatchReason.SAME_CORPORATE_NUMBER)
        return MatchVerdict(MatchReason.DIFFERENT_CORPORATE_NUMBER)
    phone_a = _phone(a)
    if phone_a is not None and phone_a == _phone(b):
        return MatchVerdict(MatchReason.SAME_PHONE)
    key_a = name_key(a.name)
    if not key_a or key_a != name_key(b.name):
        return MatchVerdict(MatchReason.NO_EVIDENCE)
    if not _same_place(a, b):
        return MatchVerdict(MatchReason.DIFFERENT_PLACE)
    representative_a = _compact(a.representative_name)
    representative_b = _compact(b.representative_name)
    if representative_a and representative_b and representative_a != representative_b:
        return MatchVerdict(MatchReason.DIFFERENT_REPRESENTATIVE)
    return MatchVerdict(MatchReason.SAME_NAME_AND_PLACE)


def find_match(candidate: BusinessFacts, existing: Iterable[BusinessFacts]) -> Match | None:
    """The existing record the candidate is, by the strongest evidence; the first on a tie."""
    best: Match | None = None
    for record in existing:
        verdict = compare(candidate, record)
        if not verdict.same:
            continue
        if best is None or _SAME_REASONS.index(verdict.reason) < _SAME_REASONS.index(best.reason):
            best = Match(record, verdict.reason)
            if verdict.reason is _SAME_REASONS[0]:
                break
    return best


def _corporate_number(facts: BusinessFacts) -> str | None:
    if facts.corporate_number is None:
        return None
    return normalize_corporate_number(facts.corporate_number)


def _phone(facts: BusinessFacts) -> str | None:
    return normalize_phone(facts.phone) if facts.phone is not None else None


def _same_place(a: BusinessFacts, b: BusinessFacts) -> bool:
    """Same prefecture, and the same municipality unless one side does not know it."""
    prefecture_a = _prefecture(a.prefecture_code)
    if prefecture_a is None or prefecture_a != _prefecture(b.prefecture_code):
        return False
    municipality_a = _compact(a.municipality)
    municipality_b = _compact(b.municipality)
    return not municipality_a or not municipality_b or municipality_a == municipality_b


def _prefecture(code: str | None) -> str | None:
    compact = _compact(code)
    if not compact:
        return None
    return compact.zfill(2) if compact.isdigit() else compact


def _compact(text: str | None) -> str:
    """NFKC without whitespace: "山田　太郎" and "山田 太郎" are one name."""
    if text is None:
        return ""
    return "".join(nfkc(text).casefold().split())
