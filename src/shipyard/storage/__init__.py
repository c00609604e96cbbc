"""Infrastructure shared by every domain: the metadata database, the artifact store, key-value."""
