"""Sign-in, revocable server-side sessions, CSRF, role checks and API tokens."""
import pytest
from sqlalchemy import select

from campaign.accounts.models import UserSession
from campaign.extensions import db

from .conftest import TEST_PASSWORD, csrf_from


def test_sign_in_and_out(client, make_staff, login_as):
    manager = make_staff(roles=("manager",))
    login_as(manager)
    assert client.get("/account").status_code == 200
    page = client.get("/account").get_data(as_text=True)
    resp = client.post("/logout", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    assert client.get("/account").status_code == 302  # back to the sign-in page


def test_wrong_password_is_refused_with_a_clear_message(client, make_staff):
    staff = make_staff()
    page = client.get("/login").get_data(as_text=True)
    resp = client.post("/login", data={"login": staff.employee_code, "password": "nope",
                                       "csrf_token": csrf_from(page)})
    assert resp.status_code == 401
    assert "do not match" in resp.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client, make_staff):
    staff = make_staff()
    resp = client.post("/login", data={"login": staff.employee_code, "password": TEST_PASSWORD})
    assert resp.status_code in (200, 400)
    assert client.get("/account").status_code == 302  # still signed out


def test_posting_a_form_without_csrf_is_refused(client, make_staff, login_as):
    login_as(make_staff())
    resp = client.post("/logout", data={})
    assert resp.status_code == 400
    assert client.get("/account").status_code == 200  # not signed out


def test_revoked_session_is_signed_out_at_once(client, make_staff, login_as, app):
    staff = make_staff()
    login_as(staff)
    with app.app_context():
        for row in db.session.query(UserSession).filter_by(staff_id=staff.id):
            row.revoked_at = row.created_at
        db.session.commit()
    assert client.get("/account").status_code == 302


def test_admin_revokes_another_persons_session(app, make_staff):
    victim, admin = make_staff(), make_staff(roles=("admin",))
    c1, c2 = app.test_client(), app.test_client()
    for c, who in ((c1, victim), (c2, admin)):
        page = c.get("/login").get_data(as_text=True)
        c.post("/login", data={"login": who.employee_code, "password": TEST_PASSWORD,
                               "csrf_token": csrf_from(page)})
    with app.app_context():
        sid = db.session.query(UserSession.id).filter_by(staff_id=victim.id).scalar()
    page = c2.get("/admin/users").get_data(as_text=True)
    assert c2.post(f"/admin/sessions/{sid}/revoke", data={"csrf_token": csrf_from(page)}).status_code == 302
    assert c1.get("/account").status_code == 302


def test_roles_are_checked_on_pages(client, make_staff, login_as):
    login_as(make_staff(roles=("agent",)))
    assert client.get("/admin/users").status_code == 403
    assert client.get("/dormancy").status_code == 403
    assert client.get("/imports").status_code == 403


def test_pos_identity_cannot_sign_in(client, make_staff):
    pos = make_staff(roles=("pos",))
    page = client.get("/login").get_data(as_text=True)
    resp = client.post("/login", data={"login": pos.employee_code, "password": TEST_PASSWORD,
                                       "csrf_token": csrf_from(page)})
    assert resp.status_code == 401


