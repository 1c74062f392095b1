"""Schemathesis hooks for scripts/fuzz-api: every request carries a fresh
bearer token of the run's admin account, whose session has proved presence.

A token is taken by logging in again each second, not once: the fuzzer may
end its own session (a role change of its own account, a revocation of its
own session), and the rest of the run must still reach the API's logic
rather than stop at 401. Each new session proves presence
(`POST /api/account/reauth`), so that admin actions and account changes
reach their logic rather than stop at `403 reauth_required` or a `422`
asking for the password.
"""

import json
import os
import urllib.request

import schemathesis

BASE = os.environ["FUZZ_BASE_URL"]
LOGIN = {"login": os.environ["FUZZ_LOGIN"], "password": os.environ["FUZZ_PASSWORD"]}


# Changes that would lock the fuzzer out of its own account (a new password,
# a new address, the account's deletion): asked from a session that has not
# proved presence, they reach the policy and stop there, as they should.
SELF_LOCKING = {"/api/account/password", "/api/account/email", "/api/account"}

# The provider's form endpoints authenticate an app (HTTP Basic, or the
# form), never a person's bearer token: sent one, they would stop at "not
# HTTP Basic credentials" and the fuzzer would never reach the grants.
APP_AUTHENTICATED = {
    "/oauth/token", "/oauth/revoke", "/oauth/introspect", "/oauth/par", "/oauth/device_authorization",
}


def _json(path, body, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{BASE}{path}", data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
        return json.loads(text) if text else None


@schemathesis.auth(refresh_interval=1)
class AdminToken:
    def get(self, case, context):
        proven = _json("/api/auth/login", LOGIN)["access_token"]
        _json("/api/account/reauth", {"password": LOGIN["password"]}, proven)
        plain = _json("/api/auth/login", LOGIN)["access_token"]
        return {"proven": proven, "plain": plain}

    def set(self, case, data, context):
        case.headers = case.headers or {}
        if case.path in APP_AUTHENTICATED:
            return
        which = "plain" if case.path in SELF_LOCKING else "proven"
        case.headers["Authorization"] = f"Bearer {data[which]}"
