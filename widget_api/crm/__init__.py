"""The CRM: leads that sales reviews, conversations and idempotent tool-call records.

Flask-free: HTTP adapters (routes/admin.py) and the tool layer call these plain functions with a
`Database` passed in.
"""
