"""Where attachments' bytes live: one small interface (store.py), a filesystem backend and an
S3-compatible one, chosen by STORAGE_URL; and what the bytes are (inspect.py)."""
