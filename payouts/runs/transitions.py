"""The life of a distribution run, as one pure function.

    draft ──approve──▶ approved ──post──▶ posted ──publish──▶ published ──pay──▶ paid
      │                   │                  └──────────┬──────────┘              │
      └──discard──▶ discarded ◀──discard──┘             └──reverse──▶ reversed ◀──┘
"""

from __future__ import annotations

TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "approve"): "approved",
    ("draft", "discard"): "discarded",
    ("approved", "discard"): "discarded",
    ("approved", "post"): "posted",
    ("posted", "publish"): "published",
    ("published", "pay"): "paid",
    ("posted", "reverse"): "reversed",
    ("published", "reverse"): "reversed",
    ("paid", "reverse"): "reversed",
}


class InvalidTransition(ValueError):
    def __init__(self, state: str, action: str):
        self.state, self.action = state, action
        allowed = sorted(a for (s, a) in TRANSITIONS if s == state)
        super().__init__(f"a {state} run cannot be {action}ed"
                         + (f" (it can be: {', '.join(allowed)})" if allowed else ""))


def next_state(state: str, action: str) -> str:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition(state, action) from None
