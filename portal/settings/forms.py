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
    """Start binding a Douyin account: only the role; the account comes from its owner's authorization."""

    role = SelectField(_l("账号类型"), choices=options([("official", _l("官方账号")), ("channel", _l("渠道账号"))]))


class StorePageForm(Form):
    """A store and its Douyin page: one opening-hours field per weekday ("10:00-14:00, 17:00-22:00", empty: closed)."""

    name = StringField(_l("门店名称"), validators=[DataRequired(_l("请输入门店名称")), Length(max=100)])
    address = StringField(_l("地址"), validators=[Optional(), Length(max=200)])
    phone = StringField(_l("前台电话"), validators=[Optional(), Length(max=32)])
    cover_image_url = StringField(_l("头图地址"), validators=[Optional(), Length(max=500)])
    hours_1 = StringField(_l("周一"), validators=[Optional(), Length(max=60)])
    hours_2 = StringField(_l("周二"), validators=[Optional(), Length(max=60)])
    hours_3 = StringField(_l("周三"), validators=[Optional(), Length(max=60)])
    hours_4 = StringField(_l("周四"), validators=[Optional(), Length(max=60)])
    hours_5 = StringField(_l("周五"), validators=[Optional(), Length(max=60)])
    hours_6 = StringField(_l("周六"), validators=[Optional(), Length(max=60)])
    hours_7 = StringField(_l("周日"), validators=[Optional(), Length(max=60)])


class ActivityFilterForm(Form):
    """The activity log's GET filter: who, what, from which day to which (both optional)."""

    class Meta:
        csrf = False  # a read-only GET filter

    who = SelectField(_l("操作人"), choices=[], default="", validate_choice=True)
    group = SelectField(_l("类别"), choices=[], default="", validate_choice=True)
    day_from = DayField(_l("开始日期"), validators=[Optional()])
    day_to = DayField(_l("结束日期"), validators=[Optional()])


class RoomForm(Form):
    name = StringField(_l("包间名称"), validators=[DataRequired(_l("请输入包间名称")), Length(max=40, message=_l("包间名称不能超过 40 个字"))])
    seats = IntegerField(_l("可坐人数"), validators=[InputRequired(_l("请输入可坐人数")), NumberRange(min=1, max=99, message=_l("可坐人数应在 1 到 99 之间"))])


class IncentiveOfferForm(Form):
    text = StringField(_l("激励内容"), validators=[DataRequired(_l("请填写激励内容，例如“3 天内到店核销送饮品”")), Length(max=60, message=_l("激励内容不能超过 60 个字"))])
    gift = StringField(_l("核销时赠送"), validators=[DataRequired(_l("请填写核销时赠送的东西，例如“饮品”")), Length(max=20, message=_l("赠品不能超过 20 个字"))])
    valid_days = IntegerField(_l("有效天数"), validators=[InputRequired(_l("请输入有效天数")), NumberRange(min=1, max=30, message=_l("有效天数应在 1 到 30 之间"))])
    product_ids = SelectMultipleField(_l("适用商品"), choices=[], coerce=str, validate_choice=False)
    template_id = StringField(_l("订阅消息模板 ID"), validators=[DataRequired(_l("请填写订阅消息模板 ID")), Length(max=128)])
    body = TextAreaField(_l("模板字段"), validators=[DataRequired(_l("请至少填写一个模板字段")), Length(max=1000)])


class PushIncentiveForm(Form):
    offer_id = SelectField(_l("核销激励"), choices=[], coerce=str, validate_choice=False, validators=[DataRequired(_l("请选择要推送的激励"))])
