"""Values too common to mean anything: the warning list that keeps linking honest.

Two victims who both mention 95588, both installed 支付宝, or both came through the same
carrier-grade NAT share nothing. Linking on such values glues unrelated reports into one
giant group, so they are held back and *reported* (never silently dropped):

* the shipped list (``data/common_values.tsv``: bank and platform hotlines, big apps,
  URL shorteners, platform domains), editable by adding files of the same shape;
* private and shared address space (10/8, 100.64/10, 192.168/16, …), which names a
  network, not a person;
* learned from degree: a value in more than ``max_reports`` reports, or in reports of
  more than ``max_scam_types`` different scam types (a gang runs one or two scripts; a
  value spread over many is somebody else's — a payment platform's collection account,
  a public Wi-Fi).

Analysts may mark a value ``trusted``: it is then never held back by the learned rules
(a gang's busy collection card is still evidence), though the shipped list still applies
unless they remove the value from it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from fanzha.errors import InputError
from fanzha.linking.identifiers import IdentifierError, normalise_identifier

#: Reasons, as written in the output's ``common_values``.
LISTED, PRIVATE_IP, DEGREE, SCAM_TYPES = "listed", "private_ip", "degree", "scam_types"


def read_common_file(path: str | Path | None = None) -> dict[tuple[str, str], str]:
    """``(kind, value) -> why`` from a tab-separated list (the shipped one by default).

    Lines: ``kind<TAB>value[<TAB>why]``; ``#`` starts a comment. Values are normalised
    as report identifiers are, so the list matches however the value is written."""
    if path is None:
        text = resources.files("fanzha.linking").joinpath("data/common_values.tsv").read_text("utf-8")
        name = "common_values.tsv"
    else:
        name = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror}", file=name) from None
    out: dict[tuple[str, str], str] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2:
            raise InputError("expected kind<TAB>value[<TAB>why]", file=name, line=n)
        try:
            key = normalise_identifier(parts[0].strip(), parts[1])
        except IdentifierError as err:
            raise InputError(err.message, file=name, line=n, field=err.field) from None
        out[key] = parts[2].strip() if len(parts) > 2 else ""
    return out


def is_private_ip(value: str) -> bool:
    """Addresses that cannot point at one machine on the internet."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global


@dataclass(frozen=True)
class CommonPolicy:
    """When a value is too common to link on. The same rules serve batch and incremental
    linking, so both give the same groups."""

    max_reports: int = 500
    max_scam_types: int = 3
    listed: dict[tuple[str, str], str] = field(default_factory=read_common_file)
    trusted: frozenset[tuple[str, str]] = frozenset()
    hold_private_ips: bool = True

    def with_files(self, paths: Iterable[str | Path]) -> CommonPolicy:
        """This policy with more values listed from the given files."""
        listed = dict(self.listed)
        for p in paths:
            listed.update(read_common_file(p))
        return CommonPolicy(self.max_reports, self.max_scam_types, listed, self.trusted, self.hold_private_ips)

    def static_reason(self, kind: str, value: str) -> str | None:
        """The reason a value is held back whatever the data says, or ``None``."""
        if (kind, value) in self.listed:
            return LISTED
        if self.hold_private_ips and kind == "ip" and is_private_ip(value):
            return PRIVATE_IP
        return None

    def reason(self, kind: str, value: str, n_reports: int, n_scam_types: int) -> str | None:
        """Why ``(kind, value)``, seen in ``n_reports`` reports of ``n_scam_types`` types,
        must not link — or ``None`` if it may."""
        why = self.static_reason(kind, value)
        if why is not None or (kind, value) in self.trusted:
            return why
        if n_reports > self.max_reports:
            return DEGREE
        if n_scam_types > self.max_scam_types:
            return SCAM_TYPES
        return None


@dataclass(frozen=True, slots=True)
class CommonValue:
    """One held-back value, for the output's warning list."""

    kind: str
    value: str
    reports: int
    scam_types: int
    reason: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "value": self.value, "reports": self.reports,
                "scam_types": self.scam_types, "reason": self.reason}
