"""The shares of the origin connections: in all, per client address, per path; released once."""

from __future__ import annotations

from shopwindow.origin.inflight import InFlight


def test_each_share_refuses_the_request_over_it() -> None:
    gate = InFlight(total=4, per_client=2, per_path=3)
    a1 = gate.admit("198.51.100.1", "/upload")
    a2 = gate.admit("198.51.100.1", "/upload")
    assert a1 is not None and a2 is not None
    assert gate.admit("198.51.100.1", "/about/") is None  # the client's share
    assert gate.refusal("198.51.100.1", "/about/") == "too many origin requests from one client"
    b = gate.admit("198.51.100.2", "/upload")
    assert b is not None
    assert gate.admit("198.51.100.3", "/upload") is None  # the path's share
    assert gate.refusal("198.51.100.3", "/upload") == "too many origin requests for one path"
    c = gate.admit("198.51.100.3", "/about/")
    assert c is not None
    assert gate.admit("198.51.100.4", "/p/1") is None  # every connection
    assert gate.refusal("198.51.100.4", "/p/1") == "all origin connections busy"
    a1.release()
    a1.release()  # a second release changes nothing
    assert gate.running == 3
    assert gate.admit("198.51.100.1", "/upload") is not None
    for ticket in (a2, b, c):
        ticket.release()
    assert gate.clients == {"198.51.100.1": 1}
    assert gate.paths == {"/upload": 1}
