"""Request validation against an OpenAPI 3.0 description (LINE's messaging-api.yml).

The OpenAPI document is turned into one JSON Schema (draft 2020-12) document:

* ``#/components/schemas/X`` becomes ``#/$defs/X``;
* ``nullable: true`` becomes a ``null`` alternative in ``type``;
* a schema with a ``discriminator`` (``Message``, ``Action``, ``Template``...) is split in two:
  ``X__base`` (its own properties, used by subtypes that ``allOf`` it) and ``X`` (the
  dispatcher: ``type`` must be one of the mapping's keys and the object must match the
  subtype's schema). So ``{"type": "text", "text": ...}`` is checked against ``TextMessage``
  and an unknown ``type`` is refused.

A few limits that LINE documents but the OpenAPI file does not state (text ≤ 5,000
characters, quick-reply labels ≤ 20 characters, rich menu areas ≤ 20...) are added by
:data:`LINE_EXTRA_LIMITS`.

Errors are reported the way LINE reports them: ``{"message": ..., "property": ...}`` with
properties written like ``messages[0].quickReply.items``.
"""

from __future__ import annotations

import copy
import re
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]
from jsonschema import Draft202012Validator, validators  # type: ignore[import-untyped,unused-ignore]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped,unused-ignore]

__all__ = [
    "LINE_EXTRA_LIMITS",
    "ErrorDetail",
    "OpenApiSpec",
    "Operation",
    "format_property",
    "line_spec",
    "load_line_spec_text",
]

_COMPONENT_PREFIX = "#/components/schemas/"
_DEF_PREFIX = "#/$defs/"
_BASE_SUFFIX = "__base"
_DROPPED_KEYWORDS = frozenset(
    {"discriminator", "nullable", "example", "externalDocs", "xml"}
    | {"readOnly", "writeOnly", "deprecated", "description", "default"}
)

# Limits documented by LINE but not (or not fully) expressed in messaging-api.yml.
# Each entry is merged into the named component schema before conversion.
LINE_EXTRA_LIMITS: dict[str, dict[str, Any]] = {
    "TextMessage": {"allOf": [{"properties": {"text": {"minLength": 1, "maxLength": 5000}}}]},
    "TextMessageV2": {"allOf": [{"properties": {"text": {"minLength": 1, "maxLength": 5000}}}]},
    "QuickReply": {"required": ["items"], "properties": {"items": {"minItems": 1}}},
    "QuickReplyItem": {
        "required": ["type", "action"],
        "properties": {
            "type": {"enum": ["action"]},
            "action": {
                "allOf": [
                    {"$ref": "#/components/schemas/Action"},
                    {"properties": {"label": {"minLength": 1, "maxLength": 20}}},
                ]
            },
        },
    },
    "PostbackAction": {"allOf": [{"properties": {"displayText": {"maxLength": 300}}}]},
    "MessageAction": {
        "required": ["text"],
        "allOf": [{"properties": {"text": {"maxLength": 300}}}],
    },
    "RichMenuRequest": {
        "required": ["size", "selected", "name", "chatBarText", "areas"],
        "properties": {"areas": {"maxItems": 20}},
    },
    "RichMenuSize": {
        "required": ["width", "height"],
        "properties": {"width": {"minimum": 800, "maximum": 2500}, "height": {"minimum": 250}},
    },
    "RichMenuArea": {"required": ["bounds", "action"]},
    "ReplyMessageRequest": {"properties": {"replyToken": {"minLength": 1}}},
    "PushMessageRequest": {"properties": {"to": {"minLength": 1}}},
    "ShowLoadingAnimationRequest": {"properties": {"loadingSeconds": {"multipleOf": 5}}},
    "FlexCarousel": {"allOf": [{"properties": {"contents": {"minItems": 1, "maxItems": 12}}}]},
}


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of LINE's ``details`` array."""

    message: str
    property: str

    def as_dict(self) -> dict[str, str]:
        return {"message": self.message, "property": self.property}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    body_schema_ref: str | None
    """``"#/$defs/X"`` when the operation takes a JSON body, else ``None``."""
    body_required: bool
    pattern: re.Pattern[str]


def load_line_spec_text() -> str:
    """The packaged copy of LINE's messaging-api.yml (read with importlib.resources)."""
    base = resources.files("integrations.standins").joinpath("specs", "line")
    return base.joinpath("messaging-api.yml").read_text(encoding="utf-8")


def _deep_merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if key == "allOf" and isinstance(value, list):
            target.setdefault("allOf", [])
            target["allOf"] = list(target["allOf"]) + copy.deepcopy(value)
        elif key == "required" and isinstance(value, list):
            target["required"] = sorted(set(target.get("required", [])) | set(value))
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _ref_name(ref: str) -> str:
    if not ref.startswith(_COMPONENT_PREFIX):
        raise ValueError(f"unsupported $ref {ref!r}")
    return ref[len(_COMPONENT_PREFIX) :]


