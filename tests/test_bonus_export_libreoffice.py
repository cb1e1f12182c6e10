"""The payroll XLSX opens in LibreOffice with the same values as the CSV:
LibreOffice (headless) converts the exported workbook to CSV, and that
CSV must read back row for row — header, text and every formatted
amount — as the run's own CSV export."""
from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import datetime

import pytest

from campaign.bonuses import exports
from tests.bonus_world import at, june  # noqa: F401 (june is a fixture)

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed here; .ci/run installs "
                                                        "libreoffice-calc-nogui so CI runs this")


def libreoffice_csv(xlsx: bytes, tmp_path) -> list[list[str]]:
    src = tmp_path / "payroll.xlsx"
    src.write_bytes(xlsx)
    out = tmp_path / "out"
    # 44 = ',', 34 = '"', 76 = UTF-8, 1 = start at row 1; a private profile so runs never share one.
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless", "--convert-to",
                    'csv:Text - txt - csv (StarCalc):44,34,76,1', "--outdir", str(out), str(src)],
                   check=True, capture_output=True, timeout=180)
    return list(csv.reader(io.StringIO((out / "payroll.csv").read_text(encoding="utf-8"))))


ROWS = [{"period": "2026-11", "employee_code": "A01", "name": "Anna Nowak", "team": "North", "team_share": 123450,
         "rank_reward": 50000, "competition": -2000, "adjustments": 5, "total": 176455, "currency": "PLN"},
        {"period": "2026-11", "employee_code": "J01", "name": "山田 花子", "team": "東京", "team_share": 5000,
         "rank_reward": 0, "competition": 0, "adjustments": -700, "total": 4300, "currency": "JPY"},
        {"period": "2026-11", "employee_code": "R01", "name": "=cmd|' /C calc'!A0", "team": "", "team_share": 0,
         "rank_reward": 0, "competition": 0, "adjustments": 0, "total": 1, "currency": "PLN"}]


def test_the_xlsx_converted_by_libreoffice_reads_as_the_csv(tmp_path):
    ours = list(csv.reader(io.StringIO(exports.render_csv(ROWS).decode("utf-8"))))
    assert ours[1][4:9] == ["1234.50", "500.00", "-20.00", "0.05", "1764.55"]
    assert ours[2][4:9] == ["5000.00", "0.00", "0.00", "-700.00", "4300.00"], "yen: two places, as SPEC §8 says"
    assert ours[3][2] == "'=cmd|' /C calc'!A0", "a formula-like name is neutralised"
    assert libreoffice_csv(exports.render_xlsx(ROWS), tmp_path) == ours


def test_a_real_run_exports_the_same_values_in_both_files(client, june, pin_clock, tmp_path):
    h = june["h"]
    at(pin_clock, datetime(2026, 7, 1, 8, 0))
    rid = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-06"}).get_json()["id"]
    client.post(f"/api/v1/bonus-runs/{rid}/approve", headers=h["manager"])
    ours = list(csv.reader(io.StringIO(client.get(f"/api/v1/bonus-runs/{rid}/export.csv", headers=h["payroll"])
                                       .get_data(as_text=True))))
    assert [r[1] for r in ours] == ["employee_code", "A01", "A02", "B01"] and ours[3][6] == "-20.00"
    assert libreoffice_csv(client.get(f"/api/v1/bonus-runs/{rid}/export.xlsx", headers=h["payroll"]).data,
                           tmp_path) == ours