def test_open_redirect_after_login_is_ignored(client, make_staff):
    staff = make_staff(roles=("manager",))
    page = client.get("/login").get_data(as_text=True)
    resp = client.post("/login?next=//evil.example/x", data={
        "login": staff.employee_code, "password": TEST_PASSWORD, "csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    assert "evil.example" not in resp.headers["Location"]


def test_every_view_declares_its_roles(app):
    """No route may exist without an explicit role decision (roles_required, api_roles or public)."""
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "winback_roles"):
            missing.append(rule.rule)
    assert missing == []


def test_api_needs_a_valid_token(client, make_staff, token_for):
    assert client.get("/api/v1/jobs/x").status_code == 401
    assert client.get("/api/v1/jobs/x", headers={"Authorization": "Bearer nope"}).status_code == 401
    body = client.get("/api/v1/jobs/x").get_json()
    assert body["error"]["code"] == "unauthorized"
    headers = token_for(make_staff(roles=("manager",)))
    assert client.get("/api/v1/jobs/x", headers=headers).status_code == 404


def test_revoked_token_is_refused(client, make_staff, app):
    from campaign.accounts import services
    staff = make_staff(roles=("manager",))
    with app.app_context():
        token = services.create_token(staff, actor_id=None)
        db.session.commit()
        from campaign.accounts.models import ApiToken
        token_id = db.session.query(ApiToken.id).scalar()
        services.revoke_token(token_id, actor_id=None)
        db.session.commit()
    assert client.get("/api/v1/jobs/x", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_token_is_stored_hashed(app, make_staff):
    from campaign.accounts import services
    from campaign.accounts.models import ApiToken
    staff = make_staff()
    with app.app_context():
        token = services.create_token(staff, actor_id=None)
        db.session.commit()
        row = db.session.query(ApiToken).one()
        assert token not in (row.token_hash, row.prefix)
        assert row.token_hash == services.token_hash(token)


def test_cli_token_create_and_set_password(runner, make_staff, client):
    staff = make_staff(password=False)
    out = runner.invoke(args=["token", "create", staff.employee_code])
    assert out.exit_code == 0 and out.output.strip().startswith("wb_")
    assert runner.invoke(args=["token", "create", "NOBODY"]).exit_code != 0
    out = runner.invoke(args=["user", "set-password", staff.employee_code, "--password", "short"])
    assert out.exit_code != 0 and "at least 12" in out.output
    out = runner.invoke(args=["user", "set-password", staff.employee_code, "--password", "a-long-p4ssword-here"])
    assert out.exit_code == 0, out.output
    page = client.get("/login").get_data(as_text=True)
    resp = client.post("/login", data={"login": staff.email, "password": "a-long-p4ssword-here",
                                       "csrf_token": csrf_from(page)})
    assert resp.status_code == 302


def test_failed_sign_ins_are_throttled_per_account_and_success_does_not_count(app, client, make_staff):
    """After 10 failed sign-ins for one account in 15 minutes the form answers
    429 with the reason — even with the right password — while other accounts
    are unaffected. Successful sign-ins never count."""
    from tests.conftest import TEST_PASSWORD, csrf_from
    victim, other = make_staff("V01"), make_staff("O01")

    def attempt(code, password):
        c = app.test_client()
        token = csrf_from(c.get("/login").get_data(as_text=True))
        return c.post("/login", data={"login": code, "password": password, "csrf_token": token})

    for _ in range(12):
        assert attempt("O01", TEST_PASSWORD).status_code == 302, "successes are not counted"
    for i in range(10):
        assert attempt("V01", f"guess-{i}").status_code == 401
    blocked = attempt("v01 ", TEST_PASSWORD)  # the same account however it is typed
    assert blocked.status_code == 429
    assert "Too many failed sign-ins for this account" in blocked.get_data(as_text=True)
    assert int(blocked.headers["Retry-After"]) > 0
    assert attempt("O01", TEST_PASSWORD).status_code == 302, "another account signs in"
    assert victim.active


def test_a_session_expires_after_a_shift_idle_and_a_week_in_any_case(app, client, make_staff, login_as):
    """Expiry follows the real clock (WINBACK_NOW pins the application's
    clock for demos, never how long a browser stays signed in)."""
    from datetime import timedelta

    from campaign.accounts.models import UserSession
    staff = make_staff("E01", roles=("manager",))
    for column, age in (("last_seen_at", timedelta(minutes=12 * 60 + 1)), ("created_at", timedelta(hours=169))):
        login_as(staff)
        assert client.get("/account").status_code == 200
        row = db.session.scalars(select(UserSession).where(UserSession.revoked_at.is_(None))).one()
        setattr(row, column, getattr(row, column) - age)
        db.session.commit()
        resp = client.get("/account")
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], column
        db.session.expire_all()
        assert db.session.get(UserSession, row.id).revoked_at is not None
    app.config["WINBACK_NOW"] = "2030-01-01T00:00:00+00:00"  # a pinned clock years ahead changes nothing
    login_as(staff)
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize("password, reason", [
    ("short one", "at least 12"),
    ("password1234", "common"),
    ("qwertyuiop12", "common"),
    ("aaaaaaaaaaaaaaaa", "repeat"),
    ("P01-Pat Kowalski", "guess"),  # the person's own code and name
    ("x" * 129, "at most 128"),
    ("tab\there is bad!", "printable"),
])
def test_the_password_policy_refuses_short_common_and_personal_passwords(app, make_staff, password, reason):
    from campaign.accounts import services
    from campaign.core.errors import ValidationError
    staff = make_staff("P01", name="Pat Kowalski")
    with app.app_context():
        before = staff.password_hash
        with pytest.raises(ValidationError) as err:
            services.set_password(db.session.merge(staff), password, actor_id=None)
        assert reason in err.value.message.lower() or reason in str(err.value.details).lower()
        db.session.rollback()
        assert db.session.get(type(staff), staff.id).password_hash == before


@pytest.mark.parametrize("password", [
    "correct horse battery",        # a few words
    "zażółć gęślą jaźń mocno",      # Polish with diacritics, 23 characters
    "очень длинный пароль",         # Cyrillic passphrase
    "Tr0ub4dor&3x-staple",
])
def test_the_password_policy_accepts_passphrases_in_any_script(app, make_staff, password):
    from campaign.accounts import services
    staff = make_staff("P02")
    with app.app_context():
        services.set_password(db.session.merge(staff), password, actor_id=None)
        db.session.commit()
        assert services.authenticate("P02", password) is not None


def test_changing_to_a_weak_password_on_the_account_page_says_why_and_keeps_the_old(
        client, make_staff, login_as):
    staff = make_staff("P03")
    login_as(staff)
    page = client.get("/account").get_data(as_text=True)
    assert "At least 12 characters" in page
    resp = client.post("/account/password", data={
        "current": TEST_PASSWORD, "new": "password1234", "csrf_token": csrf_from(page)},
        follow_redirects=True)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "New password:" in body and "common" in body
    assert client.get("/account").status_code == 200  # still signed in, old password kept
    from campaign.accounts import services
    assert services.authenticate("P03", TEST_PASSWORD) is not None


def test_an_admin_deactivates_a_person_who_is_signed_out_at_once_and_loses_api_access(
        app, client, make_staff, login_as, token_for, runner):
    """ASVS V3.3: disabling an account ends its sessions on the server; its
    tokens stop working too; the admin cannot lock themselves out."""
    from campaign.accounts.models import Staff
    admin, agent = make_staff("ADM9", roles=("admin",)), make_staff("A09", roles=("agent",), name="Ola Lis")
    headers = token_for(agent)
    victim = app.test_client()
    page = victim.get("/login").get_data(as_text=True)
    victim.post("/login", data={"login": "A09", "password": TEST_PASSWORD, "csrf_token": csrf_from(page)})
    assert victim.get("/account").status_code == 200
    assert client.get("/api/v1/queue", headers=headers).status_code != 401

    login_as(admin)
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Deactivate Ola Lis?" in page
    resp = client.post(f"/admin/users/{agent.id}/active", data={"active": "0", "csrf_token": csrf_from(page)},
                       follow_redirects=True)
    assert "is deactivated" in resp.get_data(as_text=True)
    assert victim.get("/account").status_code == 302  # signed out at its next request
    assert client.get("/api/v1/queue", headers=headers).status_code == 401
    page = victim.get("/login").get_data(as_text=True)
    assert victim.post("/login", data={"login": "A09", "password": TEST_PASSWORD,
                                       "csrf_token": csrf_from(page)}).status_code == 401
    # Bad values and self-deactivation are refused with a reason, changing nothing.
    page = client.get("/admin/users").get_data(as_text=True)
    body = client.post(f"/admin/users/{agent.id}/active", data={"active": "maybe", "csrf_token": csrf_from(page)},
                       follow_redirects=True).get_data(as_text=True)
    assert "Choose to activate or deactivate." in body
    body = client.post(f"/admin/users/{admin.id}/active", data={"active": "0", "csrf_token": csrf_from(page)},
                       follow_redirects=True).get_data(as_text=True)
    assert "you cannot deactivate yourself" in body
    assert client.post("/admin/users/999999/active", data={"active": "0", "csrf_token": csrf_from(page)}
                       ).status_code == 404
    with app.app_context():
        assert db.session.get(Staff, admin.id).active and not db.session.get(Staff, agent.id).active
    # The CLI reactivates; the person signs in again.
    out = runner.invoke(args=["user", "activate", "A09"])
    assert out.exit_code == 0 and "is now active" in out.output
    assert runner.invoke(args=["user", "activate", "A09"]).output.strip().endswith("was already active")
    page = victim.get("/login").get_data(as_text=True)
    assert victim.post("/login", data={"login": "A09", "password": TEST_PASSWORD,
                                       "csrf_token": csrf_from(page)}).status_code == 302
    out = runner.invoke(args=["user", "deactivate", "NOBODY"])
    assert out.exit_code != 0 and "no staff member" in out.output
    with app.app_context():
        from campaign.core.models import AuditLog
        actions = [a for (a,) in db.session.execute(db.select(AuditLog.action).where(
            AuditLog.action.in_(("user.activate", "user.deactivate"))).order_by(AuditLog.id))]
        assert actions == ["user.deactivate", "user.activate"]
