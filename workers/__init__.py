"""arq workers: delivery (outbox -> inbox -> Redis), the retry sweep, the offline flush."""
