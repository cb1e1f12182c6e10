from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from .rules import KINDS

KIND_CHOICES = [SelectChoice("", "Detect from the header")] + [SelectChoice(k, k.capitalize()) for k in KINDS]


class UploadForm(FlaskForm):
    kind = SelectField("Kind of file", choices=KIND_CHOICES, default="")
    file = FileField("CSV file (UTF-8, comma or semicolon)",
                     validators=[FileRequired("Choose a CSV file to upload.")])
