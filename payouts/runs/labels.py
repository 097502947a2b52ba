"""What a run's states, checks, actions, pool bases and policy choices are called, in words people read.

Module-level labels marked with ``N_`` and translated where they are shown; every page, export and
message about runs takes its words from here (web modules never import each other's labels).
"""

from __future__ import annotations

from ledger.i18n import N_

STATUS_LABELS = {"draft": N_("draft"), "approved": N_("approved"), "posted": N_("posted"),
                 "published": N_("published"), "paid": N_("paid"), "reversed": N_("reversed"),
                 "discarded": N_("discarded")}
#: shown through Jinja's gettext, which always %-formats: a literal percent sign is written "%%"
RULE_LABELS = {
    "sums_exact": N_("Every pool is shared out exactly"),
    "pool_has_basis": N_("Every pool has members with a basis"),
    "has_members": N_("The entity has members"),
    "patronage_min_60": N_("At least 60 %% returned by member trade (law Art. 44)"),
    "residual_capital_only": N_("The remainder by capital-type bases only (law Art. 44)"),
    "farmer_members_80": N_("At least 80 %% of members are farmers (law Art. 20)"),
    "reserve_quantified": N_("The year's reserve is quantified to the members (law Art. 42)"),
    "land_as_trade_land_coop": N_("Land counts as trade only in a land-share cooperative"),
    "shares_collective": N_("Only a village collective distributes by quantified shares"),
}
ACTION_LABELS = {"approve": N_("approve"), "post": N_("post"), "publish": N_("publish"), "reverse": N_("reverse")}
ACTION_DONE = {"approve": N_("approved"), "post": N_("posted"), "publish": N_("published"), "reverse": N_("reversed"),
               "discard": N_("discarded"), "pay": N_("paid")}
BASIS_LABELS = {"transactions": N_("member trade"), "capital": N_("capital"), "land": N_("land shares"),
                "labor": N_("labour days"), "shares": N_("quantified shares (份额)"), "equal": N_("equal shares")}
#: the long form, on the policy page
BASIS_DESCRIPTIONS = {
    "transactions": N_("member trade (transactions)"),
    "capital": N_("capital, reserve share and quantified subsidies"),
    "land": N_("land shares"),
    "labor": N_("labour days"),
    "shares": N_("quantified shares of the collective's assets (份额登记簿, collectives)"),
    "equal": N_("equal shares"),
}
#: what a check calls the usual pool names (a pool's name is free; a name written in words is shown as written)
POOL_NAME_LABELS = {"patronage": N_("Return by member trade"), "residual": N_("Distribution by capital"),
                    "land": N_("Land dividend"), "labor": N_("Labour dividend"),
                    "shares": N_("Dividend on the collective's quantified shares"),
                    "investment": N_("Return on investment"), "trade": N_("Return by member trade")}
#: the same pools in Chinese whatever the reader's language: the books' memos, written at posting, and the printed
#: notice list (tests/test_i18n.py keeps them the catalog's words for POOL_NAME_LABELS)
BOOKS_POOL_WORDS = {"patronage": "按交易量（额）返还", "residual": "按出资额分配", "land": "土地分红",
                    "labor": "劳动分红", "shares": "集体资产份额分红", "investment": "投资收益",
                    "trade": "按交易量（额）返还"}
MEASURE_LABELS = {"amount": N_("amount (yuan)"), "quantity": N_("quantity (kg)")}
QUANTIFY_LABELS = {"transactions": N_("by member trade"), "capital": N_("by capital"), "equal": N_("equally"),
                   "none": N_("not quantified to members")}
POLICY_DEDUCTION_LABELS = {"inputs": N_("inputs bought on credit"), "advances": N_("advances")}
TRADE_LABELS = {"deliveries": N_("deliveries"), "sales": N_("sales to members"), "inputs": N_("inputs")}
