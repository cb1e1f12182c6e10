"""audit log append-only (PostgreSQL trigger)

Revision ID: 3f2a9c1d7e55
Revises: b0b06df22ccd
Create Date: 2026-11-30 07:30:00

UPDATE and DELETE on audit_log raise, except an UPDATE inside a privacy
erasure's transaction (it sets winback.audit_scrub). SQLite, the embedded
default for trying Winback out, has no such guard (docs/security.md).
"""
from alembic import op


revision = '3f2a9c1d7e55'
down_revision = 'b0b06df22ccd'
branch_labels = None
depends_on = None

# A copy, not an import: a migration must not change when the code does.
AUDIT_APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND current_setting('winback.audit_scrub', true) = 'on' THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION USING MESSAGE = 'the audit log is append-only: ' || TG_OP || ' refused',
    ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(AUDIT_APPEND_ONLY_SQL)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
