"""CI: the app image's web container serves its static files and grades one submission.

usage: app_grade.py BASE_URL TOKEN
Fetches the login page and every /static/ file it names (hashed names: collectstatic ran
under DEBUG=0 in the image), plus the vendored chart script; then POSTs a correct se-block
over the API and polls until a verdict, which only the worker container can give.
"""

import json
import re
import sys
import time
import urllib.request
from pathlib import Path

base, token = sys.argv[1].rstrip("/"), sys.argv[2]


def get(path: str, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(base + path, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


_status, page = get("/accounts/login/")
assets = sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', page.decode())))
assert assets, "the login page names no static file"
for path in assets + ["/static/vendor/chartjs/chart.umd.min.js"]:
    status, body = get(path)
    assert status == 200 and body, (path, status)
hashed = [a for a in assets if re.search(r"\.[0-9a-f]{12}\.\w+$", a)]
assert hashed, f"no hashed static name: {assets}"
print(f"static: {len(assets)} files of the login page served ({len(hashed)} hashed) + chart.js")

auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
code = Path("tests/grading/variants/se_block/correct_functional.py").read_text()
body = json.dumps({"exercise": "se-block", "code": code}).encode()
request = urllib.request.Request(base + "/api/submissions", data=body, headers=auth)
with urllib.request.urlopen(request, timeout=30) as response:
    assert response.status == 201, response.status
    created = json.load(response)
start = time.monotonic()
while time.monotonic() - start < 300:
    submission = json.loads(get(f"/api/submissions/{created['id']}", auth)[1])
    if submission["status"] not in ("queued", "running"):
        break
    time.sleep(1)
elapsed = time.monotonic() - start
print(f"app stack grading: {submission['status']} {submission['passed']}/{submission['total']} "
      f"tests, submit to verdict {elapsed:.1f} s")  # fmt: skip
if submission["status"] != "passed":
    raise SystemExit(1)
