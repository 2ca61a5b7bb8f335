"""The stock ledger is append-only: PostgreSQL itself refuses to change or delete a movement.

A correction is a new movement, never an edit; TRUNCATE (tests only) does not fire row triggers.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION inventory_movement_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stock movements are immutable: write a correcting movement instead'
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER inventory_movement_immutable
    BEFORE UPDATE OR DELETE ON inventory_stockmovement
    FOR EACH ROW EXECUTE FUNCTION inventory_movement_immutable();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS inventory_movement_immutable ON inventory_stockmovement;
DROP FUNCTION IF EXISTS inventory_movement_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
