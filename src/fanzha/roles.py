"""Who may do what.

Roles are the centre's own jobs (MISSION.md, "Who uses it"). Permissions are a plain
table, so the whole matrix can be read in one place and tested without a server.
Scoping (a station officer sees only its unit's cases, a liaison only its
institution's orders) is applied on top of these permissions by the API layer.
"""

from __future__ import annotations

import enum


class Role(str, enum.Enum):
    # people
    analyst = "analyst"                  # 反诈中心民警
    station_officer = "station_officer"  # 基层所队民警
    liaison = "liaison"                  # 银行/支付/运营商驻点人员
    dissuasion = "dissuasion"            # 劝阻专员
    commander = "commander"
    admin = "admin"
    # other systems (API keys)
    platform = "platform"                # 110 call platform, national case platform
    institution = "institution"          # a bank's, payment company's or operator's system
    carrier = "carrier"                  # carriers, DNS resolvers, browsers asking "is this fraud?"


PEOPLE = frozenset({Role.analyst, Role.station_officer, Role.liaison, Role.dissuasion, Role.commander, Role.admin})
SYSTEMS = frozenset({Role.platform, Role.institution, Role.carrier})


class Permission(str, enum.Enum):
    cases_read = "cases:read"            # case list and case pages (personal data)
    cases_write = "cases:write"          # open a case, file a report from a form
    reports_feed = "reports:feed"        # platform feeds push reports
    orders_send = "orders:send"          # queries, stop-payments, freezes, shutdowns, takedowns
    orders_read = "orders:read"
    orders_answer = "orders:answer"      # an institution (or its liaison) answers
    orders_callback = "orders:callback"  # an institution's system calls back (signed, fanzha-institution/1)
    tracing = "tracing:run"              # ledgers, traces, freeze plans, restitution
    linking_read = "linking:read"        # linked groups, gang pages, 身份还原, exports (across units)
    linking_write = "linking:write"      # confirm or reject a link; import shared indicators
    warnings_work = "warnings:work"      # the dissuasion queue
    intercept_check = "intercept:check"  # is this number / URL fraud?
    intercept_manage = "intercept:manage"  # list, revoke and search entries; decide appeals
    intercept_appeal = "intercept:appeal"  # file a blocked person's or business's appeal
    stats_read = "stats:read"
    audit_read = "audit:read"
    users_admin = "users:admin"
    reference_read = "reference:read"    # units and institutions


P = Permission
MATRIX: dict[Role, frozenset[Permission]] = {
    Role.analyst: frozenset({P.cases_read, P.cases_write, P.orders_send, P.orders_read, P.tracing,
                             P.linking_read, P.linking_write,
                             P.warnings_work, P.intercept_check, P.intercept_manage, P.intercept_appeal,
                             P.stats_read, P.reference_read}),
    Role.station_officer: frozenset({P.cases_read, P.cases_write, P.orders_send, P.orders_read,
                                     P.intercept_appeal, P.reference_read}),
    Role.liaison: frozenset({P.orders_read, P.orders_answer, P.reference_read}),
    Role.dissuasion: frozenset({P.warnings_work, P.intercept_check, P.intercept_appeal, P.reference_read}),
    Role.commander: frozenset({P.cases_read, P.orders_read, P.stats_read, P.audit_read, P.reference_read,
                               P.linking_read}),
    Role.admin: frozenset({P.users_admin, P.audit_read, P.stats_read, P.reference_read}),
    Role.platform: frozenset({P.reports_feed}),
    Role.institution: frozenset({P.orders_read, P.orders_answer, P.orders_callback}),
    Role.carrier: frozenset({P.intercept_check, P.intercept_appeal}),  # carriers forward their customers' appeals
}


def allowed(role: Role | str, permission: Permission) -> bool:
    try:
        role = Role(role)
    except ValueError:
        return False
    return permission in MATRIX[role]
