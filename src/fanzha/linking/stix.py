"""A group's indicators as a STIX 2.1 bundle, and STIX bundles read back into identifiers.

Other platforms (MISP, OpenCTI, other centres) exchange indicators as STIX 2.1. A group
leaves as one ``identity`` (the centre), one ``indicator`` per identifier, with a STIX
pattern, and a ``grouping`` that names the group and holds the indicators. Patterns use
the standard observable types where there is one and the types MISP and OpenCTI already
import where there is not:

====================  ================================================================
kind                  pattern
====================  ================================================================
phone                 ``[phone-number:value = '+8613912345678']``
bank_card             ``[bank-account:account_number = '6222…']``
url                   ``[url:value = 'http://…']``
domain                ``[domain-name:value = 'example.cn']``
ip                    ``[ipv4-addr:value = '…']`` or ``[ipv6-addr:value = '…']``
email                 ``[email-addr:value = '…']``
qq, wechat            ``[user-account:account_type = 'qq' AND user-account:user_id = '…']``
alipay                ``[user-account:account_type = 'alipay' AND user-account:account_login = '…']``
app                   ``[software:name = '…']``
device                ``[x-fanzha-device:device_id = '…']``
====================  ================================================================

Indicator IDs are UUIDv5 of the kind and value, so exporting the same identifier twice
gives the same object and importers de-duplicate it. Each indicator also carries
``x_fanzha_kind`` (a STIX custom property, ignored by tools that do not know it).

Reading a bundle back (:func:`read_bundle`) takes every indicator whose pattern is one
of the shapes above (comparisons joined by ``OR`` are several identifiers) and every
observable of those types; values go through :func:`fanzha.linking.identifiers.normalise_identifier`,
so an imported value links exactly as a report's does. Objects of other types (malware,
file hashes…) are listed as skipped, not errors. A bundle that is not JSON, not a
bundle, or holds an object the STIX library refuses, or a value that cannot be read as
its kind, raises :class:`~fanzha.errors.InputError` naming the object (``objects[3]``,
its ID) and the field.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from fanzha.errors import InputError
from fanzha.linking.identifiers import KIND_CODE, IdentifierError, normalise_identifier

#: UUIDv5 namespace for the centre's STIX IDs (fixed: the same identifier, the same ID).
NAMESPACE = uuid.UUID("6c0f3c56-1d0e-5b8e-9a3e-5f616e7a6861")
PRODUCER = "fanzha"

#: kind -> (object type, property) for kinds that map to one comparison.
_SIMPLE: dict[str, tuple[str, str]] = {
    "phone": ("phone-number", "value"),
    "bank_card": ("bank-account", "account_number"),
    "url": ("url", "value"),
    "domain": ("domain-name", "value"),
    "email": ("email-addr", "value"),
    "app": ("software", "name"),
    "device": ("x-fanzha-device", "device_id"),
}
#: user-account kinds: account_type -> (kind, property holding the value)
_ACCOUNTS: dict[str, tuple[str, str]] = {"qq": ("qq", "user_id"), "wechat": ("wechat", "user_id"),
                                         "alipay": ("alipay", "account_login")}
_ACCOUNT_TYPE_ALIASES = {"weixin": "wechat", "tencent-qq": "qq", "qq-number": "qq"}
#: (object type, property) -> kind, for reading
_READ: dict[tuple[str, str], str] = {v: k for k, v in _SIMPLE.items()}
_READ.update({("ipv4-addr", "value"): "ip", ("ipv6-addr", "value"): "ip",
              ("bank-account", "iban"): "bank_card", ("phone-number", "number"): "phone"})


@dataclass(frozen=True, slots=True)
class SharedIdentifier:
    """One identifier read from a bundle, with where it came from."""

    kind: str
    value: str
    source: str
    stix_id: str
    name: str = ""
    description: str = ""
    labels: tuple[str, ...] = ()
    confidence: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "value": self.value, "source": self.source, "stix_id": self.stix_id,
                "name": self.name, "description": self.description, "labels": list(self.labels),
                "confidence": self.confidence,
                "valid_from": self.valid_from.isoformat() if self.valid_from else None,
                "valid_until": self.valid_until.isoformat() if self.valid_until else None}


@dataclass
class ReadBundle:
    identifiers: list[SharedIdentifier] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)   # {"object", "id", "type", "reason"}

    def as_dict(self) -> dict:
        return {"identifiers": [i.as_dict() for i in self.identifiers], "skipped": self.skipped}


# ------------------------------------------------------------------------------ writing

def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern_for(kind: str, value: str) -> str:
    """The STIX pattern that names one (normalised) identifier."""
    if kind in _SIMPLE:
        t, prop = _SIMPLE[kind]
        return f"[{t}:{prop} = {_literal(value)}]"
    if kind == "ip":
        t = "ipv6-addr" if ":" in value else "ipv4-addr"
        return f"[{t}:value = {_literal(value)}]"
    if kind in _ACCOUNTS:
        _, prop = _ACCOUNTS[kind]
        return f"[user-account:account_type = {_literal(kind)} AND user-account:{prop} = {_literal(value)}]"
    raise InputError(f"unknown identifier kind {kind!r}", field="kind")


def _stix_id(type_: str, *parts: str) -> str:
    return f"{type_}--{uuid.uuid5(NAMESPACE, chr(31).join(parts))}"


def indicators_bundle(group_id: str, identifiers: Iterable[tuple[str, str]], *, created: datetime | None = None,
                      producer: str = PRODUCER, description: str = "",
                      labels: Iterable[str] = ()) -> dict:
    """A STIX 2.1 bundle (as a JSON-ready dict) of the group's identifiers.

    ``identifiers`` are ``(kind, value)`` pairs; each is normalised first, so a bad one
    raises :class:`InputError` naming its position (``identifiers[2].value``)."""
    import stix2

    created = (created or datetime.now(timezone.utc)).astimezone(timezone.utc)
    seen: dict[tuple[str, str], None] = {}
    for i, (kind, value) in enumerate(identifiers):
        try:
            seen[normalise_identifier(kind, value, field=f"identifiers[{i}]")] = None
        except IdentifierError as err:
            raise InputError(err.message, field=err.field) from None
    ident = stix2.Identity(id=_stix_id("identity", "producer", producer), name=producer,
                           identity_class="organization", created=created, modified=created)
    extra_labels = sorted(set(labels))
    objects: list = [ident]
    refs = []
    for kind, value in sorted(seen, key=lambda kv: (KIND_CODE[kv[0]], kv[1])):
        ind = stix2.Indicator(
            id=_stix_id("indicator", kind, value), created=created, modified=created, valid_from=created,
            created_by_ref=ident.id, name=f"{kind} {value}", pattern=pattern_for(kind, value),
            pattern_type="stix", indicator_types=["malicious-activity"],
            labels=["fanzha", f"kind:{kind}", *extra_labels], allow_custom=True, x_fanzha_kind=kind)
        objects.append(ind)
        refs.append(ind.id)
    if refs:
        objects.append(stix2.Grouping(
            id=_stix_id("grouping", producer, group_id), created=created, modified=created,
            created_by_ref=ident.id, name=f"linked group {group_id}", context="suspicious-activity",
            description=description or f"Identifiers shared by the reports of linked group {group_id}.",
            object_refs=refs))
    bundle = stix2.Bundle(objects=objects, id=_stix_id("bundle", producer, group_id, created.isoformat()),
                          allow_custom=True)
    return json.loads(bundle.serialize())


# ------------------------------------------------------------------------------ reading

def _unquote(literal: str) -> str | None:
    """A pattern's string literal as text; ``None`` for other literals (numbers, b64…)."""
    if len(literal) < 2 or literal[0] != "'" or literal[-1] != "'":
        return None
    out, chars = [], iter(literal[1:-1])
    for c in chars:
        out.append(next(chars, "") if c == "\\" else c)
    return "".join(out)


