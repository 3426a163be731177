from wtforms import SelectField
from wtforms.validators import DataRequired

from portal.forms import Form, options
from portal.i18n import lazy_gettext as _l
from portal.orders.service import SHIPPING_LABELS


class ShippingForm(Form):
    status = SelectField(_l("发货状态"), choices=options((k.value, v) for k, v in SHIPPING_LABELS.items()), validators=[DataRequired(_l("请选择发货状态"))])
