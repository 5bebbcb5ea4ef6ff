"""The learner's mock history: the trend of their scores per interview format."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.selectors import learner_time_zone
from interviews import services as mock_services
from interviews.history import mock_history


@login_required
@require_GET
def mock_history_page(request):
    # An attempt whose clock ran out while the learner was away ends here as on the list.
    mock_services.mock_expire_due_for_user(user=request.user)
    formats = mock_history(user=request.user)
    time_zone = learner_time_zone(user=request.user)
    return render(
        request,
        "interviews/history.html",
        {
            "formats": formats,
            "charts": [f.as_chart(time_zone=time_zone) for f in formats],
            "time_zone": time_zone,
        },
    )
