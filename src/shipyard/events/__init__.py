"""The event log: typed domain events, appended in the transaction of the change they describe and
read by consumers with durable cursors.

A domain publishes with :func:`shipyard.events.log.publish` inside its ``db.write()`` block. Each
event gets a ``seq`` assigned under the append lock the audit trail also takes, so ``seq`` order is
commit order and the log has no gaps: a consumer that has seen ``seq`` N has seen everything before
it, even when two transactions commit out of order. :class:`shipyard.events.service.EventLog` lists,
filters and reads the log and keeps each consumer's position (at-least-once delivery).
"""
