from flask_wtf import FlaskForm
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length

from ..core.i18n import LANGUAGES


class LoginForm(FlaskForm):
    login = StringField(_l("E-mail or employee code"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=512)],
                        description=_l("At least 12 characters. A few unrelated words make a strong, "
                                       "memorable password; no symbols are required."))


class LanguageForm(FlaskForm):
    """The language of my pages: one of ``LANGUAGES``, or empty for the browser's."""
    ui_language = SelectField(
        _l("Language of my pages"),
        choices=[SelectChoice("", _l("As my browser asks"))]
        + [SelectChoice(code, name, render_kw={"lang": code}) for code, name in LANGUAGES.items()],
        validate_choice=False,  # AnyOf says what is wrong in words
        validators=[AnyOf(["", *LANGUAGES],
                          message=_l("Choose one of the languages in the list (English, Japanese, Chinese, "
                                     "Russian or Polish)."))])
