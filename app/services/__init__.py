"""Domain services: plain keyword arguments in, plain dicts out, no quart imports."""
