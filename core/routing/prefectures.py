"""The 47 prefectures and the many ways people write them.

Owners type their prefecture in a chat ("東京", "東京都", "tokyo", "１３", or a whole
address), so the front door must read all of them; the JIS code is what every hub,
record and dashboard keys on.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from core.text.normalize import nfkc


@dataclass(frozen=True, slots=True)
class Prefecture:
    code: str
    name_ja: str
    name_en: str

    @property
    def short_ja(self) -> str:
        """The name without 都/府/県, as people say it ("東京"); 北海道 has no shorter form."""
        if self.name_ja[-1] in "都府県":
            return self.name_ja[:-1]
        return self.name_ja


PREFECTURES: Final[tuple[Prefecture, ...]] = (
    Prefecture("01", "北海道", "Hokkaido"),
    Prefecture("02", "青森県", "Aomori"),
    Prefecture("03", "岩手県", "Iwate"),
    Prefecture("04", "宮城県", "Miyagi"),
    Prefecture("05", "秋田県", "Akita"),
    Prefecture("06", "山形県", "Yamagata"),
    Prefecture("07", "福島県", "Fukushima"),
    Prefecture("08", "茨城県", "Ibaraki"),
    Prefecture("09", "栃木県", "Tochigi"),
    Prefecture("10", "群馬県", "Gunma"),
    Prefecture("11", "埼玉県", "Saitama"),
    Prefecture("12", "千葉県", "Chiba"),
    Prefecture("13", "東京都", "Tokyo"),
    Prefecture("14", "神奈川県", "Kanagawa"),
    Prefecture("15", "新潟県", "Niigata"),
    Prefecture("16", "富山県", "Toyama"),
    Prefecture("17", "石川県", "Ishikawa"),
    Prefecture("18", "福井県", "Fukui"),
    Prefecture("19", "山梨県", "Yamanashi"),
    Prefecture("20", "長野県", "Nagano"),
    Prefecture("21", "岐阜県", "Gifu"),
    Prefecture("22", "静岡県", "Shizuoka"),
    Prefecture("23", "愛知県", "Aichi"),
    Prefecture("24", "三重県", "Mie"),
    Prefecture("25", "滋賀県", "Shiga"),
    Prefecture("26", "京都府", "Kyoto"),
    Prefecture("27", "大阪府", "Osaka"),
    Prefecture("28", "兵庫県", "Hyogo"),
    Prefecture("29", "奈良県", "Nara"),
    Prefecture("30", "和歌山県", "Wakayama"),
    Prefecture("31", "鳥取県", "Tottori"),
    Prefecture("32", "島根県", "Shimane"),
    Prefecture("33", "岡山県", "Okayama"),
    Prefecture("34", "広島県", "Hiroshima"),
    Prefecture("35", "山口県", "Yamaguchi"),
    Prefecture("36", "徳島県", "Tokushima"),
    Prefecture("37", "香川県", "Kagawa"),
    Prefecture("38", "愛媛県", "Ehime"),
    Prefecture("39", "高知県", "Kochi"),
    Prefecture("40", "福岡県", "Fukuoka"),
    Prefecture("41", "佐賀県", "Saga"),
    Prefecture("42", "長崎県", "Nagasaki"),
    Prefecture("43", "熊本県", "Kumamoto"),
    Prefecture("44", "大分県", "Oita"),
    Prefecture("45", "宮崎県", "Miyazaki"),
    Prefecture("46", "鹿児島県", "Kagoshima"),
    Prefecture("47", "沖縄県", "Okinawa"),
)

BY_CODE: Final[MappingProxyType[str, Prefecture]] = MappingProxyType(
    {p.code: p for p in PREFECTURES}
)

# Romanised suffixes people add ("Osaka-fu", "Tokyo Metropolis", "Aichi Prefecture").
_EN_SUFFIXES: Final = (" prefecture", " metropolis", "-ken", "-fu", "-to", "-do", " ken", " fu")


def _fold_latin(text: str) -> str:
    """Fold "Kōchi", "Hyougo", "Ooita" and "TOKYO" to one spelling.

    Long vowels are written with macrons, "ou" or "oo"; none of the 47 English names
    contains "ou" or "oo", so collapsing them cannot merge two prefectures.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return plain.replace("ou", "o").replace("oo", "o")


_BY_NAME: Final[MappingProxyType[str, str]] = MappingProxyType(
    {
        **{p.name_ja: p.code for p in PREFECTURES},
        **{p.short_ja: p.code for p in PREFECTURES},
        **{_fold_latin(p.name_en): p.code for p in PREFECTURES},
    }
)


def prefecture_code(text: str) -> str | None:
    """The JIS code for whatever an owner typed, or None so the caller can ask again.

    Accepts "13", "１３", "東京都", "東京", "Tokyo", "tokyo-to" and addresses that begin
    with the full prefecture name ("東京都千代田区…").
    """
    cleaned = nfkc(text).strip()
    if not cleaned:
        return None
    if cleaned.isascii() and cleaned.isdigit():
        number = int(cleaned)
        return f"{number:02d}" if 1 <= number <= len(PREFECTURES) else None
    if cleaned in _BY_NAME:
        return _BY_NAME[cleaned]
    for prefecture in PREFECTURES:
        if cleaned.startswith(prefecture.name_ja):
            return prefecture.code
    folded = _fold_latin(cleaned)
    if folded in _BY_NAME:
        return _BY_NAME[folded]
    for suffix in _EN_SUFFIXES:
        if folded.endswith(suffix) and folded.removesuffix(suffix) in _BY_NAME:
            return _BY_NAME[folded.removesuffix(suffix)]
    return None
