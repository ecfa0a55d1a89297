"""Work spread over a Ray cluster (``--ray``). Ray is imported only when a command asks for it."""
