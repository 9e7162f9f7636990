"""``hcr stats``: savings from an event log, in tokens and money, by model, day or key, with the
estimate set against what backends billed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from router.report import Saving

__all__ = ["By", "Group", "summarise"]

By = Literal["model", "day", "key"]


class Group(Saving):
    """Totals for one model, day or key (``count``: its routed requests)."""

    requests: int = 0
    unpriced: int = 0  # routed requests without a price (not in the money columns)
    billed_requests: int = 0  # requests whose backend reported its input tokens
    billed_input_tokens: int = 0
    estimated_for_billed: int = 0  # our estimate (tokens after) for those same requests

    @property
    def routed(self) -> int:
        return self.count

    @property
    def money_saved(self) -> float:
        return self.cost_before - self.cost_after

    @property
    def billed_vs_estimate(self) -> float | None:
        """Billed input tokens over the estimate, for requests where both are known (1.0: spot on)."""
        return self.billed_input_tokens / self.estimated_for_billed if self.estimated_for_billed else None

    def add(self, event: dict[str, Any]) -> None:
        self.requests += 1
        before, after = event.get("tokens_before"), event.get("tokens_after")
        if not isinstance(before, int) or not isinstance(after, int):
            return  # bypassed or refused: counted, nothing routed
        self.count += 1
        self.tokens_before += before
        self.tokens_after += after
        cost_before, cost_after = event.get("cost_before"), event.get("cost_after")
        if isinstance(cost_before, (int, float)) and isinstance(cost_after, (int, float)):
            self.cost_before += cost_before
            self.cost_after += cost_after
        else:
            self.unpriced += 1
        billed = event.get("billed_input_tokens")
        if isinstance(billed, int):
            self.billed_requests += 1
            self.billed_input_tokens += billed
            self.estimated_for_billed += after


def summarise(events: Iterable[dict[str, Any]], by: By = "model") -> tuple[list[Group], Group]:
    """Groups (largest saving first; negative ones last, shown) and the total."""
    groups: dict[str, Group] = {}
    total = Group(name="total")
    for event in events:
        name = _group_name(event, by)
        groups.setdefault(name, Group(name=name)).add(event)
        total.add(event)
    ordered = sorted(groups.values(), key=lambda g: (-g.saved, g.name) if by != "day" else (g.name, 0))
    return ordered, total


def _group_name(event: dict[str, Any], by: By) -> str:
    if by == "day":
        return str(event.get("time", ""))[:10] or "unknown"
    value = event.get(by)
    return str(value) if value else "(none)"
