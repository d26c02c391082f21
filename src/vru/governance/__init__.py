"""Governance: who may see what, for which purpose, under which agreement, audited.

Modules: `db` (metadata database), `identity` (users, roles, passwords), `areas` (task-force
areas), `agreements` (data sharing agreements), `policy` (the decision point: `authorise`),
`audit` (the tamper-evident log), `pseudonymise`, `disclosure` (statistical disclosure
control) and `settings`.
"""
