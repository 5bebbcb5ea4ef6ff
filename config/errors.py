"""Error pages in the site's layout, with the reason for a 400 shown to the learner."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    # BadRequest messages are written for the learner (accounts.params); others say nothing.
    message = str(exception) if type(exception).__name__ == "BadRequest" else ""
    return render(request, "400.html", {"message": message}, status=400)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        # An API client reads JSON, in the shape of every other API error.
        return JsonResponse({"detail": "Not Found: no such API path."}, status=404)
    return render(request, "404.html", status=404)
