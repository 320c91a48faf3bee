"""Discussions: email threads between staff and external people (the seed's CommunicationThread)."""
