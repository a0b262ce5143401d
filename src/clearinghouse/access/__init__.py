"""Who may do what: users, roles, platform accounts, and the audit log of every read and change."""
