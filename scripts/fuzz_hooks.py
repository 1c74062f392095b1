"""Schemathesis hooks for scripts/fuzz-api: every request carries a fresh
bearer token of the run's admin account.

A token is taken by logging in again each second, not once: the fuzzer may
end its own session (a role change of its own account, a revocation of its
own session), and the rest of the run must still reach the API's logic
rather than stop at 401.
"""

import json
import os
import urllib.request

import schemathesis

BASE = os.environ["FUZZ_BASE_URL"]
LOGIN = {"login": os.environ["FUZZ_LOGIN"], "password": os.environ["FUZZ_PASSWORD"]}


@schemathesis.auth(refresh_interval=1)
class AdminToken:
    def get(self, case, context):
        request = urllib.request.Request(
            f"{BASE}/api/auth/login",
            data=json.dumps(LOGIN).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
