"""Fund tracing (资金查控), freeze plans and restitution (原路返还).

Follow a report from ledger to return orders in this order:

* :mod:`~fanzha.tracing.ledger` — reads ``ledger.csv``/``.parquet``, ``victims.csv`` and
  ``accounts.csv`` (FORMATS.md) strictly, into columns in replay order;
* :mod:`~fanzha.tracing.index` — indexes a ledger once: per-account debits and running
  balances, opening balances raised where needed;
* :mod:`~fanzha.tracing.engine` — lots and the rules ``fifo``, ``lifo``, ``pro-rata``,
  ``libr``; the full replay and the sub-ledger trace (the same result, far faster);
  layers, paths and reach; the FORMATS.md JSON;
* :mod:`~fanzha.tracing.freeze` — holds for the victims' money only, in priority order,
  with legal basis and expiry;
* :mod:`~fanzha.tracing.restitution` — frozen money back to the victims' own accounts,
  ``traced`` or ``pooled``, every fen accounted for;
* :mod:`~fanzha.tracing.graph` — the flow as a self-contained HTML page;
* :mod:`~fanzha.tracing.service` and :mod:`~fanzha.tracing.cli` — what the API and the
  ``fanzha trace`` / ``fanzha restitution`` commands call.
"""
