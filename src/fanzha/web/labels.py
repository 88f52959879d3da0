"""The Chinese words people see for the codes the rest of fanzha stores.

Kept apart from the templates so a code added elsewhere shows as itself (never as a
blank) until it is given a label here. The English of each label is in
:data:`fanzha.web.i18n.EN`, like every other interface text; the templates' ``label()``
shows a label in the page's language.
"""

from __future__ import annotations

from fanzha.intake.classify import SCAM_TYPES

ROLES: dict[str, str] = {
    "analyst": "反诈中心民警",
    "station_officer": "基层所队民警",
    "liaison": "机构驻点人员",
    "dissuasion": "劝阻专员",
    "commander": "指挥员",
    "admin": "系统管理员",
    "platform": "报警平台",
    "institution": "机构系统",
    "carrier": "运营商/解析服务",
}

ORDER_KINDS: dict[str, str] = {
    "account_holder": "账户持有人查询",
    "transaction_details": "交易明细查询",
    "stop_payment": "紧急止付",
    "freeze": "冻结",
    "unfreeze": "解冻",
    "number_owner": "号码机主查询",
    "number_shutdown": "号码关停",
    "url_takedown": "网址封堵",
}

ORDER_STATES: dict[str, str] = {
    "pending": "待发送",
    "sent": "已送达",
    "acknowledged": "已受理",
    "done": "已办结",
    "rejected": "已拒绝",
    "failed": "发送失败",
    "cancelled": "已撤回",
}

#: What "done" means for an order that acts on money: the hold is in place.
DONE_BY_KIND: dict[str, str] = {
    "stop_payment": "已止付",
    "freeze": "已冻结",
    "unfreeze": "已解冻",
    "number_shutdown": "已关停",
    "url_takedown": "已封堵",
}

CASE_EVENTS: dict[str, str] = {
    "filed": "报案登记",
    "classified": "自动分类",
    "routed": "自动流转",
    "escalated": "上抓一级",
    "emergency": "启动紧急止付",
    "order_queued": "指令入队",
    "no_institution": "未识别开户机构",
    "follow_up": "补充报案",
    "ledger_added": "收到交易明细",
    "traced": "资金追踪",
    "holds_queued": "按冻结方案下发止付",
}

CASE_STATUS: dict[str, str] = {"open": "在办", "closed": "已结"}

IDENTIFIER_KINDS: dict[str, str] = {
    "phone": "电话", "bank_card": "银行卡", "url": "网址", "domain": "域名", "qq": "QQ", "wechat": "微信",
    "ip": "IP", "email": "邮箱", "device": "设备", "app": "App", "alipay": "支付宝",
}

REPORT_SOURCES: dict[str, str] = {
    "110": "110报警", "national_platform": "全国反诈平台", "station": "所队登记", "victim": "群众自报",
    "import": "批量导入",
}

SCAM_TYPE_LABELS: dict[str, str] = dict(SCAM_TYPES)


def label(table: dict[str, str], code: str | None) -> str:
    """The label of ``code`` in ``table``; the code itself when it has none yet."""
    if code is None:
        return "—"
    return table.get(code, code)


def order_state(kind: str, state: str) -> str:
    """An order's state as the centre says it: a done stop-payment is 已止付."""
    if state == "done" and kind in DONE_BY_KIND:
        return DONE_BY_KIND[kind]
    return label(ORDER_STATES, state)
