"""Delivery: what leaves monitor for people — digest e-mails and real-time alerts.

Rendering is pure (matches in, a message out); transports (SMTP, a maildir, a
webhook) are separate; the exactly-once bookkeeping lives in the storage package.
"""
