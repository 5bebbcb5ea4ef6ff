# MockAttempt and MockAnswer now belong to interviews (interviews 0001); only the state
# changes here, the tables quizbank_mockattempt and quizbank_mockanswer and their rows stay.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("quizbank", "0004_learnerprofile_to_accounts"),
        ("interviews", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="mockattempt",
                    name="script",
                ),
                migrations.RemoveField(
                    model_name="mockattempt",
                    name="user",
                ),
                migrations.DeleteModel(
                    name="MockAnswer",
                ),
                migrations.DeleteModel(
                    name="MockAttempt",
                ),
            ],
            database_operations=[],
        ),
    ]
