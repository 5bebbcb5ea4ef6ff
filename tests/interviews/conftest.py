"""Fixtures the implementation round's tests share with grading's."""

from tests.grading.conftest import broker  # noqa: F401 - the in-memory broker fixture
