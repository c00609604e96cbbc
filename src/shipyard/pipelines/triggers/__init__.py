"""Triggers: what starts a pipeline run by itself (a schedule, new data, an event) or on demand,
and the durable scheduler that fires them exactly once (see :mod:`.scheduler`)."""
