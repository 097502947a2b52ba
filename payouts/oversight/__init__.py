"""Township oversight (乡镇农经站 / 三资监管): what an auditor sees across every entity of a township —
overview, anomalies, benefit linkage, integrity checks and audit opinions. Read-only over the ledger."""
