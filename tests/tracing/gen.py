"""Random mule networks for the tracing tests: victims pay a first layer of mules,
layers sweep onward, the last layer cashes out, rebates go back to victims, and
ordinary people, shops and cash deposits trade with everyone in between."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fanzha.money import format_fen

CST = timezone(timedelta(hours=8))
START = datetime(2024, 4, 29, 8, 0, tzinfo=CST)


@dataclass
class World:
    rows: list[tuple[str, datetime, str, str, int]]   # txn_id, ts, from, to, fen (file order)
    victims: list[tuple[str, str]]                    # victim_id, txn_id
    opening: dict[str, int]                           # accounts.csv (may be too low: raised)

    def write(self, out: Path, *, accounts: bool = True) -> dict[str, Path]:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "ledger.csv", "w", encoding="utf-8") as fh:
            fh.write("txn_id,timestamp,from_account,to_account,amount\n")
            for tid, ts, src, dst, fen in self.rows:
                fh.write(f"{tid},{ts.isoformat()},{src},{dst},{format_fen(fen)}\n")
        with open(out / "victims.csv", "w", encoding="utf-8") as fh:
            fh.write("victim_id,txn_id\n")
            for v, t in self.victims:
                fh.write(f"{v},{t}\n")
        paths = {"ledger": out / "ledger.csv", "victims": out / "victims.csv"}
        if accounts:
            with open(out / "accounts.csv", "w", encoding="utf-8") as fh:
                fh.write("account,opening_balance,institution,holder\n")
                for a, fen in sorted(self.opening.items()):
                    fh.write(f"{a},{format_fen(fen)},BANK{hash(a) % 3},\n")
            paths["accounts"] = out / "accounts.csv"
        return paths


def mule_world(seed: int, *, victims: int = 3, mules: int = 6, people: int = 5, rows: int = 60,
               shared_victim_accounts: bool = True) -> World:
    rnd = random.Random(seed)
    vacct = [f"v{i}" for i in range(victims)]
    if shared_victim_accounts and victims > 1 and rnd.random() < 0.3:
        vacct[-1] = vacct[0]   # two victims paying from one (family) account
    mule = [f"m{i}" for i in range(mules)]
    folk = [f"p{i}" for i in range(people)]
    everyone = mule + folk
    opening = {a: rnd.choice([0, 0, 100, 5_000, 50_000]) for a in everyone + vacct if rnd.random() < 0.7}
    out: list[tuple[str, datetime, str, str, int]] = []
    vict: list[tuple[str, str]] = []
    t = START
    n = 0
    for _ in range(rows):
        n += 1
        if rnd.random() < 0.7:
            t += timedelta(seconds=rnd.choice([0, 1, 30, 600]))
        tid = f"T{n:04d}"
        kind = rnd.random()
        fen = rnd.choice([1, 7, 99, 100, 1_000, 12_345, 50_000, 300_000])
        if kind < 0.2 and victims:
            i = rnd.randrange(victims)
            dst = rnd.choice(mule[: max(1, mules // 2)] + ([""] if rnd.random() < 0.05 else [])
                             + ([rnd.choice(vacct)] if rnd.random() < 0.05 else []))
            out.append((tid, t, vacct[i], dst, fen))
            vict.append((f"V{i}", tid))
        elif kind < 0.55:
            src = rnd.choice(mule)
            dst = rnd.choice(mule + [""] + [rnd.choice(vacct)] + folk[:1] + ([src] if rnd.random() < 0.05 else []))
            out.append((tid, t, src, dst, fen))
        elif kind < 0.7:
            out.append((tid, t, "", rnd.choice(everyone), fen))
        else:
            src = rnd.choice(everyone + vacct)
            dst = rnd.choice(everyone + vacct + [""])
            if src == "" and dst == "":
                dst = everyone[0]
            out.append((tid, t, src, dst, fen))
    # Shuffle a little of the file order while keeping times meaningful: rows with equal
    # times must keep file order, others are sorted by the reader.
    if rnd.random() < 0.5:
        rnd.shuffle(out)
    return World(out, vict, opening)
