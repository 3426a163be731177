import secrets

from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.forms import Form, options
from portal.i18n import lazy_gettext as _l
from portal.ledger.service import DEPOSIT_KINDS


class WithdrawForm(Form):
    amount = StringField(_l("提现金额（元）"), validators=[DataRequired(_l("请输入金额"))])


class DepositForm(Form):
    kind = SelectField(_l("类型"), choices=options((k.value, v) for k, v in DEPOSIT_KINDS.items()), validators=[DataRequired(_l("请选择操作类型"))])
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


class ReconcileForm(Form):
    bill_date = DateField(_l("账单日期"), validators=[DataRequired(_l("请选择日期"))])
