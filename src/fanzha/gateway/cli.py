"""``fanzha gateway …`` (and ``fanzha sim institution``): run the dispatcher, serve
simulated institutions, export the protocol, read the SLA clocks.

Runnable on its own too (``python -m fanzha.gateway.cli dispatch …``), which is how a
supervisor starts a dispatcher process.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import typer

from fanzha.cliutil import OutputFormat, emit_json, fail
from fanzha.errors import InputError

gateway_app = typer.Typer(name="gateway", no_args_is_help=True,
                          help="The institution gateway: dispatcher, protocol, simulator, SLA clocks.")


@gateway_app.callback()
def _gateway() -> None:
    """The institution gateway: dispatcher, protocol, simulator, SLA clocks."""


def _sessions(database_url: str | None):
    from fanzha.store.db import make_engine, session_factory

    return session_factory(make_engine(database_url))


@gateway_app.command("dispatch")
def dispatch_command(
    database_url: str = typer.Option(None, "--database-url", envvar="FANZHA_DATABASE_URL",
                                     help="Database (default: the settings' one)."),
    keys: Path = typer.Option(None, "--keys", help="Keys file (default: FANZHA_GATEWAY_KEYS or "
                              "~/.config/fanzha/gateway-keys.json)."),
    callback_url: str = typer.Option(None, "--callback-url", envvar="FANZHA_GATEWAY_CALLBACK_URL",
                                     help="The centre's /gateway/callbacks as institutions reach it."),
    until_settled: bool = typer.Option(False, "--until-settled", help="Stop when nothing is left to deliver."),
    deadline: float = typer.Option(None, "--deadline", help="Stop after this many seconds."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for an institution's answer."),
    lease: float = typer.Option(None, "--lease", help="Seconds a claim lasts (default: 3 × timeout + 30)."),
    max_in_flight: int = typer.Option(8, "--max-in-flight", help="Requests in flight per institution."),
    rate_per_minute: int = typer.Option(None, "--rate-per-minute", help="Requests a minute per institution."),
    answer_poll: float = typer.Option(60.0, "--answer-poll", help="Ask again after this long without a callback."),
    backoff_base: float = typer.Option(0.5, "--backoff-base"),
    backoff_cap: float = typer.Option(60.0, "--backoff-cap"),
    name: str = typer.Option(None, "--name", help="This dispatcher's name in the records."),
    officer_round: float = typer.Option(None, "--officer-round", help="Minutes: handle the loop's cases 'by hand', "
                                        "what an answer calls for waiting for the next officer round (comparisons); "
                                        "0: automatic. Default: the deployment's FANZHA_LOOP_OFFICER_ROUND, which "
                                        "the callback route also follows (unset: automatic)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Deliver queued orders to institutions until stopped (SIGTERM/SIGINT stop it cleanly)."""
    from fanzha.gateway.dispatcher import DispatchConfig, Dispatcher
    from fanzha.gateway.loop import LoopPolicy
    from fanzha.gateway.signing import Keyring

    if officer_round is not None and officer_round < 0:
        fail(InputError("must be a positive number of minutes (0: automatic)", field="--officer-round"))
    # None: the loop reads the deployment's setting, as the callback route does
    policy = None if officer_round is None else \
        LoopPolicy(officer_round=timedelta(minutes=officer_round) if officer_round else None)
    cfg = DispatchConfig(callback_url=callback_url, timeout_s=timeout, lease_s=lease, max_in_flight=max_in_flight,
                         rate_per_minute=rate_per_minute, answer_poll_s=answer_poll, backoff_base_s=backoff_base,
                         backoff_cap_s=backoff_cap, loop_policy=policy)
    d = Dispatcher(_sessions(database_url), Keyring.load(keys), cfg, name=name)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await d.run(stop, until_settled=until_settled, deadline_s=deadline)

    asyncio.run(main())
    c = d.counters
    summary = {"dispatcher": d.name, "claimed": c.claimed, "answered": c.answered, "retried": c.retried,
               "failed": c.failed, "inbox": c.inbox, "expired": c.expired, "lease_lost": c.lease_lost,
               "by_outcome": c.by_outcome}
    if fmt == OutputFormat.json:
        emit_json(summary)
    else:
        for k, v in summary.items():
            typer.echo(f"{k:12} {v}")


