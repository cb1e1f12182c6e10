"""The manager's dormancy pages: roles, numbers, links, escaping, empty state."""
import html
import re
from datetime import date

XSS = "<script>alert(1)</script>"


def _page(client, url, status=200) -> str:
    resp = client.get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)[:800]
    return resp.get_data(as_text=True)


def test_pages_are_for_managers_only(client, make_staff, login_as, make_client):
    make_client("C-1")
    assert client.get("/dormancy").status_code == 302  # signed out: to the sign-in page
    login_as(make_staff(roles=("agent",)))
    for url in ("/dormancy", "/dormancy/clients?bucket=never", "/clients/C-1"):
        assert client.get(url).status_code == 403, url


def test_empty_state_points_to_imports(client, make_staff, login_as):
    login_as(make_staff(roles=("manager",)))
    body = _page(client, "/dormancy")
    assert "No clients yet — import clients.csv and visits.csv" in body
    assert 'href="/imports"' in body


def test_overview_numbers_link_to_the_clients_behind_them(client, make_staff, login_as, make_store,
                                                          make_client, make_visit):
    login_as(make_staff(roles=("manager",)))
    store = make_store("WAW", name="Warsaw")
    for amount in (1250, 3000):
        make_visit(make_client(store=store), date(2026, 1, 15), amount=amount)
    make_client(store=store)
    body = _page(client, "/dormancy?as_of=2026-03-01")
    assert "Clients by time since last visit and tier" in body and "Per store" in body
    assert "42.50 PLN" in body  # the spend at stake of the d1 / one-visit cell
    links = set(re.findall(r'href="(/dormancy/clients\?[^"]+)"', body))
    cell = next(html.unescape(u) for u in links if "bucket=d1" in u and "tier=one_time" in u)
    assert "as_of=2026-03-01" in cell
    listing = _page(client, cell)
    assert listing.count('href="/clients/') == 2 and "42.50" not in listing
    assert "30.00 PLN" in listing and "12.50 PLN" in listing
    per_store = next(html.unescape(u) for u in links if "store=WAW" in u and "bucket=never" in u)
    assert _page(client, per_store).count('href="/clients/') == 1


def test_store_filter_and_invalid_input(client, make_staff, login_as, make_store, make_client):
    login_as(make_staff(roles=("manager",)))
    make_client(store=make_store("A1"))
    make_client(store=make_store("B2"))
    body = _page(client, "/dormancy?store=A1")
    assert '<option value="A1" selected>' in body
    assert "B2 <span" not in body  # the per-store table shows the chosen store only
    body = _page(client, "/dormancy?as_of=2026-02-31&store=ZZ", status=422)
    assert "as_of is not a real date" in body and "unknown store code" in body
    assert _page(client, "/dormancy/clients?bucket=d9", status=422).count("unknown bucket") == 1


def test_names_are_escaped_everywhere(client, make_staff, login_as, make_client, make_visit):
    login_as(make_staff(roles=("manager",)))
    c = make_client("R<1>", first_name=XSS, last_name="O'Hara & Co", notes=f"note {XSS}")
    for d in (1, 2, 3):
        make_visit(c, date(2026, 2, d), status="no_show", served_by=XSS)
    make_visit(c, date(2026, 2, 10), served_by=XSS, service=XSS)
    pages = [_page(client, "/dormancy?as_of=2026-03-01"),                      # the banned list
             _page(client, "/dormancy/clients?bucket=active&as_of=2026-03-01"),
             _page(client, "/clients/R%3C1%3E?as_of=2026-03-01")]
    for body in pages:
        assert XSS not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "R&lt;1&gt;" in body


def test_client_page_shows_the_card(client, make_staff, login_as, make_store, make_client, make_visit):
    login_as(make_staff(roles=("manager",)))
    make_staff("T01", name="Ivan Petrov")
    c = make_client("C-9", store=make_store("WAW", name="Warsaw"), first_name="Anna", last_name="Nowak",
                    notes="allergy: lavender")
    make_visit(c, date(2026, 1, 2), service="massage", served_by="T01", amount=5000)
    body = _page(client, "/clients/C-9?as_of=2026-03-01")
    for text in ("Anna Nowak", "C-9", "2026-01-02", "massage", "by Ivan Petrov", "58", "allergy: lavender",
                 'href="tel:+48501234567"', "50.00 PLN", "WAW · Warsaw", "No calls or messages recorded"):
        assert text in body, text
    assert client.get("/clients/NOPE").status_code == 404


def test_overdue_and_banned_lists_paginate(client, make_staff, login_as, make_store, make_client,
                                           make_visit):
    login_as(make_staff(roles=("manager",)))
    store = make_store()
    for i in range(52):
        c = make_client(store=store)
        for d in (1, 2, 3):
            make_visit(c, date(2026, 2, d), status="no_show")
    body = _page(client, "/dormancy?as_of=2026-03-01")
    assert "Banned for no-shows" in body and "Page 1 of 2" in body
    assert "banned_page=2" in body and "Nobody is overdue" in body
    body = _page(client, "/dormancy?as_of=2026-03-01&banned_page=2")
    assert "Page 2 of 2" in body and "banned_page=1" in body
