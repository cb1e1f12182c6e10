from flask import Blueprint, render_template

from ..accounts.auth import roles_required

bp = Blueprint("imports", __name__)


@bp.get("/imports")
@roles_required("admin", "manager")
def upload():
    return render_template("error.html", status=200, message="TODO")
