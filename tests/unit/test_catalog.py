"""The catalog: both languages say the same things, with the same placeholders."""

from __future__ import annotations

from datetime import date

import pytest

from core.i18n import LOCALES, Catalog, Text, placeholders, resolve_locale


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def test_every_language_has_exactly_the_same_keys(catalog: Catalog) -> None:
    ja = catalog.keys("ja")
    for locale in LOCALES:
        keys = catalog.keys(locale)
        assert keys - ja == set(), f"only in {locale}"
        assert ja - keys == set(), f"missing in {locale}"


def test_every_key_uses_the_same_placeholders_in_every_language(catalog: Catalog) -> None:
    for key in sorted(catalog.keys("ja")):
        expected = placeholders(catalog.template(key, "ja"))
        for locale in LOCALES:
            assert placeholders(catalog.template(key, locale)) == expected, (locale, key)


def test_no_text_is_empty(catalog: Catalog) -> None:
    for locale in LOCALES:
        for key in catalog.keys(locale):
            assert catalog.template(key, locale).strip(), (locale, key)


def test_shipped_files_are_all_loaded(catalog: Catalog) -> None:
    assert catalog.has("conversation.resume.prompt")
    assert catalog.has("common.yes")
    assert catalog.text("conversation.resume.prompt") == "前回の続きから再開しますか？"


def test_load_is_cached() -> None:
    assert Catalog.load() is Catalog.load()


def test_placeholders_are_filled(catalog: Catalog) -> None:
    assert catalog.text("conversation.error.too_long", "en", max=20) == (
        "Sorry, please keep it within 20 characters."
    )


def test_nested_texts_dates_and_lists_render_in_the_same_language(catalog: Catalog) -> None:
    when = Text("common.date", value=date(2026, 4, 1))
    assert catalog.render(when, "ja") == "2026年4月1日"
    assert catalog.render(when, "en") == "1 April 2026"
    labels = Text("conversation.multi.selected", labels=(Text("common.yes"), Text("common.no")))
    assert catalog.render(labels, "ja") == "選択中：はい、いいえ"
    assert catalog.render(labels, "en") == "Selected: Yes, No"


def test_unknown_locale_falls_back_to_japanese(catalog: Catalog) -> None:
    assert catalog.text("common.yes", "fr") == catalog.text("common.yes", "ja") == "はい"


def test_missing_key_raises() -> None:
    with pytest.raises(KeyError):
        Catalog.load().text("conversation.no_such_key")


def test_missing_parameter_raises(catalog: Catalog) -> None:
    with pytest.raises(KeyError):
        catalog.text("conversation.error.too_long")


@pytest.mark.parametrize(
    ("reported", "expected"),
    [("ja", "ja"), ("en", "en"), ("en-US", "en"), ("EN_gb", "en"), ("ko", "ja"), (None, "ja")],
)
def test_resolve_locale(reported: str | None, expected: str) -> None:
    assert resolve_locale(reported) == expected


def test_nested_tables_become_dotted_keys_and_duplicates_are_refused() -> None:
    catalog = Catalog.from_toml({"ja": [("a.toml", '[x.y]\nz = "深い"\n')]})
    assert catalog.text("x.y.z") == "深い"
    with pytest.raises(ValueError, match="twice"):
        Catalog.from_toml({"ja": [("a.toml", '[x]\ny = "1"\n'), ("b.toml", '[x]\ny = "2"\n')]})
    with pytest.raises(ValueError, match="must be a string"):
        Catalog.from_toml({"ja": [("a.toml", "[x]\ny = 1\n")]})


def test_text_values_compare_by_key_and_parameters() -> None:
    assert Text("a", n=1) == Text("a", n=1)
    assert Text("a", n=1) != Text("a", n=2)
    assert len({Text("a", n=1), Text("a", n=1)}) == 1
    assert Text("a", n=1).params == {"n": 1}
    with pytest.raises(AttributeError):
        Text("a").key = "b"


def _files(locale: str) -> dict[str, dict[str, str]]:
    """{file name: {key: template}} of one language's folder, read apart from the loader."""
    import tomllib
    from importlib import resources

    from core.i18n.catalog import _flatten

    folder = resources.files("core.i18n") / locale
    found: dict[str, dict[str, str]] = {}
    for item in folder.iterdir():
        if item.name.endswith(".toml"):
            table = tomllib.loads(item.read_text(encoding="utf-8"))
            found[item.name] = dict(_flatten(table, prefix="", source=item.name))
    return found


def test_every_file_of_every_language_has_its_counterpart_key_for_key() -> None:
    """Each topic file (new ones too) is translated in full, in the file of the same name, with
    the same placeholders: an English reader never meets a Japanese-only text."""
    ja = _files("ja")
    assert ja, "no Japanese catalog files found"
    for locale in LOCALES:
        other = _files(locale)
        assert sorted(other) == sorted(ja), locale
        for name, texts in ja.items():
            assert sorted(other[name]) == sorted(texts), (locale, name)
            for key, template in texts.items():
                assert placeholders(other[name][key]) == placeholders(template), (locale, key)


def test_no_english_text_is_left_in_japanese() -> None:
    """An English text with kana or kanji is an untranslated copy, unless it quotes what
    people type or read in Japan (listed below with the reason)."""
    import re

    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    catalog = Catalog.load()
    left = {key for key in catalog.keys("en") if japanese.search(catalog.template(key, "en"))}
    assert left <= ON_PURPOSE_JAPANESE, sorted(left - ON_PURPOSE_JAPANESE)


ON_PURPOSE_JAPANESE = frozenset(
    {
        # What a person types or reads in Japan, quoted for an English reader.
        "console.import.error.kind",
        "console.import.error.prefecture",
        "console.kind.shoko_kaigisho",
        "console.kind.shokokai",
        "console.kind.smrj",
        "selfcheck.calc.error.amount",
        "selfcheck.calc.fixed_costs",
        "selfcheck.calc.sales",
        "selfcheck.calc.variable_costs",
        # The language switch names the other language in that language.
        "console.other_language",
    }
)
