"""The content admin: every content model's list and change page render for staff."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from quizbank.models import (
    Chapter,
    ExerciseStatement,
    Item,
    MockScript,
    Part,
    Problem,
    ReviewDay,
    ReviewTask,
    Skill,
)
from tests.quizbank.loading import FIXTURE

pytestmark = [pytest.mark.django_db]

ADMINS = [Chapter, Part, Skill, Item, Problem, ExerciseStatement, MockScript, ReviewDay, ReviewTask]


@pytest.fixture
def loaded():
    call_command("load_quizbank", str(FIXTURE), stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.parametrize("model", ADMINS, ids=lambda m: m.__name__)
def test_the_changelist_and_change_page_render_for_staff(admin_client, loaded, model):
    opts = model._meta
    listing = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert listing.status_code == 200
    row = model.objects.first()
    change = admin_client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
    )
    assert change.status_code == 200
    assert str(row) in change.content.decode()


def test_every_item_kind_can_be_filtered_and_shows_its_inlines(admin_client, loaded):
    url = reverse("admin:quizbank_item_changelist")
    for kind in Item.Kind.values:
        page = admin_client.get(url, {"kind": kind})
        assert page.status_code == 200
        listed = {item.slug for item in page.context["cl"].result_list}
        assert listed == set(Item.objects.filter(kind=kind).values_list("slug", flat=True))
    mcq = Item.objects.get(slug="why-identity")
    page = admin_client.get(reverse("admin:quizbank_item_change", args=[mcq.pk]))
    assert "The shortcut adds" in page.content.decode()  # a choice's why, inline


def test_searching_items_finds_text_in_the_prompt(admin_client, loaded):
    page = admin_client.get(reverse("admin:quizbank_item_changelist"), {"q": "60 seconds"})
    assert "explain-residual" in page.content.decode()
    assert "he-std" not in page.content.decode()


def test_a_hand_edit_is_overwritten_by_the_next_load(admin_client, loaded):
    item = Item.objects.get(slug="he-std")
    url = reverse("admin:quizbank_item_change", args=[item.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(
        chapter=item.chapter_id,
        part=item.part_id,
        prompt="edited by hand",
        tags="[]",
        traps="[]",
        cheat_sheet="on",
        retired="",
        **{
            f"{prefix}-{key}": "0"
            for prefix in ("choices", "rubric")
            for key in ("TOTAL_FORMS", "INITIAL_FORMS")
        },
    )
    data.pop("retired")
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    item.refresh_from_db()
    assert item.prompt == "edited by hand" and item.content_hash == ""

    call_command("load_quizbank", str(FIXTURE), stdout=io.StringIO(), stderr=io.StringIO())
    item.refresh_from_db()
    assert item.prompt.startswith("What standard deviation")
