"""Notifications: one store for everything a user should hear about, with read state and an unread count."""