_DISCRIMINATOR_KEYWORD = "x-discriminator"


def _discriminator(validator: Any, spec: Any, instance: Any, _schema: Any) -> Any:
    """Validate `instance` against the subtype its discriminator property names."""
    if not isinstance(instance, dict):
        return
    target = spec["mapping"].get(instance.get(spec["propertyName"]))
    if target is not None:
        yield from validator.descend(instance, {"$ref": target})


_Validator = validators.extend(Draft202012Validator, {_DISCRIMINATOR_KEYWORD: _discriminator})


class _Converter:
    """OpenAPI 3.0 schema objects -> JSON Schema 2020-12."""

    def __init__(self, components: dict[str, Any]) -> None:
        self.components = components
        # discriminated base name -> mapping {type value: subtype name}
        self.discriminated: dict[str, dict[str, str]] = {}
        for name, schema in components.items():
            disc = schema.get("discriminator") if isinstance(schema, dict) else None
            if disc and disc.get("mapping"):
                self.discriminated[name] = {k: _ref_name(v) for k, v in disc["mapping"].items()}
        # subtype name -> set of discriminated bases it belongs to
        self.subtype_of: dict[str, set[str]] = {}
        for base, mapping in self.discriminated.items():
            for sub in mapping.values():
                self.subtype_of.setdefault(sub, set()).add(base)

    def defs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, schema in self.components.items():
            if name in self.discriminated:
                base = dict(schema)
                disc = base.pop("discriminator")
                out[name + _BASE_SUFFIX] = self.convert(base, owner=None)
                prop = disc.get("propertyName", "type")
                mapping = self.discriminated[name]
                # A custom keyword picks the one subtype by the discriminator's value: the
                # standard if/then chain tried every subtype for every message and made each
                # request cost about a millisecond, capping the stand-in below LINE's rates.
                out[name] = {
                    "type": "object",
                    "required": [prop],
                    "properties": {prop: {"type": "string", "enum": sorted(mapping)}},
                    _DISCRIMINATOR_KEYWORD: {
                        "propertyName": prop,
                        "mapping": {key: _DEF_PREFIX + sub for key, sub in mapping.items()},
                    },
                }
            else:
                out[name] = self.convert(schema, owner=name)
        return out

    def convert(self, schema: Any, owner: str | None) -> Any:
        """``owner`` is the component name when ``schema`` is a component's top level."""
        if not isinstance(schema, dict):
            return schema
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "$ref":
                out["$ref"] = _DEF_PREFIX + _ref_name(value)
            elif key == "properties":
                out["properties"] = {k: self.convert(v, None) for k, v in value.items()}
            elif key in ("items", "additionalProperties", "not"):
                out[key] = self.convert(value, None)
            elif key == "allOf":
                out["allOf"] = [self._all_of_entry(v, owner) for v in value]
            elif key in ("anyOf", "oneOf"):
                out[key] = [self.convert(v, None) for v in value]
            elif key in _DROPPED_KEYWORDS:
                continue
            else:
                out[key] = copy.deepcopy(value)
        if schema.get("nullable") is True and "type" in out:
            t = out["type"]
            out["type"] = [*t, "null"] if isinstance(t, list) else [t, "null"]
        if "enum" in out and schema.get("nullable") is True and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        return out

    def _all_of_entry(self, entry: Any, owner: str | None) -> Any:
        if isinstance(entry, dict) and set(entry) == {"$ref"} and owner is not None:
            target = _ref_name(entry["$ref"])
            if target in self.subtype_of.get(owner, set()):
                # A subtype's "extends" link: validate the base's own properties only.
                return {"$ref": _DEF_PREFIX + target + _BASE_SUFFIX}
        return self.convert(entry, None)


