from datetime import UTC

from wtforms import BooleanField, HiddenField, IntegerField, MultipleFileField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.widgets import CheckboxInput, ListWidget
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, StopValidation, ValidationError

from portal import clock, money
from portal.catalog.models import ProductKind
from portal.catalog.service import KIND_LABELS
from portal.forms import Form, options
from portal.i18n import lazy_gettext as _l


class YuanField(StringField):
    """Yuan with at most two decimals, parsed to integer fen (`.fen`) by money.parse_yuan."""

    fen: int | None = None

    def pre_validate(self, form):
        try:
            self.fen = money.parse_yuan(self.data)
        except money.MoneyError as error:
            self.fen = None
            raise ValidationError(str(error)) from error


class WholeNumberField(IntegerField):
    """An integer field that shows one message for text that is not a whole number ("1.5"): its
    range check's, instead of WTForms' parse error plus the range error."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = next(v.message for v in validators if isinstance(v, NumberRange))

    def process_formdata(self, valuelist):
        if valuelist and not str(valuelist[0]).strip():
            self.data = None  # blank: left to InputRequired / Optional
            return
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(self.message) from error

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()  # the parse error is already the field's message


def _local(value):
    """A datetime-local input is Shanghai wall-clock time; store it as aware UTC."""
    return value.replace(tzinfo=clock.SHANGHAI).astimezone(UTC) if value else None


def _image_lines(form, field):
    for line in (field.data or "").splitlines():
        line = line.strip()
        if line and not (line.startswith("https://") or line.startswith("http://") or line.startswith("/")):
            raise ValidationError(_l("图片地址必须以 http:// 或 https:// 开头，每行一个"))


class ProductForm(Form):
    kind = SelectField(_l("商品类型"), choices=options((k.value, KIND_LABELS[k]) for k in ProductKind), validators=[DataRequired(_l("请选择商品类型"))])
    name = StringField(_l("商品名称"), validators=[DataRequired(_l("请输入商品名称")), Length(max=100, message=_l("名称最多 100 个字"))])
    description = TextAreaField(_l("商品描述"), validators=[Optional(), Length(max=5000)])
    images = TextAreaField(_l("图片地址（每行一个）"), validators=[Optional(), _image_lines])
    category_id = SelectField(_l("抖音类目"), choices=[], validate_choice=False, validators=[Optional()])
    original_price = YuanField(_l("原价（元）"))
    price = YuanField(_l("售价（元）"))
    stock = WholeNumberField(_l("库存"), default=100, validators=[InputRequired(_l("请输入库存")), NumberRange(min=0, max=10_000_000, message=_l("库存应为 0 或正整数"))])
    uses = WholeNumberField(_l("次卡次数"), default=10, validators=[Optional(), NumberRange(min=1, max=100, message=_l("次数应在 1 到 100 之间"))])
    sold_start_at = DateTimeLocalField(_l("开售时间"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    sold_end_at = DateTimeLocalField(_l("停售时间"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    valid_days = WholeNumberField(_l("有效期（购买后天数）"), default=90, validators=[InputRequired(_l("请输入有效期")), NumberRange(min=1, max=3650, message=_l("有效期应在 1 到 3650 天之间"))])
    usage_rules = TextAreaField(_l("使用规则"), validators=[Optional(), Length(max=5000)])
    store_ids = SelectMultipleField(_l("适用门店"), coerce=int, choices=[], validate_choice=False, validators=[DataRequired(_l("请至少选择一个适用门店"))],
                                    widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    # Uploaded pictures (catalog.images); kept ones arrive as `images` lines.
    image_files = MultipleFileField(_l("上传图片"))
    local_online = BooleanField(_l("在本店上架"), default=True)

    def validate(self, extra_validators=None):
        """As Form.validate, except that a field the chosen kind does not use (hidden in the page)
        has no say: 次卡次数 counts only for a 次卡, the validity only for what is redeemed in store."""
        valid = super().validate(extra_validators)
        unused = [self.uses] if self.kind.data != ProductKind.COUNT_CARD else []
        if self.kind.data == ProductKind.GOODS:
            unused.append(self.valid_days)
        for field in unused:
            if field.errors:
                field.errors = []
                field.data = field.default
        return valid or not any(field.errors for field in self)

    def validate_price(self, field):
        if self.original_price.fen is not None and field.fen is not None and field.fen > self.original_price.fen:
            raise ValidationError(_l("售价不能高于原价"))

    def sold_window(self):
        return _local(self.sold_start_at.data), _local(self.sold_end_at.data)


class ConflictForm(Form):
    choice = SelectField(_l("保留版本"), choices=options([("local", _l("保留本地版本并重新提交审核")), ("douyin", _l("采用抖音上的版本"))]), validators=[DataRequired(_l("请选择保留哪个版本"))])


class OnlineForm(Form):
    online = HiddenField(validators=[DataRequired()])


class ActionForm(Form):
    """A POST with only the CSRF token (submit, copy, delete, resume, refresh)."""
