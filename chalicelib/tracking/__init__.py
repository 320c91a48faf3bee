"""Email tracking: per-recipient delivery, open, click and bounce records, and SES events."""
