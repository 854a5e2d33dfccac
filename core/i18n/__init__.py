"""The message catalog: core speaks in keys, the edge renders them in the reader's language."""

from core.i18n.catalog import (
    DEFAULT_LOCALE,
    LOCALES,
    Catalog,
    Locale,
    ParamValue,
    Text,
    placeholders,
    resolve_locale,
)

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "Catalog",
    "Locale",
    "ParamValue",
    "Text",
    "placeholders",
    "resolve_locale",
]
