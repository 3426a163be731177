"""提现收款账户 (the payout account) and the gate in front of every withdrawal.

The merchant binds one account that receives withdrawals: an enterprise Alipay account or a
corporate bank account (对公账户). Its holder must be the business licence's subject as entered
in the onboarding wizard (主体一致); a 个体工商户 may also use the operator's own verified
personal Alipay. Names are compared after folding full-width to half-width and removing spaces
(`licence.normalise_subject`).

Douyin's ecpay SaaS has no API to bind or change the settlement account (it is set in the 进件
and only read back by query_merchant_balance), so the binding is kept here, in the portal.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from portal import audit, vault
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.ledger import service
from portal.ledger.models import PayoutAccount, PayoutKind, Withdrawal
from portal.onboarding import licence
from portal.onboarding import service as onboarding

# Corporate account numbers vary by bank (about 9 to 25 digits) and, unlike debit cards, carry no
# Luhn check digit: only digits and a length are checked.
BANK_ACCOUNT = re.compile(r"^\d{8,30}$")
ALIPAY_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
ALIPAY_PHONE = re.compile(r"^1[3-9]\d{9}$")
KIND_LABELS = {PayoutKind.ALIPAY: _l("企业支付宝"), PayoutKind.BANK: _l("对公银行账户")}


class PayoutError(service.LedgerError):
    """The account cannot be bound, or a withdrawal cannot start; `field` names the form field."""


def licence_subject(organization_id: int) -> tuple[str, str, str | None] | None:
    """(subject, kind, operator) from the onboarding wizard, or None when none is recorded."""
    return onboarding.licence_subject(organization_id)


def find_payout_account(organization_id: int) -> PayoutAccount | None:
    return db.session.scalar(select(PayoutAccount).where(PayoutAccount.organization_id == organization_id))


def clean_account_no(kind: str, raw: str | None) -> str:
    """The account number as stored: a bank account without spaces or hyphens, an Alipay login
    (e-mail or mainland mobile) trimmed. Raises PayoutError (field account_no)."""
    text = (raw or "").strip()
    if kind == PayoutKind.BANK:
        digits = re.sub(r"[\s-]", "", text)
        if not digits:
            raise PayoutError(_l("请填写对公账号"), field="account_no")
        if not BANK_ACCOUNT.match(digits):
            raise PayoutError(_l("对公账号只能是数字（可用空格分隔），长度 8 到 30 位"), field="account_no")
        return digits
    if not text:
        raise PayoutError(_l("请填写支付宝账号"), field="account_no")
    if not (ALIPAY_EMAIL.match(text) or ALIPAY_PHONE.match(text)):
        raise PayoutError(_l("支付宝账号应为登录邮箱或 11 位手机号"), field="account_no")
    return text.lower() if "@" in text else text


def mask_account(kind: str, number: str) -> str:
    """Enough to recognise the account, never enough to use it."""
    if kind == PayoutKind.BANK:
        return "•••• " + number[-4:]
    if "@" in number:
        name, domain = number.split("@", 1)
        return f"{name[:1]}***@{domain}"
    return f"{number[:3]}****{number[-4:]}"


def holder_refusal(organization_id: int, kind: str, holder_name: str) -> str | None:
    """Why `holder_name` may not receive this merchant's withdrawals (None when it may)."""
    subject = licence_subject(organization_id)
    if subject is None:
        return str(_l("还没有营业执照主体：请先在「抖音推广 › 接入准备」填写营业执照主体名称，收款账户的户名须与它一致"))
    name, licence_kind, operator = subject
    if licence.same_subject(holder_name, name):
        return None
    if licence_kind == "individual" and kind == PayoutKind.ALIPAY and licence.same_subject(holder_name, operator):
        return None
    if licence_kind == "individual" and kind == PayoutKind.ALIPAY:
        return str(_l("户名「%(holder)s」既不是营业执照主体「%(subject)s」，也不是经营者「%(operator)s」本人：个体工商户须使用主体名下的账户或经营者本人实名认证的支付宝",
                      holder=holder_name, subject=name, operator=operator or ""))
    return str(_l("户名「%(holder)s」与营业执照主体「%(subject)s」不一致：收款账户须与营业执照主体一致（括号全角半角、空格不影响比对）",
                  holder=holder_name, subject=name))