@gateway_app.command("protocol")
def protocol_command(out: Path = typer.Option(Path("docs/institution-protocol.json"), "--out",
                                              help="Where to write the OpenAPI document ('-': stdout).")) -> None:
    """Export the institution protocol (fanzha-institution/1) as an OpenAPI document."""
    from fanzha.gateway.simulator import openapi_document

    text = json.dumps(openapi_document(), ensure_ascii=False, indent=1) + "\n"
    if str(out) == "-":
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}")


@gateway_app.command("keys")
def keys_command(codes: list[str] = typer.Argument(..., help="Institution codes to make keys for."),
                 out: Path = typer.Option(None, "--out", help="Keys file (default: FANZHA_GATEWAY_KEYS or "
                                          "~/.config/fanzha/gateway-keys.json); existing keys are kept.")) -> None:
    """Make per-institution signing keys in a keys file outside the repository."""
    import os

    from fanzha.gateway.signing import DEFAULT_KEYS_FILE, Keyring

    path = Path(out or os.environ.get("FANZHA_GATEWAY_KEYS") or DEFAULT_KEYS_FILE).expanduser()
    ring = Keyring.load(path, env={})
    new = [c for c in codes if c not in ring]
    ring.keys.update(Keyring.generate(new).keys)
    ring.save(path)
    typer.echo(f"{path}: {len(new)} new key(s), {len(ring.keys)} in all")


@gateway_app.command("connect")
def connect_command(url: str = typer.Option(..., "--url", help="Simulator base URL, e.g. http://127.0.0.1:8700"),
                    codes: list[str] = typer.Argument(None, help="Institutions (default: all in the database)."),
                    database_url: str = typer.Option(None, "--database-url", envvar="FANZHA_DATABASE_URL")) -> None:
    """Point institutions at a simulator (sets their api_url)."""
    from sqlalchemy import select

    from fanzha.gateway.simulator import institution_url
    from fanzha.store.db import transaction
    from fanzha.store.models import Institution

    with transaction(_sessions(database_url)) as s:
        q = select(Institution)
        if codes:
            q = q.where(Institution.code.in_(codes))
        rows = s.execute(q).scalars().all()
        for inst in rows:
            inst.api_url = institution_url(url, inst.code)
    typer.echo(f"{len(rows)} institution(s) now at {url}")


@gateway_app.command("sla")
def sla_command(case_no: str = typer.Argument(...),
                database_url: str = typer.Option(None, "--database-url", envvar="FANZHA_DATABASE_URL"),
                fmt: OutputFormat = typer.Option(OutputFormat.table, "--format")) -> None:
    """A case's clocks: received → first request sent → acknowledged → hold confirmed."""
    from fanzha.gateway import sla
    from fanzha.store.types import utcnow

    with _sessions(database_url)() as s:
        try:
            clock = sla.load_case(s, case_no, utcnow()).as_dict()
        except LookupError as err:
            fail(InputError(str(err), field="CASE_NO"))
    if fmt == OutputFormat.json:
        emit_json({"case_no": case_no, **clock})
        return
    typer.echo(f"{case_no}  received {clock['received_at']}")
    for k in ("sent", "acknowledged", "hold_confirmed"):
        typer.echo(f"  {k:15} {clock['seconds'][k]!s:>10} s")
    for a in clock["alarms"]:
        typer.echo(f"  {a['target']:28} {a['state']}" + (f" (late by {a['late_by_s']} s)" if a["late_by_s"] else ""))


@gateway_app.command("stats")
def stats_command(hours: int = typer.Option(24, "--hours"),
                  database_url: str = typer.Option(None, "--database-url", envvar="FANZHA_DATABASE_URL"),
                  fmt: OutputFormat = typer.Option(OutputFormat.table, "--format")) -> None:
    """Per institution: attempts, error rate, median and p95 latency, time to answer."""
    from fanzha.gateway import sla
    from fanzha.store.types import utcnow

    with _sessions(database_url)() as s:
        stats = sla.load_institution_stats(s, utcnow() - timedelta(hours=hours))
    rows = [v.as_dict() for _, v in sorted(stats.items())]
    if fmt == OutputFormat.json:
        emit_json({"hours": hours, "institutions": rows})
        return
    typer.echo(f"{'institution':12} {'attempts':>8} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'answer p50 s':>12}")
    for r in rows:
        typer.echo(f"{r['institution']:12} {r['attempts']:>8} {r['error_rate']:>7.1%} {r['latency_ms_median']!s:>8} "
                   f"{r['latency_ms_p95']!s:>8} {r['answer_s_median']!s:>12}")


