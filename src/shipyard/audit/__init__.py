"""The audit trail: an append-only, hash-chained log of every change to models, deployments, roles,
users and tokens.

Domains write records with :func:`shipyard.audit.log.append` inside the transaction of the change
they record, so a change and its record commit or roll back together. Each record's hash covers the
previous record's hash and its own canonical JSON (:mod:`.chain`), and a one-row head anchor holds
the last seq and hash, so editing, deleting or truncating records is detected by
:meth:`AuditService.verify <shipyard.audit.service.AuditService.verify>`.
"""
