"""client erasures (GDPR): who erased a client's personal data, when, why,
and the digest of the ref it had (docs/privacy.md)

Revision ID: b0b06df22ccd
Revises: b6ff912ec76d
Create Date: 2026-11-30 04:45:30.626666

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b0b06df22ccd'
down_revision = 'b6ff912ec76d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('client_erasures',
    sa.Column('client_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('ref_digest', sa.String(length=64), nullable=False),
    sa.Column('erased_at', sa.DateTime(), nullable=False),
    sa.Column('erased_by', sa.Integer(), nullable=True),
    sa.Column('via', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_client_erasures_client_id_clients')),
    sa.ForeignKeyConstraint(['erased_by'], ['staff.id'], name=op.f('fk_client_erasures_erased_by_staff')),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_client_erasures')),
    sa.UniqueConstraint('ref_digest', name=op.f('uq_client_erasures_ref_digest'))
    )


def downgrade():
    op.drop_table('client_erasures')
