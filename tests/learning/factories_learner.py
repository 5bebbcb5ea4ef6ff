"""A small, correct content set built with the ORM, for the learner tests.

Text is our own; figures agree with the papers (ResNet-50: 25,557,032 parameters;
bottleneck/basic at equal width: 0.059).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from accounts.services import profile_set_time_zone
from quizbank.models import (
    Chapter,
    Choice,
    ExerciseStatement,
    Hint,
    Item,
    MockScript,
    Part,
    Problem,
    ReviewDay,
    ReviewTask,
    RubricPoint,
    Skill,
)


@dataclass
class Content:
    chapter: Chapter
    parts: dict[str, Part]
    skills: list[Skill]
    items: dict[str, Item]
    problem: Problem
    exercise: ExerciseStatement
    mock: MockScript
    days: dict[int, ReviewDay]
    tasks: dict[str, ReviewTask] = field(default_factory=dict)


def make_user(username: str = "ada", *, time_zone: str = "UTC", password: str | None = None):
    """Without a password the user cannot log in by form (tests use force_login); hashing
    a real password costs about a second here."""
    user = get_user_model().objects.create_user(username=username, password=password)
    profile_set_time_zone(user=user, time_zone=time_zone)
    return user


def make_content(*, day0_items: tuple[str, ...] = ("mc", "free")) -> Content:
    """The chapter with five checkpoints; Day 0 reviews `day0_items` (keys of `items`)."""
    chapter = Chapter.objects.create(slug="resnet", title="ResNet", version="test")
    parts = {
        slug: Part.objects.create(chapter=chapter, slug=slug, title=title, order=n)
        for n, (slug, title) in enumerate(
            [
                ("degradation", "The degradation problem"),
                ("blocks", "Basic and bottleneck blocks"),
                ("family", "The ResNet family"),
            ]
        )
    }
    skills = []
    for n, (slug, title, part) in enumerate(
        [
            ("explain-degradation", "Explain the degradation problem", "degradation"),
            ("draw-blocks", "Draw basic and bottleneck blocks", "blocks"),
            ("describe-resnet50", "Describe ResNet-50", "family"),
        ]
    ):
        skill = Skill.objects.create(chapter=chapter, slug=slug, title=title, order=n)
        skill.parts.add(parts[part])
        skills.append(skill)

    items: dict[str, Item] = {}
    mc = Item.objects.create(
        chapter=chapter,
        part=parts["degradation"],
        slug="degradation-cause",
        kind=Item.Kind.MULTIPLE_CHOICE,
        prompt="A 56-layer plain net has higher *training* error than a 20-layer one. Why?",
        explanation="Training error rises too, so it is an optimisation difficulty.",
        order=1,
        cheat_sheet=True,
    )
    Choice.objects.create(item=mc, order=1, text="Overfitting", why="Training error rises too.")
    Choice.objects.create(
        item=mc, order=2, text="The deeper net is harder to optimise", correct=True, why="Yes."
    )
    Choice.objects.create(item=mc, order=3, text="Too few parameters", why="It has more.")
    items["mc"] = mc

    numeric = Item.objects.create(
        chapter=chapter,
        part=parts["family"],
        slug="resnet50-params",
        kind=Item.Kind.NUMERIC,
        prompt="How many parameters does torchvision's ResNet-50 have?",
        answer_number=25557032,
        tolerance=0.005,
        tolerance_mode=Item.ToleranceMode.RELATIVE,
        unit="parameters",
        order=1,
        cheat_sheet=True,
    )
    items["numeric"] = numeric

    ordering = Item.objects.create(
        chapter=chapter,
        part=parts["blocks"],
        slug="basic-block-order",
        kind=Item.Kind.ORDERING,
        prompt="Order the layers of a v1 basic block's residual branch.",
        order=1,
    )
    for n, text in enumerate(["3x3 conv", "BatchNorm", "ReLU", "3x3 conv", "BatchNorm"], 1):
        Choice.objects.create(item=ordering, order=n, text=text)
    items["ordering"] = ordering

    free = Item.objects.create(
        chapter=chapter,
        part=parts["degradation"],
        slug="explain-degradation-60s",
        kind=Item.Kind.FREE_TEXT,
        prompt="In 60 seconds: what is the degradation problem?",
        model_answer="Deeper plain nets reach higher training error; it is an optimisation problem.",
        traps=[{"phrase": "overfitting", "why": "Training error rises too."}],
        order=2,
    )
    for n, (text, keywords) in enumerate(
        [
            ("Training error rises with depth", ["training error"]),
            ("It is not overfitting", ["not overfitting"]),
            ("Identity layers would be a solution the optimiser fails to find", ["identity"]),
        ],
        1,
    ):
        RubricPoint.objects.create(item=free, order=n, text=text, keywords=keywords)
    items["free"] = free

    items["ratio"] = Item.objects.create(
        chapter=chapter,
        part=parts["blocks"],
        slug="equal-width-ratio",
        kind=Item.Kind.NUMERIC,
        prompt="At equal width $C$, what is the ratio bottleneck / basic in parameters ($1.0625 C^2$ vs $18 C^2$)?",
        answer_number=0.059,
        tolerance=0.002,
        tolerance_mode=Item.ToleranceMode.ABSOLUTE,
        unit="ratio",
        order=2,
    )

    problem = Problem.objects.create(
        chapter=chapter,
        part=parts["blocks"],
        slug="bottleneck-flops",
        title="Bottleneck cost",
        statement="Count the multiply-adds of a 256-d bottleneck at $56 \\times 56$.",
        solution="Add the three convolutions: $1\\times1$, $3\\times3$, $1\\times1$.",
    )
    Hint.objects.create(problem=problem, order=1, text="Cost of a conv is $k^2 C_{in} C_{out} HW$.")
    Hint.objects.create(problem=problem, order=2, text="The 3x3 works at 64 channels.")
    exercise = ExerciseStatement.objects.create(
        chapter=chapter,
        part=parts["blocks"],
        slug="basic-block",
        title="Basic block",
        statement="Implement BasicBlock.",
    )
    mock = MockScript.objects.create(
        chapter=chapter, slug="rapid-fire", title="Rapid fire", kind="rapid_fire", duration_s=600
    )

    content = Content(
        chapter=chapter,
        parts=parts,
        skills=skills,
        items=items,
        problem=problem,
        exercise=exercise,
        mock=mock,
        days={},
    )
    plan_tasks = {
        0: [
            ("d0-cards", ReviewTask.Kind.ITEMS, {"items": list(day0_items)}),
            ("d0-problem", ReviewTask.Kind.PROBLEM, {"problem": problem}),
            ("d0-draw", ReviewTask.Kind.MANUAL, {}),
        ],
        3: [
            ("d3-cards", ReviewTask.Kind.ITEMS, {"items": ["ordering", "numeric"]}),
            ("d3-exercise", ReviewTask.Kind.EXERCISE, {"exercise": exercise}),
            ("d3-draw", ReviewTask.Kind.MANUAL, {}),
        ],
        7: [
            ("d7-cards", ReviewTask.Kind.ITEMS, {"items": ["mc", "numeric", "ratio"]}),
            ("d7-problem", ReviewTask.Kind.PROBLEM, {"problem": problem}),
            ("d7-draw", ReviewTask.Kind.MANUAL, {}),
        ],
        14: [
            ("d14-mock", ReviewTask.Kind.MOCK, {"mock": mock}),
            ("d14-cards", ReviewTask.Kind.ITEMS, {"items": ["free", "ordering"]}),
            ("d14-draw", ReviewTask.Kind.MANUAL, {}),
        ],
        21: [
            ("d21-mock", ReviewTask.Kind.MOCK, {"mock": mock}),
            ("d21-cards", ReviewTask.Kind.ITEMS, {"items": ["mc", "free", "numeric"]}),
            ("d21-exercise", ReviewTask.Kind.EXERCISE, {"exercise": exercise}),
        ],
    }
    for day, tasks in plan_tasks.items():
        review_day = ReviewDay.objects.create(chapter=chapter, day=day, title=f"Checkpoint {day}")
        content.days[day] = review_day
        for n, (slug, kind, extra) in enumerate(tasks):
            item_keys = extra.pop("items", [])
            task = ReviewTask.objects.create(
                review_day=review_day,
                slug=slug,
                order=n,
                title=f"Task {slug}",
                kind=kind,
                **extra,
            )
            task.items.set([items[k] for k in item_keys])
            content.tasks[slug] = task
    return content