def format_property(path: list[str | int] | tuple[str | int, ...]) -> str:
    """``["messages", 0, "text"]`` -> ``"messages[0].text"`` (LINE's style)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _describe(error: ValidationError) -> ErrorDetail:
    path = list(error.absolute_path)
    v = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if v == "required":
        missing = re.match(r"'([^']+)' is a required property", error.message)
        name = missing.group(1) if missing else "?"
        return ErrorDetail("must be specified", format_property([*path, name]))
    if v in ("maxLength", "minLength"):
        lo = schema.get("minLength", 0)
        hi = schema.get("maxLength")
        msg = (
            f"Length must be between {lo} and {hi}"
            if hi is not None
            else f"Length must be at least {lo}"
        )
        return ErrorDetail(msg, format_property(path))
    if v in ("maxItems", "minItems"):
        lo = schema.get("minItems", 0)
        hi = schema.get("maxItems")
        msg = (
            f"Size must be between {lo} and {hi}"
            if hi is not None
            else f"Size must be at least {lo}"
        )
        return ErrorDetail(msg, format_property(path))
    if v == "maximum":
        return ErrorDetail(
            f"must be less than or equal to {error.validator_value}", format_property(path)
        )
    if v == "minimum":
        return ErrorDetail(
            f"must be greater than or equal to {error.validator_value}", format_property(path)
        )
    if v in ("enum", "const"):
        prop = format_property(path)
        if path and path[-1] == "type":
            return ErrorDetail(f"Invalid type: {error.instance!r}", prop)
        return ErrorDetail(f"must be one of {error.validator_value}", prop)
    if v == "type":
        return ErrorDetail(f"must be of type {error.validator_value}", format_property(path))
    if v == "multipleOf":
        return ErrorDetail(f"must be a multiple of {error.validator_value}", format_property(path))
    return ErrorDetail(error.message, format_property(path))


def _path_template_to_regex(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    rx = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts if p)
    return re.compile("^" + rx + "$")


class OpenApiSpec:
    """An OpenAPI 3.0 document ready to validate request bodies.

    Thread-safe: validators are compiled lazily under a lock and are then read-only.
    """

    def __init__(
        self,
        document: dict[str, Any],
        extra_limits: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        components = copy.deepcopy(document.get("components", {}).get("schemas", {}))
        for name, extra in (extra_limits or {}).items():
            if name in components:
                _deep_merge(components[name], extra)
        self.defs: dict[str, Any] = _Converter(components).defs()
        self.operations: list[Operation] = []
        for path, item in document.get("paths", {}).items():
            for method, op in item.items():
                if method not in ("get", "post", "put", "delete", "patch"):
                    continue
                ref: str | None = None
                body = op.get("requestBody") or {}
                content = body.get("content", {})
                json_content = content.get("application/json")
                if json_content and "$ref" in json_content.get("schema", {}):
                    ref = _DEF_PREFIX + _ref_name(json_content["schema"]["$ref"])
                self.operations.append(
                    Operation(
                        method=method.upper(),
                        path=path,
                        operation_id=op.get("operationId", ""),
                        body_schema_ref=ref,
                        body_required=bool(body.get("required")),
                        pattern=_path_template_to_regex(path),
                    )
                )
        # Literal paths first so "/v2/bot/richmenu/list" beats "/v2/bot/richmenu/{id}".
        self.operations.sort(key=lambda o: (o.path.count("{"), -len(o.path)))
        self._validators: dict[str, Draft202012Validator] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_yaml(
        cls, text: str, extra_limits: dict[str, dict[str, Any]] | None = None
    ) -> OpenApiSpec:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return cls(yaml.load(text, Loader=loader), extra_limits)

    def find_operation(self, method: str, path: str) -> Operation | None:
        method = method.upper()
        for op in self.operations:
            if op.method == method and op.pattern.match(path):
                return op
        return None

    def validator(self, schema_ref: str) -> Draft202012Validator:
        with self._lock:
            found = self._validators.get(schema_ref)
            if found is None:
                root = {"$ref": schema_ref, "$defs": self.defs}
                found = _Validator(root)
                self._validators[schema_ref] = found
            return found

    def validate_schema(self, schema_name: str, instance: Any) -> list[ErrorDetail]:
        """Validate ``instance`` against component schema ``schema_name``."""
        return self._validate(_DEF_PREFIX + schema_name, instance)

    def validate_body(self, method: str, path: str, body: Any) -> list[ErrorDetail]:
        """Errors for a JSON body sent to ``method path`` (empty list when fine or unknown)."""
        op = self.find_operation(method, path)
        if op is None or op.body_schema_ref is None:
            return []
        return self._validate(op.body_schema_ref, body)

    def _validate(self, ref: str, instance: Any) -> list[ErrorDetail]:
        errors = sorted(
            self.validator(ref).iter_errors(instance),
            key=lambda e: (list(map(str, e.absolute_path)), str(e.validator)),
        )
        details: list[ErrorDetail] = []
        seen: set[ErrorDetail] = set()
        for err in errors:
            d = _describe(err)
            if d not in seen:
                seen.add(d)
                details.append(d)
        return details


@cache
def line_spec() -> OpenApiSpec:
    """The packaged LINE Messaging API description, with :data:`LINE_EXTRA_LIMITS`."""
    return OpenApiSpec.from_yaml(load_line_spec_text(), LINE_EXTRA_LIMITS)
