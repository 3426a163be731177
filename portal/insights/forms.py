from wtforms import DateField, SelectField
from wtforms.validators import InputRequired

from portal.forms import Form
from portal.i18n import lazy_gettext as _l


class DayField(DateField):
    """A YYYY-MM-DD day whose parse error speaks Chinese."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(_l("日期格式不正确，请使用 年-月-日")) from error


class OverviewFilterForm(Form):
    """The GET filter of the overview: shape only; the service checks the range."""

    class Meta:
        csrf = False  # a read-only GET filter

    day_from = DayField(_l("开始日期"), validators=[InputRequired(_l("请选择开始日期"))])
    day_to = DayField(_l("结束日期"), validators=[InputRequired(_l("请选择结束日期"))])
    # Filled from the tenancy guard's stores; an id that is not ours is a 404, not a choice error.
    store = SelectField(_l("门店"), choices=[], validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in (self.day_from, self.day_to):
            f.render_kw = {"type": "date"}
