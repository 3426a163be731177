from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from portal import clock
from portal.forms import Form, options
from portal.i18n import lazy_gettext as _l


CODE_MAX = 2000
NONCE_MAX = 64


class LookupForm(Form):
    code = StringField(_l("券码"), validators=[DataRequired(_l("请输入或扫描券码")), Length(max=CODE_MAX)])
    store_id = HiddenField()


def lookup_code(formdata) -> str | None:
    """The code a lookup sent, checked as LookupForm checks it, or None (the counter's swapped
    panel then asks for a code; the whole page uses LookupForm for its field errors)."""
    code = formdata.get("code", "")
    return code if code.strip() and len(code) <= CODE_MAX else None


def redeem_fields(formdata) -> tuple[str, str] | None:
    """The confirm's code and nonce (both required, at most CODE_MAX and NONCE_MAX), or None.
    The counter's every-minute POST reads its two hidden fields without building the form;
    CSRF is checked for every POST before any view (CSRFProtect)."""
    code, nonce = formdata.get("code", ""), formdata.get("nonce", "")
    if not code.strip() or not nonce.strip() or len(code) > CODE_MAX or len(nonce) > NONCE_MAX:
        return None
    return code, nonce


class UndoForm(Form):
    pass


class RulesForm(Form):
    max_failed_per_product_day = IntegerField(
        _l("同一商品单日核销失败的券码超过（张）则自动暂停"),
        validators=[InputRequired(_l("请填写张数")), NumberRange(1, 1000, _l("请填写 1 到 1000 之间的整数"))],
    )
    max_redemptions_per_phone_24h = IntegerField(
        _l("同一买家手机号 24 小时内核销超过（次）则转人工审核"),
        validators=[InputRequired(_l("请填写次数")), NumberRange(1, 1000, _l("请填写 1 到 1000 之间的整数"))],
    )


class ReviewForm(Form):
    """Sent by one of two buttons: 通过并核销 (decision=approve) or 确认驳回 (decision=reject, with a note)."""

    decision = SelectField(_l("处理"), choices=options([("approve", _l("通过并核销")), ("reject", _l("驳回"))]), validators=[DataRequired()])
    note = TextAreaField(_l("驳回原因"), validators=[Optional(), Length(max=500, message=_l("备注最多 500 字"))])

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        # Not a validate_note: Optional() ends the field's chain on a blank note before it runs.
        if self.decision.data == "reject" and not (self.note.data or "").strip():
            self.note.errors = [*self.note.errors, _l("驳回时请写明原因，店员会看到")]
            return False
        return valid


class ExportForm(Form):
    store_id = SelectField(_l("门店"), coerce=int, choices=[], validators=[DataRequired(_l("请选择门店"))])
    day = DateField(_l("日期"), validators=[InputRequired(_l("请选择日期"))])

    def validate_day(self, field):
        if field.data and field.data > clock.today_local():
            raise ValidationError(_l("这一天还没到，没有可导出的核销"))


class ActionForm(Form):
    pass
