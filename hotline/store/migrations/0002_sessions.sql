-- 0002: bearer tokens of the web/API accounts (POST /api/v1/login).
-- Never edit this file once released: schema changes go in a new NNNN_*.sql file.

-- Only the SHA-256 (lower-case hex) of each token is stored, so a copy of this table or a
-- backup grants no access. Every server process sharing the database accepts every token.
CREATE TABLE api_tokens (
    token_hash text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    username   text NOT NULL REFERENCES users (username) ON DELETE CASCADE ON UPDATE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX api_tokens_expires_at_idx ON api_tokens (expires_at);
CREATE INDEX api_tokens_username_idx ON api_tokens (username);
