# LearnerProfile now belongs to accounts (accounts 0001); only the state changes here,
# the table quizbank_learnerprofile and its rows stay.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("quizbank", "0003_mock_interviews"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="LearnerProfile")],
            database_operations=[],
        ),
    ]
