"""Answer checking: numbers in the forms people write, ordering, choices, free text."""

from __future__ import annotations

import pytest
from fsrs import Rating

from learning.answers import (
    Certainty,
    NumberFormatError,
    check_free_text,
    check_multiple_choice,
    check_numeric,
    check_ordering,
    free_text_hints,
    ordering_shuffled,
    parse_number,
    rating_for_auto,
    rating_for_free_text,
    rating_for_self_score,
)
from tests.learning.factories_learner import make_content


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("25.6M", 25.6e6),
        ("25,557,032", 25557032),
        ("2.56e7", 2.56e7),
        ("0.059", 0.059),
        ("5.9%", 0.059),
        ("1.5k", 1500),
        ("25.6 million", 25.6e6),
        ("2.56 x 10^7", 2.56e7),
        ("25 557 032", 25557032),
        ("25557032 parameters", 25557032),
        (".5", 0.5),
        ("−3", -3),
        ("3.6B", 3.6e9),
    ],
)
def test_parse_number_reads_common_forms(text, value):
    assert parse_number(text) == pytest.approx(value)


def test_percent_sign_is_kept_when_the_unit_is_percent():
    assert parse_number("22.85%", percent_unit=True) == pytest.approx(22.85)
    assert parse_number("22.85", percent_unit=True) == pytest.approx(22.85)


@pytest.mark.parametrize("text", ["", "abc", "12 34", "1e5e3", "1.2.3"])
def test_parse_number_rejects_nonsense(text):
    with pytest.raises(NumberFormatError):
        parse_number(text)


def test_rating_mapping_for_auto_graded_kinds():
    assert rating_for_auto(correct=False, certainty=Certainty.SURE) == Rating.Again
    assert rating_for_auto(correct=True, certainty=Certainty.SURE) == Rating.Easy
    assert rating_for_auto(correct=True, certainty=Certainty.UNSURE) == Rating.Good
    assert rating_for_auto(correct=True, certainty=Certainty.GUESS) == Rating.Hard


def test_rating_mapping_for_free_text():
    sure, unsure, guess = Certainty.SURE, Certainty.UNSURE, Certainty.GUESS
    assert rating_for_free_text(covered=3, total=3, trap_made=True, certainty=sure) == Rating.Again
    assert rating_for_free_text(covered=1, total=3, trap_made=False, certainty=sure) == Rating.Again
    assert rating_for_free_text(covered=3, total=3, trap_made=False, certainty=sure) == Rating.Easy
    assert (
        rating_for_free_text(covered=3, total=3, trap_made=False, certainty=unsure) == Rating.Good
    )
    assert rating_for_free_text(covered=2, total=3, trap_made=False, certainty=sure) == Rating.Good
    assert (
        rating_for_free_text(covered=2, total=3, trap_made=False, certainty=unsure) == Rating.Hard
    )
    assert rating_for_free_text(covered=2, total=4, trap_made=False, certainty=sure) == Rating.Hard
    assert rating_for_free_text(covered=3, total=3, trap_made=False, certainty=guess) == Rating.Hard


def test_self_assessment_scores_map_to_ratings_as_designed():
    assert [rating_for_self_score(s) for s in range(1, 6)] == [
        Rating.Again,
        Rating.Again,
        Rating.Hard,
        Rating.Good,
        Rating.Easy,
    ]
    with pytest.raises(ValueError):
        rating_for_self_score(6)


@pytest.mark.django_db
def test_numeric_answer_within_tolerance_and_feedback_states_expected():
    item = make_content().items["numeric"]
    for text in ["25.6M", "25,557,032", "2.56e7"]:
        checked = check_numeric(item=item, text=text, certainty=Certainty.SURE)
        assert checked.correct, text
        assert "Expected 25,557,032 parameters (within 0.5%)" in checked.feedback
    wrong = check_numeric(item=item, text="11.7M", certainty=Certainty.SURE)
    assert wrong.correct is False and wrong.rating == Rating.Again
    assert "25,557,032" in wrong.feedback
    unreadable = check_numeric(item=item, text="lots", certainty=Certainty.SURE)
    # Unreadable is not wrong: the learner is asked to type it again.
    assert unreadable.reenter and unreadable.correct is None


@pytest.mark.django_db
def test_ratio_answer_accepts_percent_form_and_absolute_tolerance():
    item = make_content().items["ratio"]
    assert check_numeric(item=item, text="5.9%", certainty=Certainty.SURE).correct
    assert check_numeric(item=item, text="0.06", certainty=Certainty.SURE).correct
    assert not check_numeric(item=item, text="0.281", certainty=Certainty.SURE).correct


@pytest.mark.django_db
def test_multiple_choice_right_and_wrong():
    item = make_content().items["mc"]
    right = item.choices.get(correct=True)
    wrong = item.choices.filter(correct=False).first()
    assert (
        check_multiple_choice(item=item, chosen_ids=[right.pk], certainty=Certainty.UNSURE).rating
        == Rating.Good
    )
    result = check_multiple_choice(item=item, chosen_ids=[wrong.pk], certainty=Certainty.SURE)
    assert result.correct is False and right.text in result.feedback


@pytest.mark.django_db
def test_ordering_shuffle_is_deterministic_and_not_the_answer():
    item = make_content().items["ordering"]
    steps = list(item.choices.all())
    first = ordering_shuffled(item=item, seed="7")
    assert first == ordering_shuffled(item=item, seed="7")
    assert first != steps and sorted(s.pk for s in first) == sorted(s.pk for s in steps)
    right = {s.pk: n for n, s in enumerate(steps, 1)}
    assert check_ordering(item=item, positions=right, certainty=Certainty.SURE).correct
    swapped = dict(right)
    swapped[steps[0].pk], swapped[steps[1].pk] = 2, 1
    assert not check_ordering(item=item, positions=swapped, certainty=Certainty.SURE).correct
    # The two identical "3x3 conv" steps (positions 1 and 4) may be given either way round.
    same = dict(right)
    same[steps[0].pk], same[steps[3].pk] = 4, 1
    assert check_ordering(item=item, positions=same, certainty=Certainty.SURE).correct
    repeated = {s.pk: 1 for s in steps}
    assert check_ordering(item=item, positions=repeated, certainty=Certainty.SURE).reenter


@pytest.mark.django_db
def test_free_text_keywords_pre_tick_points_and_flag_traps_but_not_negated_ones():
    item = make_content().items["free"]
    hints, traps = free_text_hints(
        item=item, answer="Training error goes up with depth. It is not overfitting."
    )
    assert [h.likely_covered for h in hints] == [True, True, False]
    assert traps[0].likely_made is False
    _, traps = free_text_hints(item=item, answer="Deeper nets suffer from overfitting.")
    assert traps[0].likely_made is True
    points = [p.pk for p in item.rubric.all()]
    checked = check_free_text(
        item=item, answer="x", ticked_point_ids=points, traps_made=[], certainty=Certainty.SURE
    )
    assert checked.rating == Rating.Easy and "3 of 3" in checked.feedback
    trapped = check_free_text(
        item=item, answer="x", ticked_point_ids=points, traps_made=[0], certainty=Certainty.SURE
    )
    assert trapped.rating == Rating.Again
