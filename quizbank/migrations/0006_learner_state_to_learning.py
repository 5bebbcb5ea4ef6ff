# The learner's state now belongs to learning (learning 0001); only the state changes
# here, the quizbank_* tables of those models and their rows stay.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("quizbank", "0005_mock_attempts_to_interviews"),
        ("learning", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="learnerplan",
                    name="chapter",
                ),
                migrations.RemoveField(
                    model_name="learnerplan",
                    name="user",
                ),
                migrations.RemoveField(
                    model_name="taskcompletion",
                    name="plan",
                ),
                migrations.RemoveField(
                    model_name="problemsolve",
                    name="problem",
                ),
                migrations.RemoveField(
                    model_name="problemsolve",
                    name="user",
                ),
                migrations.RemoveField(
                    model_name="reviewlogentry",
                    name="item",
                ),
                migrations.RemoveField(
                    model_name="reviewlogentry",
                    name="user",
                ),
                migrations.RemoveField(
                    model_name="skillrating",
                    name="skill",
                ),
                migrations.RemoveField(
                    model_name="skillrating",
                    name="snapshot",
                ),
                migrations.RemoveField(
                    model_name="skillratingsnapshot",
                    name="chapter",
                ),
                migrations.RemoveField(
                    model_name="skillratingsnapshot",
                    name="user",
                ),
                migrations.RemoveField(
                    model_name="taskcompletion",
                    name="task",
                ),
                migrations.DeleteModel(
                    name="LearnerCard",
                ),
                migrations.DeleteModel(
                    name="LearnerPlan",
                ),
                migrations.DeleteModel(
                    name="ProblemSolve",
                ),
                migrations.DeleteModel(
                    name="ReviewLogEntry",
                ),
                migrations.DeleteModel(
                    name="SkillRating",
                ),
                migrations.DeleteModel(
                    name="SkillRatingSnapshot",
                ),
                migrations.DeleteModel(
                    name="TaskCompletion",
                ),
            ],
            database_operations=[],
        ),
    ]
