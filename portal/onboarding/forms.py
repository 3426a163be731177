"""Shapes of the wizard's inputs; the rules live in service.py."""

from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import PasswordInput

from portal.forms import Form, options
from portal.i18n import lazy_gettext as _l
from portal.onboarding.service import FULL_SHELF_ITEMS, SHELF_BLOCK_ITEMS

DIGITS = r"^\s*\d{1,32}\s*$"


class ActionForm(Form):
    """A button that changes something: only the CSRF token."""


class AccountForm(Form):
    laike_account_id = StringField(
        _l("抖音来客账号ID"),
        validators=[DataRequired(_l("请输入抖音来客账号ID")), Regexp(DIGITS, message=_l("抖音来客账号ID应为数字"))],
    )


class LicenceForm(Form):
    licence = FileField(_l("营业执照图片"), validators=[FileRequired(_l("请选择营业执照图片"))])
    watermark = BooleanField(_l("加盖水印「仅限抖音小程序使用」（推荐）"), default=True)


class LicenceSubjectForm(Form):
    subject = StringField(_l("营业执照主体名称"), validators=[DataRequired(_l("请填写营业执照上的主体名称")),
                                                        Length(max=100, message=_l("主体名称不能超过 100 字"))])
    kind = SelectField(_l("主体类型"), choices=options([("enterprise", _l("企业")), ("individual", _l("个体工商户"))]),
                       validators=[DataRequired(_l("请选择主体类型"))])
    operator = StringField(_l("经营者姓名（个体工商户填写）"), validators=[Optional(), Length(max=50, message=_l("经营者姓名不能超过 50 字"))])


class SecretForm(Form):
    # Shown again only on the form that failed, so "重试" resends what was typed.
    app_secret = PasswordField(
        _l("AppSecret"),
        widget=PasswordInput(hide_value=False),
        validators=[DataRequired(_l("请输入 AppSecret")), Length(max=128, message=_l("AppSecret 过长"))],
    )


# Douyin's merchant number (商户号): digits, or a letter and digits ("M6982…" in Douyin's own example).
MERCHANT_ID = r"^\s*[A-Za-z0-9]{6,64}\s*$"


class PaymentStatusForm(Form):
    merchant_id = StringField(
        _l("商户号（merchant_id）"),
        validators=[DataRequired(_l("请输入抖音开放平台分配的商户号")), Regexp(MERCHANT_ID, message=_l("商户号应为 6 位以上字母或数字"))],
    )


class PaymentForm(Form):
    salt = PasswordField(_l("支付 SALT"), validators=[Optional(), Length(max=128, message=_l("SALT 过长"))])
    token = PasswordField(_l("支付 Token"), validators=[Optional(), Length(max=128, message=_l("Token 过长"))])
    merchant_uid = StringField(
        _l("商户号（merchant_uid）"),
        validators=[DataRequired(_l("请输入商户号")), Regexp(MERCHANT_ID, message=_l("商户号应为 6 位以上字母或数字"))],
    )


class StoreForm(Form):
    douyin_account_id = StringField(
        _l("抖音商家ID"), validators=[DataRequired(_l("请输入抖音商家ID")), Regexp(DIGITS, message=_l("抖音商家ID应为数字"))]
    )
    douyin_poi_id = StringField(
        _l("抖音门店ID"), validators=[DataRequired(_l("请输入抖音门店ID")), Regexp(DIGITS, message=_l("抖音门店ID应为数字"))]
    )


def _checklist(items: dict):
    class Checklist(Form):
        pass

    for key, label in items.items():
        setattr(Checklist, key, BooleanField(label))
    return Checklist


ShelfBlockForm = _checklist(SHELF_BLOCK_ITEMS)
FullShelfForm = _checklist(FULL_SHELF_ITEMS)


class PlatformKeyForm(Form):
    platform_public_key = TextAreaField(
        _l("抖音平台公钥"), validators=[DataRequired(_l("请粘贴抖音平台公钥")), Length(max=4000, message=_l("公钥内容过长"))]
    )
    key_version = StringField(
        _l("密钥版本（key_version）"),
        default="1",
        validators=[DataRequired(_l("请输入密钥版本")), Regexp(r"^\s*\d{1,8}\s*$", message=_l("密钥版本应为数字"))],
    )


class KaForm(Form):
    confirmed = BooleanField(_l("我已在抖音开放平台「能力 > 行业能力」申请【KA】三方码接入接口能力包"))


class SubmitForm(Form):
    """The version submitted is the test version uploaded on Douyin; only a note for the reviewers is asked."""

    description = StringField(_l("提审备注（给抖音审核人员，可不填）"), validators=[Optional(), Length(max=200, message=_l("提审备注不能超过 200 字"))])
