"""The scam types (FORMATS.md): code → the label the national statistics use.

The order is the classifier's column order; ``not_fraud`` is last.
"""

from __future__ import annotations

SCAM_TYPES: dict[str, str] = {
    "order_brushing": "刷单返利类",
    "investment": "虚假网络投资理财类",
    "loan": "虚假网络贷款类（贷款、代办信用卡）",
    "customer_service": "冒充电商物流客服类",
    "police_impersonation": "冒充公检法及政府机关类",
    "credit_report": "虚假征信类",
    "acquaintance_impersonation": "冒充领导、熟人类",
    "game_trade": "网络游戏产品虚假交易类",
    "romance": "网络婚恋、交友类",
    "shopping": "虚假购物、服务类",
    "other_fraud": "其他诈骗",
    "not_fraud": "非诈骗",
}

#: The fraud types, without ``not_fraud``.
FRAUD_TYPES: tuple[str, ...] = tuple(c for c in SCAM_TYPES if c != "not_fraud")
