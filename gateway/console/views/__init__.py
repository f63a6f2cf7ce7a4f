"""Console views, one module per area; urls.py imports them by module."""
