"""Logger backends: each consumes protocol events (the typed log records) and writes them its own way."""
