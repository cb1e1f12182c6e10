from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..core.errors import NotFound, ValidationError
from ..extensions import db, limiter
from . import services
from .auth import public, roles_required
from .forms import LoginForm, PasswordForm
from .models import ApiToken, Staff, UserSession

bp = Blueprint("accounts", __name__)
ANY_ROLE = ("agent", "manager", "payroll", "admin")


def _home_for(user) -> str:
    if user.has_role("manager"):
        return url_for("clients.dormancy")
    if user.has_role("admin"):
        return url_for("imports.upload")
    if user.has_role("agent"):
        return url_for("calls.work")
    if user.has_role("payroll"):
        return url_for("bonuses.index")
    return url_for("accounts.account")


@bp.get("/")
@public
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    return redirect(_home_for(current_user))


def _login_key() -> str:
    return "login:" + (request.form.get("login") or "").strip().lower()[:254]


def _failed(response) -> bool:
    return response.status_code == 401


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_ACCOUNT"], key_func=_login_key, methods=["POST"],
               deduct_when=_failed, scope="login-account",
               error_message="Too many failed sign-ins for this account. Wait 15 minutes and try again, "
                             "or ask an admin to set a new password.")
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_ADDRESS"], methods=["POST"], deduct_when=_failed,
               scope="login-address",
               error_message="Too many failed sign-ins from this network. Wait 15 minutes and try again.")
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        staff = services.authenticate(form.login.data, form.password.data)
        if staff is None:
            error = "That e-mail/code and password do not match an active account."
            services.record_failed_sign_in(form.login.data, ip=request.remote_addr)
            db.session.commit()
        else:
            row = services.open_session(staff, user_agent=request.headers.get("User-Agent"),
                                        ip=request.remote_addr)
            db.session.commit()
            staff._session_id = row.id
            login_user(staff)
            target = request.args.get("next", "")
            # Only same-site relative targets: no open redirect.
            if not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
                target = _home_for(staff)
            return redirect(target)
    status = 401 if error else 200
    return render_template("accounts/login.html", form=form, error=error), status


@bp.post("/logout")
@roles_required(*ANY_ROLE)
def logout():
    services.revoke_session(current_user.get_id(), actor_id=current_user.id)
    db.session.commit()
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("accounts.login"))


@bp.get("/account")
@roles_required(*ANY_ROLE)
def account():
    sessions = db.session.scalars(select(UserSession).where(
        UserSession.staff_id == current_user.id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.last_seen_at.desc())).all()
    return render_template("accounts/account.html", sessions=sessions, form=PasswordForm())


@bp.post("/account/sessions/<session_id>/revoke")
@roles_required(*ANY_ROLE)
def revoke_own_session(session_id):
    row = db.session.get(UserSession, session_id)
    if row is None or row.staff_id != current_user.id:
        raise NotFound("no such session")
    services.revoke_session(session_id, actor_id=current_user.id)
    db.session.commit()
    flash("That session is signed out.")
    if session_id == current_user.get_id():
        logout_user()
        return redirect(url_for("accounts.login"))
    return redirect(url_for("accounts.account"))


@bp.post("/account/password")
@roles_required(*ANY_ROLE)
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        if services.authenticate(current_user.employee_code, form.current.data) is None:
            flash("The current password is not right.", "error")
        else:
            try:
                services.set_password(current_user, form.new.data, actor_id=current_user.id)
            except ValidationError as exc:
                db.session.rollback()
                for problem in exc.details:
                    flash(f"New password: {problem['message']}", "error")
                return redirect(url_for("accounts.account"))
            db.session.commit()
            logout_user()
            flash("Password changed. Sign in again with the new one.")
            return redirect(url_for("accounts.login"))
    else:
        for field, errors in form.errors.items():
            flash(f"{getattr(form, field).label.text}: {' '.join(errors)}", "error")
    return redirect(url_for("accounts.account"))


@bp.get("/admin/users")
@roles_required("admin")
def users():
    page = max(1, request.args.get("page", 1, type=int))
    q = select(Staff).options(selectinload(Staff.language_rows)).order_by(Staff.employee_code)
    pagination = db.paginate(q, page=page, per_page=50, error_out=False)
    tokens = db.session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None))
                                .order_by(ApiToken.created_at.desc())).all()
    sessions = db.session.scalars(select(UserSession).where(UserSession.revoked_at.is_(None))
                                  .order_by(UserSession.last_seen_at.desc()).limit(100)).all()
    names = {s.id: s for s in db.session.scalars(select(Staff).where(
        Staff.id.in_({x.staff_id for x in sessions}))).all()} if sessions else {}
    return render_template("accounts/users.html", pagination=pagination, tokens=tokens,
                           sessions=sessions, names=names)


@bp.post("/admin/sessions/<session_id>/revoke")
@roles_required("admin")
def revoke_session(session_id):
    services.revoke_session(session_id, actor_id=current_user.id)
    db.session.commit()
    flash("Session revoked; that browser is signed out.")
    return redirect(url_for("accounts.users"))


@bp.post("/admin/tokens/<int:token_id>/revoke")
@roles_required("admin")
def revoke_token(token_id):
    services.revoke_token(token_id, actor_id=current_user.id)
    db.session.commit()
    flash("Token revoked.")
    return redirect(url_for("accounts.users"))
