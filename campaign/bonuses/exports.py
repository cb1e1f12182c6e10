"""The payroll files of SPEC §8: CSV and XLSX with the same columns.

CSV: UTF-8 without a byte-order mark (the header starts with ``period``
for the programs that read it), ``,`` delimiter, CRLF line ends, amounts
as decimal strings with two places (``1234.50``; a currency with three
minor digits keeps three). Text cells are neutralised against formula
injection; amounts are plain numbers and never are.

XLSX: the same header and rows; amounts are numbers with the ``0.00``
format, so a spreadsheet shows (and LibreOffice's CSV export writes) the
same text as the CSV and payroll can still add them up.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from ..core.csvio import neutralise
from ..core.money import exponent

FORMATS = ("csv", "xlsx")
COLUMNS = ("period", "employee_code", "name", "team", "team_share", "rank_reward", "competition", "adjustments",
           "total", "currency")
AMOUNTS = ("team_share", "rank_reward", "competition", "adjustments", "total")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def response(run, data: bytes, fmt: str):
    """The stored file as a download, with its hash."""
    from flask import Response

    from ..scoring.rules import Period
    name = f"winback-bonus-{Period.of_key(run.month).label}.{fmt}"
    return Response(data, mimetype=MEDIA_TYPES[fmt].split(";")[0],
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Content-SHA256": run.csv_sha256 if fmt == "csv" else run.xlsx_sha256,
                             "Cache-Control": "no-store"})


def places(currency: str) -> int:
    return max(2, exponent(currency))


def amount_decimal(minor: int, currency: str) -> Decimal:
    """123450 PLN -> Decimal('1234.50'); 5000 JPY -> Decimal('5000.00')."""
    q = Decimal(1).scaleb(-places(currency))
    return Decimal(minor).scaleb(-exponent(currency)).quantize(q)


def amount_text(minor: int, currency: str) -> str:
    return str(amount_decimal(minor, currency))


def render(fmt: str, rows: list[dict]) -> bytes:
    return render_csv(rows) if fmt == "csv" else render_xlsx(rows)


def render_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([amount_text(r[c], r["currency"]) if c in AMOUNTS else neutralise(r[c]) for c in COLUMNS])
    return out.getvalue().encode("utf-8")


def render_xlsx(rows: list[dict]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "payroll"
    ws.append(list(COLUMNS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for i, r in enumerate(rows, start=2):
        fmt = "0." + "0" * places(r["currency"])
        ws.append([amount_decimal(r[c], r["currency"]) if c in AMOUNTS else neutralise(r[c]) for c in COLUMNS])
        for col in range(5, 10):  # by address: ws[row] rescans the sheet (quadratic, measured)
            ws.cell(row=i, column=col).number_format = fmt
    ws.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJ", (9, 14, 28, 16, 12, 12, 12, 12, 12, 9)):
        ws.column_dimensions[letter].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