def bind_payout_account(organization_id: int, *, kind: str, holder_name: str, account_no: str, bank_name: str = "", bank_branch: str = "",
                        actor, now: datetime) -> PayoutAccount:
    """Bind (or replace) the account withdrawals are paid to.

    Checks the shape of every field and that the holder matches the licence subject; raises
    PayoutError naming the field, and then changes nothing. Withdrawals already submitted keep
    going to the account Douyin had. Audited with the masked number only.
    """
    if kind not in set(PayoutKind):
        raise PayoutError(_l("请选择收款账户类型"), field="kind")
    holder_name = (holder_name or "").strip()
    if not holder_name:
        raise PayoutError(_l("请填写账户户名"), field="holder_name")
    if len(holder_name) > 100:
        raise PayoutError(_l("户名不能超过 100 字"), field="holder_name")
    number = clean_account_no(kind, account_no)
    bank_name, bank_branch = (bank_name or "").strip(), (bank_branch or "").strip()
    if kind == PayoutKind.BANK:
        if not bank_name:
            raise PayoutError(_l("请填写开户银行"), field="bank_name")
        if len(bank_name) > 60:
            raise PayoutError(_l("开户银行不能超过 60 字"), field="bank_name")
        if not bank_branch:
            raise PayoutError(_l("请填写开户支行"), field="bank_branch")
        if len(bank_branch) > 100:
            raise PayoutError(_l("开户支行不能超过 100 字"), field="bank_branch")
    else:
        bank_name = bank_branch = ""
    refusal = holder_refusal(organization_id, kind, holder_name)
    if refusal:
        raise PayoutError(refusal, field="holder_name")
    account = find_payout_account(organization_id)
    if account is None:
        account = PayoutAccount(organization_id=organization_id)
        db.session.add(account)
    account.kind, account.holder_name = kind, holder_name
    account.account_no_enc, account.account_masked = vault.encrypt(number), mask_account(kind, number)
    account.bank_name, account.bank_branch = bank_name, bank_branch
    account.bound_by_id, account.bound_at = getattr(actor, "id", None), now
    db.session.flush()
    audit.record("ledger.payout_account.bound", actor=actor, organization_id=organization_id, obj=account, kind=kind,
                 holder_name=holder_name, account=account.account_masked, bank_name=bank_name, bank_branch=bank_branch)
    return account


def withdrawal_blocked_reason(organization_id: int) -> str | None:
    """Why no withdrawal can start now (None when one can): no account bound, or the bound
    holder no longer matches the licence subject (the subject was changed since)."""
    account = find_payout_account(organization_id)
    if account is None:
        return str(_l("还没有绑定提现收款账户：请先绑定与营业执照主体一致的企业支付宝或对公银行账户"))
    refusal = holder_refusal(organization_id, account.kind, account.holder_name)
    if refusal:
        return str(_l("收款账户与营业执照主体不再一致，请重新绑定：%(why)s", why=refusal))
    return None


def start_withdrawal(organization_id: int, amount_fen: int, *, actor, now: datetime, platform_fen: int | None = None) -> Withdrawal:
    """The merchant's withdrawal: refused (PayoutError, field amount, nothing changed) without a
    bound account matching the licence subject; otherwise `service.request_withdrawal`."""
    blocked = withdrawal_blocked_reason(organization_id)
    if blocked:
        raise PayoutError(blocked, field="amount")
    return service.request_withdrawal(organization_id, amount_fen, actor=actor, now=now, platform_fen=platform_fen)
