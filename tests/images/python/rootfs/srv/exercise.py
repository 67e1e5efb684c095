"""The exercise of trace-test/python:local: imports a few stdlib modules, uses them, fetches the
pages the image's HTTP server serves (when it runs), and prints exercise-ok. The real-system tests
look for these modules (json, decimal, urllib.request) in the recording and in files.txt."""
import decimal
import json
import sys
import urllib.request

data = json.loads(json.dumps({"sum": str(decimal.Decimal("1.10") + decimal.Decimal("2.20"))}))
assert data["sum"] == "3.30", data
if len(sys.argv) > 1:
    for page in ("index.html", "page.html"):
        with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/{page}", timeout=10) as response:
            assert response.status == 200, response.status
print("exercise-ok")