def _pattern_pairs(pattern: str) -> tuple[list[tuple[str, str]], list[str]]:
    """``(kind, raw value)`` pairs a pattern names, and what in it was not understood."""
    from stix2patterns.v21.pattern import Pattern

    comparisons = Pattern(pattern).inspect().comparisons
    pairs: list[tuple[str, str]] = []
    other: list[str] = []
    for obj_type, comps in comparisons.items():
        if obj_type == "user-account":
            types = {_unquote(v) for p, op, v in comps if p == ["account_type"] and op == "="}
            types = {_ACCOUNT_TYPE_ALIASES.get((t or "").lower(), (t or "").lower()) for t in types}
            known = [t for t in types if t in _ACCOUNTS]
            if len(known) != 1:
                other.append("user-account without account_type qq, wechat or alipay")
                continue
            kind, prop = _ACCOUNTS[known[0]]
            props = {prop, "user_id", "account_login"}
            for p, op, v in comps:
                if len(p) == 1 and p[0] in props and op == "=" and _unquote(v) is not None:
                    pairs.append((kind, _unquote(v)))  # type: ignore[arg-type]
            continue
        for p, op, v in comps:
            kind = _READ.get((obj_type, p[0])) if len(p) == 1 else None
            text = _unquote(v)
            if kind is None or op != "=" or text is None:
                other.append(f"{obj_type}:{'.'.join(map(str, p))} {op}")
                continue
            pairs.append((kind, text))
    return pairs, other


