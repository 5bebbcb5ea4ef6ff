"""Error pages in the site's layout, with the reason for a 400 shown to the learner."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    # BadRequest messages are written for the learner (accounts.params); others say nothing.
    message = str(exception) if type(exception).__name__ == "BadRequest" else ""
    return render(request, "400.html", {"message": message}, status=400)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "404.html", status=404)
