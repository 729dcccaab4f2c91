"""The words of a warning, as the wire spells them. Values are stable: add, never rename.

Outcome is shared with the sync protocol and lives in sync.vocab.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from sync.vocab import Outcome


class RiskLevel(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class WarningSource(StrEnum):
    """What tripped the warning at the operator, bank or internet company."""

    FUND_TRANSFER = "fund_transfer"  # 资金预警: a suspicious transfer
    FRAUD_CALL = "fraud_call"  # a call from a known fraud number
    FRAUD_SMS = "fraud_sms"
    FRAUD_APP = "fraud_app"  # a fraud app installed
    FRAUD_WEBSITE = "fraud_website"  # a visit to a fraud site
    OTHER = "other"


class FraudType(StrEnum):
    TASK_REBATE = "task_rebate"  # 刷单返利
    FAKE_LOAN = "fake_loan"  # 虚假网络贷款
    FAKE_INVESTMENT = "fake_investment"  # 虚假投资理财
    IMPERSONATE_POLICE = "impersonate_police"  # 冒充公检法
    IMPERSONATE_CUSTOMER_SERVICE = "impersonate_customer_service"  # 冒充电商物流客服
    FAKE_CREDIT_REPAIR = "fake_credit_repair"  # 虚假征信
    ROMANCE = "romance"  # 网络婚恋交友
    SEX_LURE = "sex_lure"  # 招嫖色诱
    IMPERSONATE_ACQUAINTANCE = "impersonate_acquaintance"  # 冒充领导熟人
    FAKE_GAME_TRADING = "fake_game_trading"  # 网络游戏虚假交易
    OTHER = "other"


# When the platform sends no deadline, the time to an outcome by risk level.
DEFAULT_DEADLINES: dict[RiskLevel, timedelta] = {
    RiskLevel.HIGH: timedelta(hours=1),
    RiskLevel.MEDIUM: timedelta(hours=4),
    RiskLevel.LOW: timedelta(hours=24),
}


__all__ = ["DEFAULT_DEADLINES", "FraudType", "Outcome", "RiskLevel", "WarningSource"]
