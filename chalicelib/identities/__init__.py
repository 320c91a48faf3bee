"""Sending identities (a tenant's domains and addresses, verified by SES) and each tenant's sending reputation."""
