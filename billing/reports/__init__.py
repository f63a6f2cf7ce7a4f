"""Finance reports, exports and statements. They read `analytics.UsageRollup`, never the raw ledger."""
