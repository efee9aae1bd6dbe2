"""Operations, apart from protocol code: health, metrics, logs, availability, the fast path,
CORS, client addresses, cleanup."""
