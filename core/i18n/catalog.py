"""The message catalog: every sentence a person reads, in Japanese and English.

Core code never holds user-facing prose. It carries `Text` values (a key and parameters) and
the edge (the LINE or Slack adapter) renders them in the reader's language, so one core
message can reach an owner in Japanese and a partner in English. The texts live in TOML
files shipped inside this package, one folder per language, so translators edit plain files
and a test keeps the two languages in step.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Final, Literal, TypeAlias, get_args

Locale: TypeAlias = Literal["ja", "en"]
LOCALES: Final[tuple[Locale, ...]] = get_args(Locale)
DEFAULT_LOCALE: Final[Locale] = "ja"

ParamValue: TypeAlias = "str | int | date | Text | tuple[Text, ...]"
"""What a placeholder may hold. Nested `Text` values are rendered in the same language, and
a tuple of them is joined with the language's list separator (key `common.list_separator`)."""

LIST_SEPARATOR_KEY: Final = "common.list_separator"


class Text:
    """A sentence still to be rendered: catalog key plus parameters.

    Immutable and hashable so that replies and choices can be compared in tests and kept in
    frozen dataclasses.
    """

    __slots__ = ("_params", "key")

    key: str
    _params: tuple[tuple[str, ParamValue], ...]

    def __init__(self, key: str, /, **params: ParamValue) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "_params", tuple(sorted(params.items())))

    @property
    def params(self) -> dict[str, ParamValue]:
        return dict(self._params)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Text is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Text):
            return NotImplemented
        return self.key == other.key and self._params == other._params

    def __hash__(self) -> int:
        return hash((self.key, self._params))

    def __repr__(self) -> str:
        args = "".join(f", {name}={value!r}" for name, value in self._params)
        return f"Text({self.key!r}{args})"


def resolve_locale(value: str | None) -> Locale:
    """Map whatever a platform reports ("en-US", "ja", None, "ko") onto a catalog language.

    Japanese is the fallback because the owners of a Japanese support centre read it.
    """
    if value:
        base = value.strip().lower().replace("_", "-").split("-", 1)[0]
        for locale in LOCALES:
            if base == locale:
                return locale
    return DEFAULT_LOCALE


def placeholders(template: str) -> frozenset[str]:
    """The parameter names a template uses (`{value.year}` counts as `value`)."""
    names: set[str] = set()
    for _literal, field, _spec, _conversion in string.Formatter().parse(template):
        if field is None:
            continue
        root = field.split(".", 1)[0].split("[", 1)[0]
        if not root or root.isdigit():
            raise ValueError(f"positional placeholder in {template!r}: name every parameter")
        names.add(root)
    return frozenset(names)


class Catalog:
    """All texts of all languages, loaded once.

    A missing key raises `KeyError` rather than showing the key or a blank: the test that
    compares the languages means a missing key is a bug in the code, and hiding it would only
    move the surprise to an owner's phone.
    """

    def __init__(self, texts: Mapping[Locale, Mapping[str, str]]) -> None:
        if DEFAULT_LOCALE not in texts:
            raise ValueError(f"a catalog needs the {DEFAULT_LOCALE} texts")
        self._texts: dict[Locale, dict[str, str]] = {
            locale: dict(entries) for locale, entries in texts.items()
        }

    @classmethod
    def load(cls) -> Catalog:
        """The catalog shipped with the package (read once per process)."""
        return _shipped_catalog()

    @classmethod
    def from_toml(cls, files: Mapping[Locale, Iterable[tuple[str, str]]]) -> Catalog:
        """Build from TOML sources per language, given as (name, content) pairs."""
        texts: dict[Locale, dict[str, str]] = {}
        for locale, sources in files.items():
            merged: dict[str, str] = {}
            for name, content in sources:
                for key, value in _flatten(tomllib.loads(content), prefix="", source=name):
                    if key in merged:
                        raise ValueError(f"{locale}/{name}: key {key!r} is defined twice")
                    merged[key] = value
            texts[locale] = merged
        return cls(texts)

    @property
    def locales(self) -> tuple[Locale, ...]:
        return tuple(self._texts)

    def keys(self, locale: Locale = DEFAULT_LOCALE) -> frozenset[str]:
        return frozenset(self._texts[locale])

    def has(self, key: str) -> bool:
        return key in self._texts[DEFAULT_LOCALE]

    def template(self, key: str, locale: str = DEFAULT_LOCALE) -> str:
        return self._texts[self._locale(locale)][key]

    def text(self, key: str, locale: str = DEFAULT_LOCALE, **params: ParamValue) -> str:
        """Render one key; an unknown language falls back to Japanese."""
        resolved = self._locale(locale)
        template = self._texts[resolved][key]
        rendered = {name: self._param(value, resolved) for name, value in params.items()}
        return template.format(**rendered)

    def render(self, text: Text, locale: str = DEFAULT_LOCALE) -> str:
        return self.text(text.key, locale, **text.params)

    def _locale(self, locale: str) -> Locale:
        for known in self._texts:
            if known == locale:
                return known
        return DEFAULT_LOCALE

    def _param(self, value: ParamValue, locale: Locale) -> Any:
        if isinstance(value, Text):
            return self.render(value, locale)
        if isinstance(value, tuple):
            separator = self._texts[locale][LIST_SEPARATOR_KEY]
            return separator.join(self.render(item, locale) for item in value)
        return value


def _flatten(table: Mapping[str, Any], *, prefix: str, source: str) -> Iterator[tuple[str, str]]:
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            yield from _flatten(value, prefix=f"{key}.", source=source)
        elif isinstance(value, str):
            yield key, value
        else:
            raise ValueError(f"{source}: {key!r} must be a string, not {type(value).__name__}")


def _toml_files(folder: Traversable) -> list[tuple[str, str]]:
    if not folder.is_dir():
        return []
    files = [item for item in folder.iterdir() if item.is_file() and item.name.endswith(".toml")]
    return [(item.name, item.read_text(encoding="utf-8")) for item in sorted(files, key=_name)]


def _name(item: Traversable) -> str:
    return item.name


@cache
def _shipped_catalog() -> Catalog:
    package = resources.files(__package__ or "core.i18n")
    return Catalog.from_toml({locale: _toml_files(package / locale) for locale in LOCALES})
