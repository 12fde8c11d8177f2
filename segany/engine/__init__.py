"""The data engine (paper section 4): projects of images annotated with the model, pre-filled by it, run by it
alone, and the accepted masks fed back into training.

Needs the engine extra (`pip install "segany[engine]"`: SQLAlchemy, Alembic, argon2-cffi, psycopg). Modules:
`store` (database + migrations), `models` (tables), `blobs` (content-addressed images), `accounts` (users,
sessions, CSRF), `projects` (membership, access), `annotations` (accept / edit / decide, idempotent and
version-checked), `stages` + `jobs` (pre-fill, automatic, detector boxes as durable jobs), `review`
(queue, precision, dashboard numbers), `transfer` (import / export via segany.formats), `api` (HTTP),
`server` (the project server app).
"""
