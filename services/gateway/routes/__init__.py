"""One thin module per resource; logic lives in the library and ``serving.py``."""
