"""How many origin requests may be under way at once: in all, per client address and per path.

The origin connections are one pool per worker. Without a share per client and
per path, a few slow uploads or one slow origin page would hold every
connection and every other shopper would wait. A request over any share is
refused at once (the caller answers 503 with Retry-After) rather than queued.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Ticket:
    """One admitted origin request; released exactly once, however its answer ends."""

    gate: InFlight
    client: str
    path: str
    released: bool = field(default=False)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.gate._release(self)


class InFlight:
    def __init__(self, total: int, per_client: int, per_path: int) -> None:
        self.total = max(1, total)
        self.per_client = max(1, per_client)
        self.per_path = max(1, per_path)
        self.running = 0
        self.clients: dict[str, int] = {}
        self.paths: dict[str, int] = {}

    def admit(self, client: str, path: str) -> Ticket | None:
        """A ticket for this request, or None when it would go over a share."""
        if self.running >= self.total:
            return None
        if self.clients.get(client, 0) >= self.per_client:
            return None
        if self.paths.get(path, 0) >= self.per_path:
            return None
        self.running += 1
        self.clients[client] = self.clients.get(client, 0) + 1
        self.paths[path] = self.paths.get(path, 0) + 1
        return Ticket(self, client, path)

    def refusal(self, client: str, path: str) -> str:
        """Which share a refused request was over (for the log line)."""
        if self.running >= self.total:
            return "all origin connections busy"
        if self.clients.get(client, 0) >= self.per_client:
            return "too many origin requests from one client"
        return "too many origin requests for one path"

    def _release(self, ticket: Ticket) -> None:
        self.running -= 1
        _decrement(self.clients, ticket.client)
        _decrement(self.paths, ticket.path)


def _decrement(counts: dict[str, int], key: str) -> None:
    # Keys leave with their last request, so the dicts hold only what is under way.
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
