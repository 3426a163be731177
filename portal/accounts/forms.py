from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from portal.accounts.models import Role
from portal.forms import Form
from portal.i18n import lazy_gettext as _l


def Email(message):  # noqa: N802  reads like a WTForms validator
    """Shape only: deliverability is proven by the invitation mail, not guessed here."""
    return Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=message)


class LoginForm(Form):
    email = EmailField(_l("邮箱"), validators=[DataRequired(_l("请输入邮箱")), Email(_l("邮箱格式不正确"))])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码"))])


class PasswordForm(Form):
    current_password = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请输入当前密码"))])
    new_password = PasswordField(_l("新密码"), validators=[DataRequired(_l("请输入新密码"))])
    confirm = PasswordField(
        _l("确认新密码"),
        validators=[DataRequired(_l("请再次输入新密码")), EqualTo("new_password", _l("两次输入的密码不一致"))],
    )


ROLE_LABELS = {
    Role.OWNER: _l("店主"),
    Role.HQ_ADMIN: _l("总部管理员"),
    Role.STORE_MANAGER: _l("店长"),
    Role.CLERK: _l("店员（核销）"),
}


class InviteForm(Form):
    email = EmailField(_l("邮箱"), validators=[DataRequired(_l("请输入邮箱")), Email(_l("邮箱格式不正确"))])
    name = StringField(_l("姓名"), validators=[DataRequired(_l("请输入姓名")), Length(max=100)])
    role = SelectField(_l("角色"), choices=[], validators=[DataRequired(_l("请选择角色"))])
    # The tenancy guard, not the choice list, decides whether a store id is ours (404 otherwise).
    store_id = SelectField(_l("门店"), choices=[], coerce=str, validate_choice=False, validators=[Optional()])


class AcceptInviteForm(Form):
    name = StringField(_l("姓名"), validators=[Optional(), Length(max=100)])
    password = PasswordField(_l("设置密码"), validators=[DataRequired(_l("请设置密码"))])
    confirm = PasswordField(
        _l("确认密码"), validators=[DataRequired(_l("请再次输入密码")), EqualTo("password", _l("两次输入的密码不一致"))]
    )
