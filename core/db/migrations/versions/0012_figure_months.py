"""figure months: the eight figures pre-counted per hub and month, kept by triggers

The national roll-up counted 400,000 consultations on every view (1.4 s at p95; issue 13
asks under 1 s). `figure_months` and `figure_month_businesses` hold each hub-month's
counts; triggers add the difference of every INSERT, UPDATE and DELETE on
consultation_records and referrals, and of a case's business changing, in the same
transaction as the change. Being in the database, they cannot be bypassed by a bulk
UPDATE or a COPY, which ORM events could.

PostgreSQL uses statement-level triggers with transition tables (one set-based upsert
per statement, so a COPY of 400,000 rows is one statement, not 400,000), and increments
(`x = x + excluded.x`), which stay right under concurrent writers where recomputing a
month would lose an update. A consultation's trigger takes a share lock on its case, so a
concurrent change of that case's business waits for it (or it for the change) and the
business it is counted under is the one the case finally has.

SQLite has only row-level triggers; it has one writer at a time, so no locking is needed.
Beware: Alembic's batch mode on SQLite recreates a table and drops its triggers; a later
migration that batch-alters consultation_records, referrals or cases must recreate them
(tests/integration/test_figure_months.py fails if they are gone).

The definitions are DOMAIN.md's, as core/figures.py counts them: an issue is a JSON string
that is not blank (spaces, tabs, newlines, the ideographic space); a referral counts when
it goes to a partner, in the Japan-time month it was made.

Revision ID: 0012_figure_months
Revises: 0011_inbox_pending_index
Create Date: 2026-12-07 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_figure_months"
down_revision: str | None = "0011_inbox_pending_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_FIGURES = (
    "consultations",
    "results_confirmed",
    "joint_consultations",
    "issues_set",
    "issue_responses",
    "minutes",
    "referrals",
)

# -- PostgreSQL ------------------------------------------------------------------------------

_PG_BLANKS = "(' ' || chr(9) || chr(10) || chr(13) || chr(12288))"
_PG_ISSUES = f"""(SELECT count(*) FROM json_array_elements(
        CASE WHEN json_typeof(c.issues) = 'array' THEN c.issues END) AS e(item)
    WHERE json_typeof(e.item) = 'string' AND btrim(e.item #>> '{{}}', {_PG_BLANKS}) <> '')"""

_PG_CHANGES = {
    "insert": "SELECT *, 1 AS sign FROM new_rows",
    "delete": "SELECT *, -1 AS sign FROM old_rows",
    "update": "SELECT *, 1 AS sign FROM new_rows UNION ALL SELECT *, -1 AS sign FROM old_rows",
    "rebuild_consultations": "SELECT *, 1 AS sign FROM consultation_records",
    "rebuild_referrals": "SELECT *, 1 AS sign FROM referrals",
}
"""The rows a statement changed, each with the sign of its contribution."""

_PG_ADD = ", ".join(f"{name} = f.{name} + EXCLUDED.{name}" for name in _FIGURES[:-1])


def _pg_consultations(changes: str) -> tuple[str, str]:
    """The figures, then the businesses, a statement's consultations change."""
    return (
        f"""
    WITH changes AS ({changes}),
    counted AS (
        SELECT c.hub_id, date_trunc('month', c.held_on)::date AS month, c.sign,
               c.result_confirmed, c.co_attending_org_id IS NOT NULL AS joint, c.minutes,
               {_PG_ISSUES} AS n
        FROM changes c)
    INSERT INTO figure_months AS f (hub_id, month, {", ".join(_FIGURES)})
    SELECT hub_id, month, sum(sign),
           sum(CASE WHEN result_confirmed THEN sign ELSE 0 END),
           sum(CASE WHEN joint THEN sign ELSE 0 END),
           sum(CASE WHEN n > 0 THEN sign ELSE 0 END),
           sum(sign * n), sum(sign * minutes), 0
    FROM counted GROUP BY hub_id, month
    HAVING sum(sign) <> 0 OR sum(sign * n) <> 0 OR sum(sign * minutes) <> 0
        OR sum(CASE WHEN result_confirmed THEN sign ELSE 0 END) <> 0
        OR sum(CASE WHEN joint THEN sign ELSE 0 END) <> 0
        OR sum(CASE WHEN n > 0 THEN sign ELSE 0 END) <> 0
    ORDER BY hub_id, month
    ON CONFLICT (hub_id, month) DO UPDATE SET {_PG_ADD}
    """,
        f"""
    WITH changes AS ({changes})
    INSERT INTO figure_month_businesses AS b (hub_id, month, business_id, consultations)
    SELECT c.hub_id, date_trunc('month', c.held_on)::date, k.business_id, sum(c.sign)
    FROM changes c JOIN cases k ON k.id = c.case_id
    WHERE k.business_id IS NOT NULL
    GROUP BY 1, 2, 3 HAVING sum(c.sign) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (hub_id, month, business_id)
    DO UPDATE SET consultations = b.consultations + EXCLUDED.consultations
    """,
    )


def _pg_referrals(changes: str) -> str:
    return f"""
    WITH changes AS ({changes})
    INSERT INTO figure_months AS f (hub_id, month, {", ".join(_FIGURES)})
    SELECT from_hub_id, date_trunc('month', created_at AT TIME ZONE 'Asia/Tokyo')::date,
           0, 0, 0, 0, 0, 0, sum(sign)
    FROM changes WHERE direction = 'to_partner'
    GROUP BY 1, 2 HAVING sum(sign) <> 0 ORDER BY 1, 2
    ON CONFLICT (hub_id, month) DO UPDATE SET referrals = f.referrals + EXCLUDED.referrals
    """


_PG_CASES = """
    WITH moved AS (
        SELECT n.id, o.business_id AS was, n.business_id AS now
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE o.business_id IS DISTINCT FROM n.business_id),
    changes AS (
        SELECT id, now AS business_id, 1 AS sign FROM moved WHERE now IS NOT NULL
        UNION ALL SELECT id, was, -1 FROM moved WHERE was IS NOT NULL)
    INSERT INTO figure_month_businesses AS b (hub_id, month, business_id, consultations)
    SELECT r.hub_id, date_trunc('month', r.held_on)::date, c.business_id, sum(c.sign)
    FROM changes c JOIN consultation_records r ON r.case_id = c.id
    GROUP BY 1, 2, 3 HAVING sum(c.sign) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (hub_id, month, business_id)
    DO UPDATE SET consultations = b.consultations + EXCLUDED.consultations;
    """

_PG_LOCK_CASES = {
    "insert": "PERFORM 1 FROM cases WHERE id IN (SELECT case_id FROM new_rows) FOR SHARE;",
    "delete": "PERFORM 1 FROM cases WHERE id IN (SELECT case_id FROM old_rows) FOR SHARE;",
    "update": "PERFORM 1 FROM cases WHERE id IN (SELECT case_id FROM new_rows UNION "
    "SELECT case_id FROM old_rows) FOR SHARE;",
}

_REFERENCING = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def _pg_function(name: str, body: str) -> str:
    return f"""
    CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT
    AS $body$
    BEGIN
    {body}
    RETURN NULL;
    END
    $body$"""


def _pg_trigger(name: str, event: str, table: str) -> str:
    return (
        f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} {_REFERENCING[event]} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
    )


def _pg_triggers() -> list[tuple[str, str, str, str]]:
    """(name, event, table, body) of every trigger."""
    made = []
    for event in ("insert", "update", "delete"):
        made.append(
            (
                f"figure_months_consultations_{event}",
                event,
                "consultation_records",
                _PG_LOCK_CASES[event]
                + ";\n".join(_pg_consultations(_PG_CHANGES[event]))
                + ";",
            )
        )
        made.append(
            (
                f"figure_months_referrals_{event}",
                event,
                "referrals",
                _pg_referrals(_PG_CHANGES[event]) + ";",
            )
        )
    made.append(("figure_months_cases_update", "update", "cases", _PG_CASES))
    return made


# -- SQLite ----------------------------------------------------------------------------------

_SQLITE_BLANKS = "(' ' || char(9) || char(10) || char(13) || char(12288))"
_SQLITE_ADD = ", ".join(f"{name} = {name} + excluded.{name}" for name in _FIGURES[:-1])


def _sqlite_issues(row: str) -> str:
    return f"""(SELECT count(*) FROM json_each(
        CASE WHEN json_type({row}.issues) = 'array' THEN {row}.issues END) AS e
        WHERE e.type = 'text' AND trim(e.value, {_SQLITE_BLANKS}) <> '')"""


def _sqlite_consultation(row: str, sign: int) -> str:
    return f"""
    INSERT INTO figure_months (hub_id, month, {", ".join(_FIGURES)})
    SELECT {row}.hub_id, strftime('%Y-%m-01', {row}.held_on), {sign},
           CASE WHEN {row}.result_confirmed THEN {sign} ELSE 0 END,
           CASE WHEN {row}.co_attending_org_id IS NOT NULL THEN {sign} ELSE 0 END,
           CASE WHEN n > 0 THEN {sign} ELSE 0 END, {sign} * n, {sign} * {row}.minutes, 0
    FROM (SELECT {_sqlite_issues(row)} AS n) WHERE true
    ON CONFLICT (hub_id, month) DO UPDATE SET {_SQLITE_ADD};
    INSERT INTO figure_month_businesses (hub_id, month, business_id, consultations)
    SELECT {row}.hub_id, strftime('%Y-%m-01', {row}.held_on), k.business_id, {sign}
    FROM cases k WHERE k.id = {row}.case_id AND k.business_id IS NOT NULL
    ON CONFLICT (hub_id, month, business_id)
    DO UPDATE SET consultations = consultations + excluded.consultations;
    """


def _sqlite_referral(row: str, sign: int) -> str:
    return f"""
    INSERT INTO figure_months (hub_id, month, {", ".join(_FIGURES)})
    SELECT {row}.from_hub_id, strftime('%Y-%m-01', {row}.created_at, '+9 hours'),
           0, 0, 0, 0, 0, 0, {sign}
    WHERE {row}.direction = 'to_partner'
    ON CONFLICT (hub_id, month) DO UPDATE SET referrals = referrals + excluded.referrals;
    """


def _sqlite_case(row: str, sign: int) -> str:
    return f"""
    INSERT INTO figure_month_businesses (hub_id, month, business_id, consultations)
    SELECT r.hub_id, strftime('%Y-%m-01', r.held_on), {row}.business_id, {sign} * count(*)
    FROM consultation_records r WHERE r.case_id = {row}.id AND {row}.business_id IS NOT NULL
    GROUP BY r.hub_id, strftime('%Y-%m-01', r.held_on)
    ON CONFLICT (hub_id, month, business_id)
    DO UPDATE SET consultations = consultations + excluded.consultations;
    """


def _sqlite_triggers() -> list[str]:
    made = []
    for table, part in (
        ("consultation_records", _sqlite_consultation),
        ("referrals", _sqlite_referral),
    ):
        short = "consultations" if table == "consultation_records" else "referrals"
        made += [
            f"CREATE TRIGGER figure_months_{short}_insert AFTER INSERT ON {table} "
            f"BEGIN {part('NEW', 1)} END",
            f"CREATE TRIGGER figure_months_{short}_update AFTER UPDATE ON {table} "
            f"BEGIN {part('OLD', -1)} {part('NEW', 1)} END",
            f"CREATE TRIGGER figure_months_{short}_delete AFTER DELETE ON {table} "
            f"BEGIN {part('OLD', -1)} END",
        ]
    made.append(
        "CREATE TRIGGER figure_months_cases_update AFTER UPDATE OF business_id ON cases "
        "WHEN OLD.business_id IS NOT NEW.business_id "
        f"BEGIN {_sqlite_case('OLD', -1)} {_sqlite_case('NEW', 1)} END"
    )
    return made


_SQLITE_REBUILD = [
    f"""
    INSERT INTO figure_months (hub_id, month, {", ".join(_FIGURES)})
    SELECT c.hub_id, strftime('%Y-%m-01', c.held_on), count(*),
           sum(CASE WHEN c.result_confirmed THEN 1 ELSE 0 END),
           sum(CASE WHEN c.co_attending_org_id IS NOT NULL THEN 1 ELSE 0 END),
           sum(CASE WHEN {_sqlite_issues("c")} > 0 THEN 1 ELSE 0 END),
           sum({_sqlite_issues("c")}), sum(c.minutes), 0
    FROM consultation_records c GROUP BY 1, 2
    """,
    """
    INSERT INTO figure_months (hub_id, month, consultations, results_confirmed,
        joint_consultations, issues_set, issue_responses, minutes, referrals)
    SELECT from_hub_id, strftime('%Y-%m-01', created_at, '+9 hours'), 0, 0, 0, 0, 0, 0, count(*)
    FROM referrals WHERE direction = 'to_partner' GROUP BY 1, 2 HAVING true
    ON CONFLICT (hub_id, month) DO UPDATE SET referrals = excluded.referrals
    """,
    """
    INSERT INTO figure_month_businesses (hub_id, month, business_id, consultations)
    SELECT r.hub_id, strftime('%Y-%m-01', r.held_on), k.business_id, count(*)
    FROM consultation_records r JOIN cases k ON k.id = r.case_id
    WHERE k.business_id IS NOT NULL GROUP BY 1, 2, 3
    """,
]
"""What the records already written count, before the triggers count the next ones."""


def upgrade() -> None:
    op.create_table(
        "figure_month_businesses",
        sa.Column("hub_id", _ID, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("business_id", _ID, nullable=False),
        sa.Column("consultations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "hub_id", "month", "business_id", name=op.f("pk_figure_month_businesses")
        ),
    )
    with op.batch_alter_table("figure_month_businesses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_figure_month_businesses_business_id", ["business_id"], unique=False
        )
    op.create_table(
        "figure_months",
        sa.Column("hub_id", _ID, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _FIGURES[:-2]),
        sa.Column("minutes", sa.BigInteger(), nullable=False),
        sa.Column("referrals", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hub_id", "month", name=op.f("pk_figure_months")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in _pg_consultations(_PG_CHANGES["rebuild_consultations"]):
            op.execute(statement)
        op.execute(_pg_referrals(_PG_CHANGES["rebuild_referrals"]))
        for name, event, table, body in _pg_triggers():
            op.execute(_pg_function(name, body))
            op.execute(_pg_trigger(name, event, table))
    else:
        for statement in _SQLITE_REBUILD:
            op.execute(statement)
        for statement in _sqlite_triggers():
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, _event, table, _body in _pg_triggers():
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("figure_months")
    with op.batch_alter_table("figure_month_businesses", schema=None) as batch_op:
        batch_op.drop_index("ix_figure_month_businesses_business_id")
    op.drop_table("figure_month_businesses")
