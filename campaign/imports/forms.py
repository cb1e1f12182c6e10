from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from ..core.msgid import N_
from .rules import KINDS

KIND_LABELS = {"stores": N_("Stores"), "staff": N_("Staff"), "clients": N_("Clients"), "visits": N_("Visits")}
KIND_CHOICES = [SelectChoice("", _l("Detect from the header"))] + [
    SelectChoice(k, _l(KIND_LABELS[k]) if k in KIND_LABELS else k.capitalize()) for k in KINDS]


class UploadForm(FlaskForm):
    kind = SelectField(_l("Kind of file"), choices=KIND_CHOICES, default="")
    file = FileField(_l("CSV file (UTF-8, comma or semicolon)"),
                     validators=[FileRequired(_l("Choose a CSV file to upload."))])
