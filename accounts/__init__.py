"""Staff accounts, roles, region scoping and the audit log. No web layer here."""
