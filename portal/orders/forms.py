from wtforms import SelectField, StringField
from wtforms.validators import DataRequired

from portal.forms import Form, options
from portal.i18n import lazy_gettext as _l
from portal.orders.service import SHIPPING_LABELS
from portal.orders.shipping import CARRIERS


class ShippingForm(Form):
    status = SelectField(_l("发货状态"), choices=options((k.value, v) for k, v in SHIPPING_LABELS.items()), validators=[DataRequired(_l("请选择发货状态"))])
    # Asked when the order is shipped; the service checks them against the carrier.
    carrier = SelectField(_l("快递公司"), choices=options([("", _l("请选择"))] + [(c.code, c.name) for c in CARRIERS.values()]),
                          validate_choice=False)
    tracking_number = StringField(_l("快递单号"), filters=[lambda v: (v or "").strip()])
