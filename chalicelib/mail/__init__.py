"""Email: composing, sending through SES, threading ids and reply tokens, receiving replies."""
