from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..core import i18n
from ..core.errors import Conflict, NotFound, ValidationError
from ..extensions import db, limiter
from . import services
from .auth import public, roles_required
from .forms import LanguageForm, LoginForm, PasswordForm
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
               error_message=lambda: gettext("Too many failed sign-ins for this account. Wait 15 minutes and "
                                             "try again, or ask an admin to set a new password."))
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_ADDRESS"], methods=["POST"], deduct_when=_failed,
               scope="login-address",
               error_message=lambda: gettext("Too many failed sign-ins from this network. Wait 15 minutes "
                                             "and try again."))
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        staff = services.authenticate(form.login.data, form.password.data)
        if staff is None:
            error = gettext("That e-mail/code and password do not match an active account.")
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
    flash(gettext("You are signed out."))
    return redirect(url_for("accounts.login"))


@bp.get("/account")
@roles_required(*ANY_ROLE)
def account():
    sessions = db.session.scalars(select(UserSession).where(
        UserSession.staff_id == current_user.id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.last_seen_at.desc())).all()
    return render_template("accounts/account.html", sessions=sessions, form=PasswordForm(),
                           language_form=LanguageForm(ui_language=current_user.ui_language or ""))


def _same_site(target: str | None) -> str | None:
    """``target`` if it is a same-site relative path (no open redirect), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return None
    return target


@bp.post("/account/language")
@roles_required(*ANY_ROLE)
def set_language():
    form = LanguageForm()
    if form.validate_on_submit():
        services.set_ui_language(current_user, form.ui_language.data or None, actor_id=current_user.id)
        db.session.commit()
        # Said in the language just chosen (the user loaded for this request has it already).
        flash(gettext("Language saved."), "success")
    else:
        for errors in form.errors.values():
            flash(" ".join(str(e) for e in errors), "error")
    return redirect(url_for("accounts.account"))


@bp.get("/language/<code>")
@public
def choose_language(code):
    """Before signing in: remember the chosen language in a cookie (a signed-in
    person's own choice on *My account* still wins). Only for this browser."""
    target = _same_site(request.args.get("next")) or url_for("accounts.login")
    resp = redirect(target)
    lang = i18n.supported(code)
    if lang is None:
        flash(gettext("Choose one of the languages in the list (English, Japanese, Chinese, "
                      "Russian or Polish)."), "error")
        return resp
    resp.set_cookie(i18n.COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                    secure=request.is_secure)
    return resp


@bp.post("/account/sessions/<session_id>/revoke")
@roles_required(*ANY_ROLE)
def revoke_own_session(session_id):
    row = db.session.get(UserSession, session_id)
    if row is None or row.staff_id != current_user.id:
        raise NotFound(gettext("no such session"))
    services.revoke_session(session_id, actor_id=current_user.id)
    db.session.commit()
    flash(gettext("That session is signed out."))
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
            flash(gettext("The current password is not right."), "error")
        else:
            try:
                services.set_password(current_user, form.new.data, actor_id=current_user.id)
            except ValidationError as exc:
                db.session.rollback()
                for problem in exc.details:
                    flash(gettext("New password: %(problem)s", problem=problem['message']), "error")
                return redirect(url_for("accounts.account"))
            db.session.commit()
            logout_user()
            flash(gettext("Password changed. Sign in again with the new one."))
            return redirect(url_for("accounts.login"))
    else:
        for field, errors in form.errors.items():
            flash(gettext("%(field)s: %(errors)s", field=getattr(form, field).label.text,
                          errors=" ".join(str(e) for e in errors)), "error")
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


@bp.post("/admin/users/<int:staff_id>/active")
@roles_required("admin")
def set_active(staff_id):
    staff = db.session.get(Staff, staff_id) or abort(404)
    wanted = request.form.get("active")
    if wanted not in ("0", "1"):
        flash(gettext("Choose to activate or deactivate."), "error")
        return redirect(url_for("accounts.users"))
    try:
        changed = services.set_active(staff, wanted == "1", actor_id=current_user.id)
    except Conflict as exc:
        db.session.rollback()
        # The service's fixed message (the API gives it in English), in the page's language.
        flash(gettext("you cannot deactivate yourself: ask another admin")
              if exc.message == "you cannot deactivate yourself: ask another admin" else exc.message, "error")
        return redirect(url_for("accounts.users"))
    db.session.commit()
    if changed:
        flash(gettext("%(name)s (%(code)s) can sign in again.", name=staff.name, code=staff.employee_code)
              if staff.active else
              gettext("%(name)s (%(code)s) is deactivated: signed out everywhere, API tokens refused.",
                      name=staff.name, code=staff.employee_code))
    return redirect(url_for("accounts.users"))


@bp.post("/admin/sessions/<session_id>/revoke")
@roles_required("admin")
def revoke_session(session_id):
    services.revoke_session(session_id, actor_id=current_user.id)
    db.session.commit()
    flash(gettext("Session revoked; that browser is signed out."))
    return redirect(url_for("accounts.users"))


@bp.post("/admin/tokens/<int:token_id>/revoke")
@roles_required("admin")
def revoke_token(token_id):
    services.revoke_token(token_id, actor_id=current_user.id)
    db.session.commit()
    flash(gettext("Token revoked."))
    return redirect(url_for("accounts.users"))
