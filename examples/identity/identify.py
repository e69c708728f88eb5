"""Your backend proves a signed-in customer to shopwindow (Python 3, standard library only).

Render the result into the page the customer gets after signing in, e.g.
  <script>shopwindow.identify("C-104233", {"user_hash": "..."})</script>
Run it to see one:  SHOPWINDOW_IDENTITY_SECRET=... python identify.py C-104233 [--token]
"""

import hashlib
import hmac
import json
import os
import sys
import time


def user_hash(identity_secret: str, customer_id: str) -> str:
    """The same for this customer every time: hex HMAC-SHA256 of the customer id."""
    return hmac.new(identity_secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def identity_token(identity_secret: str, customer_id: str, lifetime: int = 600) -> str:
    """A proof that stops working after `lifetime` seconds (at most a day)."""
    expires = int(time.time()) + lifetime
    signed = f"{customer_id}\n{expires}".encode()
    return f"{expires}.{hmac.new(identity_secret.encode(), signed, hashlib.sha256).hexdigest()}"


def identify_event(identity_secret: str, customer_id: str, token: bool = False) -> dict:
    proof = (
        {"token": identity_token(identity_secret, customer_id)}
        if token
        else {"user_hash": user_hash(identity_secret, customer_id)}
    )
    return {"type": "identify", "customer_id": customer_id, **proof}


if __name__ == "__main__":
    secret = os.environ["SHOPWINDOW_IDENTITY_SECRET"]  # never in the page, never in git
    print(json.dumps(identify_event(secret, sys.argv[1], token="--token" in sys.argv)))
