# ApiToken now belongs to accounts (accounts 0001); only the state changes here, the table
# grading_apitoken and its rows stay.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("grading", "0001_initial"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ApiToken")],
            database_operations=[],
        ),
    ]