loop_app = typer.Typer(name="loop", no_args_is_help=True,
                       help="The automatic stop-payment loop: start it for a case, see where it stands.")
gateway_app.add_typer(loop_app, name="loop")


def parse_receiving(text: str) -> tuple[str, str, int | None]:
    """``ACCOUNT@INSTITUTION`` or ``ACCOUNT@INSTITUTION=YUAN`` (stop that much at once)."""
    from fanzha.money import AmountError, parse_yuan

    head, _, amount = text.partition("=")
    account, _, code = head.partition("@")
    if not account.strip() or not code.strip():
        raise InputError(f"not ACCOUNT@INSTITUTION[=YUAN]: {text!r}", field="RECEIVING")
    try:
        fen = parse_yuan(amount.strip()) if amount else None
    except AmountError as err:
        raise InputError(f"{text!r}: {err}", field="RECEIVING") from None
    return account.strip(), code.strip(), fen


@loop_app.command("start")
def loop_start_command(
    case_no: str = typer.Argument(...),
    receiving: list[str] = typer.Argument(..., help="ACCOUNT@INSTITUTION[=YUAN]: a receiving account the report "
                                          "names, and how much was paid there (stopped at once)."),
    database_url: str = typer.Option(None, "--database-url", envvar="FANZHA_DATABASE_URL"),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Start the loop for a case: query the receiving accounts (a dispatcher sends it all)."""
    from fanzha.gateway import loop
    from fanzha.store import services
    from fanzha.store.db import transaction

    try:
        accounts = [parse_receiving(r) for r in receiving]
        with transaction(_sessions(database_url)) as s:
            made = loop.start(s, services.get_case(s, case_no), accounts, actor="cli")
            out = [{"order_id": o.id, "kind": o.kind, "institution": o.institution.code, "target": o.target,
                    "amount_fen": o.amount_fen} for o in made]
    except LookupError as err:
        fail(InputError(str(err).strip("'\""), field="CASE_NO" if "case" in str(err) else "RECEIVING"))
    except InputError as err:
        fail(err)
    if fmt == OutputFormat.json:
        emit_json({"case_no": case_no, "queued": out})
        return
    typer.echo(f"{case_no}: {len(out)} order(s) queued" + ("" if out else " (the loop had started already)"))
    for o in out:
        typer.echo(f"  {o['kind']:20} {o['institution']:10} {o['target']}")


@loop_app.command("status")
def loop_status_command(case_no: str = typer.Argument(...),
                        database_url: str = typer.Option(None, "--database-url", envvar="FANZHA_DATABASE_URL"),
                        fmt: OutputFormat = typer.Option(OutputFormat.table, "--format")) -> None:
    """Where the loop stands for a case: stolen, held, untraced, what it would ask next."""
    from fanzha.gateway import loop
    from fanzha.store import services

    with _sessions(database_url)() as s:
        try:
            st = loop.status(s, services.get_case(s, case_no))
        except LookupError as err:
            fail(InputError(str(err).strip("'\""), field="CASE_NO"))
    if fmt == OutputFormat.json:
        emit_json(st)
        return
    typer.echo(f"{case_no}  {st['state']}: {st['statements']} statement(s), "
               f"{st['orders']} order(s)")
    for k in ("stolen", "held", "untraced", "unheld", "cashed_out"):
        typer.echo(f"  {k:11} {st[k]:>14}")
    for q in st["queries"]:
        typer.echo(f"  next: query {q['account']} at {q['institution']} (layer {q['layer']})")
    for h in st["holds"]:
        typer.echo(f"  next: hold {h['amount']} at {h['account']} ({h['institution']}, layer {h['layer']})")
    for sk in st["skipped"]:
        typer.echo(f"  skipped {sk['account']}: {sk['reason']}")


def _range(text: str, name: str) -> tuple[float, float]:
    try:
        lo, _, hi = text.partition("-")
        a, b = float(lo), float(hi or lo)
    except ValueError:
        raise InputError(f"not a range like 1-5: {text!r}", field=name) from None
    if a < 0 or b < a:
        raise InputError(f"not a range like 1-5: {text!r}", field=name)
    return a, b


def simulate_command(
    world: Path = typer.Option(..., "--world", help="A `fanzha sim world` directory (ledger.csv, accounts.csv)."),
    institutions: str = typer.Option(None, "--institutions", help="Comma-separated codes (default: all in the world)."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8700, "--port"),
    speed: float = typer.Option(60.0, "--speed", help="Simulated seconds per wall second."),
    start: str = typer.Option(None, "--start", help="Simulated start time (default: the ledger's first row)."),
    keys: Path = typer.Option(None, "--keys", help="Keys file shared with the centre."),
    latency: str = typer.Option("1-5", "--latency", help="Answer latency range, institution seconds."),
    error_rate: float = typer.Option(0.0, "--error-rate"),
    timeout_rate: float = typer.Option(0.0, "--timeout-rate"),
    malformed_rate: float = typer.Option(0.0, "--malformed-rate"),
    callback_rate: float = typer.Option(0.0, "--callback-rate", help="Share answered later by callback."),
    duplicate_callback_rate: float = typer.Option(0.0, "--duplicate-callback-rate"),
    late_callback_rate: float = typer.Option(0.0, "--late-callback-rate"),
    faults: Path = typer.Option(None, "--faults", help='JSON: {"default": {...}, "by_institution": {...}}'),
    seed: int = typer.Option(0, "--seed", help="Draws the faults and the gangs' sweep schedule."),
    sweeps: bool = typer.Option(True, "--sweeps/--no-sweeps",
                                help="From a gang's first report on, its mules sweep the gang's money that is "
                                     "not held to the next layer every 2-8 simulated minutes and the last layer "
                                     "cashes it out (at most 50,000 yuan at a time, 1-5 minutes apart), on a "
                                     "schedule drawn from --seed alone, whoever chases (needs the world's "
                                     "truth/). --no-sweeps: replay the ledger as it is."),
) -> None:
    """Serve simulated institutions over HTTP, their ledgers moving in accelerated time, the
    gangs sweeping and cashing out what is not held once a victim of theirs has reported."""
    import uvicorn

    from fanzha.gateway.signing import Keyring
    from fanzha.gateway.simulator import Faults, SimClock, Simulator, Sweeps, World, build_app, load_faults

    try:
        w = World.from_dir(world, sweeps=Sweeps(seed=seed) if sweeps else None)
        if faults:
            default, by = load_faults(faults)
        else:
            default, by = Faults(latency_s=_range(latency, "--latency"), error_rate=error_rate,
                                 timeout_rate=timeout_rate, malformed_rate=malformed_rate, callback_rate=callback_rate,
                                 duplicate_callback_rate=duplicate_callback_rate,
                                 late_callback_rate=late_callback_rate), {}
        when = datetime.fromisoformat(start) if start else (w.first_time or datetime.now(timezone.utc))
    except (InputError, ValueError) as err:
        fail(err if isinstance(err, InputError) else InputError(str(err)))
    ring = Keyring.load(keys)
    codes = [c.strip() for c in institutions.split(",")] if institutions else None
    sim = Simulator(w, ring, institutions=codes, clock=SimClock(when, speed), faults=default,
                    faults_by_institution=by, seed=seed)
    missing = sorted(c for c in sim.institutions if c not in ring)
    if missing:
        typer.echo(f"warning: no key for {', '.join(missing[:10])}{'…' if len(missing) > 10 else ''}: "
                   f"their requests will be refused (fanzha gateway keys CODE…)", err=True)
    typer.echo(f"serving {len(sim.institutions)} institutions on http://{host}:{port}/institutions/{{code}} "
               f"(×{speed:g} time from {when.isoformat()})", err=True)
    uvicorn.run(build_app(sim), host=host, port=port, log_level="warning")


gateway_app.command("simulate")(simulate_command)


def register(app: typer.Typer) -> None:
    """Add ``fanzha gateway …``, and ``fanzha sim institution`` when the sim commands exist."""
    app.add_typer(gateway_app, name="gateway")
    try:
        from fanzha.sim.cli import sim_app
    except ImportError:  # pragma: no cover - the sim package is part of fanzha
        return
    sim_app.command("institution")(simulate_command)


if __name__ == "__main__":
    gateway_app()
