"""What bank batches, their states and their lines' states are called, in words people read (``N_``-marked,
translated where shown)."""

from __future__ import annotations

from ledger.i18n import N_

BATCH_STATUS_LABELS = {"created": N_("created"), "sent": N_("sent to the bank"), "results_in": N_("results in"),
                       "closed": N_("closed"), "cancelled": N_("cancelled")}
LINE_STATUS_LABELS = {"pending": N_("with the bank"), "paid": N_("paid"), "failed": N_("failed"),
                      "apart": N_("listed apart")}
