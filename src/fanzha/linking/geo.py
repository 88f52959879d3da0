"""Offline IP geolocation: where a gang's dens are, without asking anyone.

The centre's machines do not call foreign services, so locations come from data on the
machine: a centre's own CSV of ``network,country,city`` rows (CIDR blocks, ISO country
codes, the shape most free and commercial IP databases export to) for cities, and the
country database shipped inside the ``iptocc`` package for every address the CSV does
not cover. A lookup tries
each prefix length present in the table, longest first, as one dictionary probe, so
where blocks nest the most specific one wins.
"""

from __future__ import annotations

import csv
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from fanzha.errors import InputError


@dataclass(frozen=True, slots=True)
class Place:
    country: str
    city: str | None = None


class GeoTable:
    """``network -> (country, city)``; ``home`` is the country that is not "overseas"."""

    def __init__(self, rows: list[tuple[str, str, str | None]], home: str = "CN", *, shipped: bool = True) -> None:
        self.home = home
        self.shipped = shipped  # fall back to the package's country database
        self._blocks: dict[tuple[int, int, int], Place] = {}
        lengths: set[tuple[int, int]] = set()
        for network, country, city in rows:
            net = ipaddress.ip_network(network, strict=False)
            bits = net.max_prefixlen
            self._blocks[(net.version, net.prefixlen, int(net.network_address) >> (bits - net.prefixlen))] = \
                Place(country.upper(), city or None)
            lengths.add((net.version, net.prefixlen))
        self._lengths = sorted(lengths, key=lambda x: -x[1])

    @classmethod
    def from_csv(cls, path: str | Path, home: str = "CN") -> GeoTable:
        rows = []
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                for n, row in enumerate(csv.DictReader(fh), start=2):
                    try:
                        ipaddress.ip_network(row["network"], strict=False)
                    except (KeyError, ValueError):
                        raise InputError("not a CIDR network", file=str(path), line=n, field="network") from None
                    if not row.get("country"):
                        raise InputError("country is missing", file=str(path), line=n, field="country")
                    rows.append((row["network"], row["country"], row.get("city")))
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror}", file=str(path)) from None
        return cls(rows, home)

    @classmethod
    def default(cls, path: str | Path | None = None, home: str = "CN") -> GeoTable:
        """The centre's CSV if there is one, over the shipped country database."""
        if path is not None and Path(path).is_file():
            return cls.from_csv(path, home)
        return cls([], home)

    def locate(self, ip: str) -> Place | None:
        """The most specific block holding ``ip``, else the shipped country, or ``None``."""
        addr = ipaddress.ip_address(ip)
        x, bits = int(addr), addr.max_prefixlen
        for version, plen in self._lengths:
            if version == addr.version:
                place = self._blocks.get((version, plen, x >> (bits - plen)))
                if place is not None:
                    return place
        if self.shipped and addr.is_global:
            import iptocc

            country = iptocc.country_code(str(addr))
            return Place(country) if country else None
        return None
