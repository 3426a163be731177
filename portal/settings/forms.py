from wtforms import BooleanField, DateField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.forms import Form, options
from portal.insights.forms import DayField
from portal.i18n import lazy_gettext as _l


class FollowUpForm(Form):
    enabled = BooleanField(_l("订单支付后自动发送"))
    template_id = StringField(_l("订阅消息模板 ID"), validators=[Optional(), Length(max=128)])
    body = TextAreaField(_l("模板字段"), validators=[DataRequired(_l("请至少填写一个模板字段")), Length(max=1000)])
    page = StringField(_l("跳转页面"), validators=[Optional(), Length(max=200)])


class StoreForm(Form):
    name = StringField(_l("门店名称"), validators=[DataRequired(_l("请输入门店名称")), Length(max=100)])
    address = StringField(_l("地址"), validators=[Optional(), Length(max=200)])
    phone = StringField(_l("电话"), validators=[Optional(), Length(max=32)])
    opening_hours = StringField(_l("营业时间"), validators=[Optional(), Length(max=100)])


class ShopNameForm(Form):
    name = StringField(_l("店铺名称"), validators=[DataRequired(_l("请输入店铺名称")), Length(max=100)])


class SlotForm(Form):
    starts = StringField(_l("开始时间"), validators=[DataRequired(_l("请输入开始时间"))])
    ends = StringField(_l("结束时间"), validators=[DataRequired(_l("请输入结束时间"))])
    capacity = IntegerField(_l("可接预约（单）"), validators=[InputRequired(_l("请输入容量")), NumberRange(min=1, max=999, message=_l("容量应在 1 到 999 之间"))])


class ContentForm(Form):
    kind = SelectField(_l("内容类型"), choices=options([("short_video", _l("短视频")), ("live", _l("直播"))]))
    title = StringField(_l("标题"), validators=[DataRequired(_l("请输入标题")), Length(max=100)])
    douyin_item_id = StringField(_l("抖音作品 ID"), validators=[DataRequired(_l("请输入抖音作品 ID")), Length(max=64)])
    published_on = DateField(_l("发布日期"), validators=[DataRequired(_l("请选择日期"))])
    store_id = SelectField(_l("内容定位门店（POI）"), choices=[], coerce=str, validate_choice=False, validators=[DataRequired(_l("请选择门店"))])
    product_ids = SelectMultipleField(_l("挂载商品"), choices=[], coerce=str, validate_choice=False)


class LinkForm(Form):
    platform = SelectField(_l("平台"), choices=options([("douyin", _l("抖音")), ("tiktok", "TikTok")]))
    role = SelectField(_l("账号类型"), choices=options([("official", _l("官方账号")), ("channel", _l("渠道账号"))]))
    account_id = StringField(_l("账号 ID"), validators=[DataRequired(_l("请输入账号 ID")), Length(max=64)])
    display_name = StringField(_l("账号名称"), validators=[Optional(), Length(max=100)])


class ActivityFilterForm(Form):
    """The activity log's GET filter: who, what, from which day to which (both optional)."""

    class Meta:
        csrf = False  # a read-only GET filter

    who = SelectField(_l("操作人"), choices=[], default="", validate_choice=True)
    group = SelectField(_l("类别"), choices=[], default="", validate_choice=True)
    day_from = DayField(_l("开始日期"), validators=[Optional()])
    day_to = DayField(_l("结束日期"), validators=[Optional()])
