"""REST blueprints: parse input, call one service, serialise what it returns."""
