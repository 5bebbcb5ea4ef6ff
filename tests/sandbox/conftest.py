"""Backends as a fixture: each sandbox test runs against Docker and against bubblewrap."""

from __future__ import annotations

import pytest

from sandbox.backends import Backend


@pytest.fixture(params=["docker", "bwrap"])
def backend(request) -> Backend:
    if request.param == "docker":
        request.getfixturevalue("sandbox_image")
        request.applymarker(pytest.mark.docker)
    else:
        request.getfixturevalue("bwrap_path")
        request.applymarker(pytest.mark.bwrap)
    from sandbox.backends import select_backend

    chosen = select_backend(request.param)
    assert chosen.name == request.param
    return chosen
