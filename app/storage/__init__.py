"""SQL for every table, one module per concept. Services call these; handlers never do."""
