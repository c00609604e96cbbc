"""Pure helpers shared by every layer: ids, clock, the base of domain events, plugin registry. No
I/O at import or call time beyond reading entry-point metadata when a plugin is looked up."""