def _observable_pairs(obj: dict) -> list[tuple[str, str]]:
    t = obj.get("type")
    if t == "user-account":
        at = _ACCOUNT_TYPE_ALIASES.get(str(obj.get("account_type", "")).lower(), str(obj.get("account_type", "")).lower())
        if at not in _ACCOUNTS:
            return []
        kind, prop = _ACCOUNTS[at]
        v = obj.get(prop) or obj.get("user_id") or obj.get("account_login")
        return [(kind, v)] if isinstance(v, str) else []
    out = []
    for (obj_type, prop), kind in _READ.items():
        if obj_type == t and isinstance(obj.get(prop), str):
            out.append((kind, obj[prop]))
    return out


def _time(obj: dict, key: str) -> datetime | None:
    v = obj.get(key)
    if not isinstance(v, str):
        return None
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None


def read_bundle(data: str | bytes | dict, *, source: str | None = None, file: str | None = None) -> ReadBundle:
    """The identifiers a STIX 2.1 bundle names (see the module docstring).

    ``source``: who shared it; by default the name of the ``identity`` the objects were
    created by, else ``file``, else ``"stix"``."""
    import stix2
    from stix2.exceptions import STIXError

    if isinstance(data, dict):
        doc = data
    else:
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputError(f"not JSON: {err}", file=file) from None
    if not isinstance(doc, dict) or doc.get("type") != "bundle":
        raise InputError("not a STIX bundle (expected an object with \"type\": \"bundle\")", file=file, field="type")
    objects = doc.get("objects", [])
    if not isinstance(objects, list):
        raise InputError("objects must be a list", file=file, field="objects")
    parsed: list[dict] = []
    for i, obj in enumerate(objects):
        where = f"objects[{i}]"
        if not isinstance(obj, dict):
            raise InputError("a STIX object is a JSON object", file=file, field=where)
        oid = obj.get("id") if isinstance(obj.get("id"), str) else None
        try:
            stix2.parse(obj, allow_custom=True)
        except (STIXError, ValueError, TypeError, KeyError) as err:
            raise InputError(f"{oid or 'object'} refused by the STIX 2.1 parser: {err}", file=file,
                             field=where) from None
        parsed.append(obj)
    names = {o["id"]: o.get("name", "") for o in parsed if o.get("type") == "identity"}
    out = ReadBundle()
    seen: set[tuple[str, str, str]] = set()
    for i, obj in enumerate(parsed):
        where, oid, t = f"objects[{i}]", obj.get("id", ""), obj.get("type")
        if t == "indicator":
            if obj.get("pattern_type") != "stix":
                out.skipped.append({"object": where, "id": oid, "type": t,
                                    "reason": f"pattern type {obj.get('pattern_type')!r}"})
                continue
            pairs, other = _pattern_pairs(obj["pattern"])
            field_ = f"{where}.pattern"
            hint = obj.get("x_fanzha_kind")
            if hint is not None and hint not in KIND_CODE:
                raise InputError(f"{oid}: unknown identifier kind {hint!r}", file=file, field=f"{where}.x_fanzha_kind")
        elif t in {ot for ot, _ in _READ} or t == "user-account":
            pairs, other, field_ = _observable_pairs(obj), [], where
        else:
            if t not in ("identity", "grouping", "relationship", "report", "marking-definition", "extension-definition"):
                out.skipped.append({"object": where, "id": oid, "type": t, "reason": "not an identifier"})
            continue
        if other and not pairs:
            out.skipped.append({"object": where, "id": oid, "type": t, "reason": "; ".join(other)})
            continue
        src = source or names.get(obj.get("created_by_ref", "")) or file or "stix"
        for kind, raw in pairs:
            try:
                kind, value = normalise_identifier(kind, raw, field=field_)
            except IdentifierError as err:
                raise InputError(f"{oid}: {err.message}", file=file, field=field_) from None
            if len(value) > 512:
                raise InputError(f"{oid}: {kind} value longer than 512 characters", file=file, field=field_)
            if (kind, value, src) in seen:
                continue
            seen.add((kind, value, src))
            labels = tuple(x for x in obj.get("labels", []) if isinstance(x, str))
            conf = obj.get("confidence")
            out.identifiers.append(SharedIdentifier(
                kind, value, src[:256], oid, str(obj.get("name", ""))[:256], str(obj.get("description", "")),
                labels, conf if isinstance(conf, int) else None, _time(obj, "valid_from"), _time(obj, "valid_until")))
    return out
