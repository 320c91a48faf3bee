"""The local mailbox page (`make run`, never deployed): every email SES was given, as each recipient sees it."""
