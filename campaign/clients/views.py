from flask import Blueprint, render_template

from ..accounts.auth import roles_required

bp = Blueprint("clients", __name__)


@bp.get("/dormancy")
@roles_required("manager")
def dormancy():
    return render_template("error.html", status=200, message="TODO")
