"""Shapes of the operator's deposit forms; the rules live in portal.ledger.deposits."""

import secrets

from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import Form, options
from portal.i18n import lazy_gettext as _l
from portal.ledger.deposits import CATEGORIES, RETURN_EXCESS, RETURN_MODES


class MerchantCategoryForm(Form):
    category = SelectField(_l("经营类目"), choices=options((code, label) for code, label, _fen in CATEGORIES),
                           validators=[DataRequired(_l("请选择类目"))])


class DeductionForm(Form):
    order_no = StringField(_l("订单号"), validators=[DataRequired(_l("请填写订单号")), Length(max=64, message=_l("订单号过长"))])
    amount = StringField(_l("赔付金额（元）"), validators=[DataRequired(_l("请输入金额"))])
    reason = StringField(_l("赔付原因（商家可见）"), validators=[DataRequired(_l("请填写赔付原因")), Length(max=200, message=_l("原因不能超过 200 字"))])
    reference = HiddenField(default=lambda: secrets.token_hex(8))


class ReturnForm(Form):
    # Used with prefix="return": its fields sit on the merchant page beside the deduction's.
    mode = SelectField(_l("退还方式"), choices=options(RETURN_MODES), default=RETURN_EXCESS, validators=[DataRequired(_l("请选择退还方式"))])
    amount = StringField(_l("退还金额（元）"), validators=[Optional()])
    reason = StringField(_l("退还原因（商家可见）"), validators=[DataRequired(_l("请填写退还原因")), Length(max=200, message=_l("原因不能超过 200 字"))])
    reference = HiddenField(default=lambda: secrets.token_hex(8))


class RequirementForm(Form):
    amount = StringField(_l("应缴保证金（元）"), validators=[Optional()])
