import secrets

from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.forms import Form, options
from portal.i18n import lazy_gettext as _l
from portal.ledger.models import TxnKind
from portal.ledger.service import DEPOSIT_KINDS

MERCHANT_DEPOSIT_KINDS = (TxnKind.DEPOSIT_PAY_IN, TxnKind.DEPOSIT_TOP_UP)


class WithdrawForm(Form):
    amount = StringField(_l("提现金额（元）"), validators=[DataRequired(_l("请输入金额"))])


class DepositForm(Form):
    # The merchant records what it paid in; deductions (赔付) and returns are the platform operator's (admin area).
    kind = SelectField(_l("类型"), choices=options((k.value, v) for k, v in DEPOSIT_KINDS.items() if k in MERCHANT_DEPOSIT_KINDS),
                       validators=[DataRequired(_l("请选择操作类型"))])
    amount = StringField(_l("金额（元）"), validators=[DataRequired(_l("请输入金额"))])
    reason = StringField(_l("原因 / 说明"), validators=[Optional(), Length(max=200)])
    reference = HiddenField(default=lambda: secrets.token_hex(8))


class RefundDecisionForm(Form):
    decision = SelectField(_l("处理"), choices=options([("approve", _l("同意退款")), ("reject", _l("拒绝退款"))]), validators=[DataRequired()])
    reason = TextAreaField(_l("拒绝原因（顾客可见）"), validators=[Optional(), Length(max=150)])


class LedgerSettingsForm(Form):
    settlement_basis = SelectField(_l("结算规则"), choices=options([("redeem", _l("核销 D+N：全部核销后 N 天结算")), ("pay", _l("支付 D+N：支付后 N 天结算"))]))
    settlement_days = IntegerField(_l("N（天）"), validators=[InputRequired(_l("请输入天数")), NumberRange(0, 90, _l("结算周期须在 0 到 90 天之间"))])
    refund_window_days = IntegerField(_l("顾客可自助退款的天数（X 天内）"), validators=[InputRequired(_l("请输入天数")), NumberRange(1, 365, _l("自助退款期限须在 1 到 365 天之间"))])
    refund_auto_audit = BooleanField(_l("符合规则的退款申请自动同意"))
    fee_model = SelectField(_l("费率模式"), choices=options([("platform", _l("平台费率：按类目收技术服务费 + 0.6% 支付通道费")),
                                                        ("groupbuy", _l("团购 0 佣金：只收 0.6% 支付通道费，核销后 T+1 结算"))]),
                            default="platform")


class PayoutAccountForm(Form):
    kind = SelectField(_l("账户类型"), choices=options([("alipay", _l("企业支付宝")), ("bank", _l("对公银行账户"))]),
                       validators=[DataRequired(_l("请选择收款账户类型"))])
    holder_name = StringField(_l("账户户名"), validators=[DataRequired(_l("请填写账户户名")), Length(max=100, message=_l("户名不能超过 100 字"))])
    account_no = StringField(_l("账号"), validators=[DataRequired(_l("请填写账号")), Length(max=64, message=_l("账号过长"))])
    bank_name = StringField(_l("开户银行（对公账户填写）"), validators=[Optional(), Length(max=60, message=_l("开户银行不能超过 60 字"))])
    bank_branch = StringField(_l("开户支行（对公账户填写）"), validators=[Optional(), Length(max=100, message=_l("开户支行不能超过 100 字"))])


class ReconcileForm(Form):
    bill_date = DateField(_l("账单日期"), validators=[DataRequired(_l("请选择日期"))])
