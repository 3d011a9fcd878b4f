-- 0001: call records, SIP registrations, SIP digest users, web users.
-- Never edit this file once released: schema changes go in a new NNNN_*.sql file.

-- One row per call leg the server handled. `events` is the call's time-ordered history
-- ([{"t": ISO-8601 time, "type": "...", ...}, ...]), appended to as the call progresses.
CREATE TABLE calls (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id      text NOT NULL,                 -- SIP Call-ID
    from_uri     text NOT NULL,
    to_uri       text NOT NULL,
    from_display text,
    direction    text NOT NULL DEFAULT 'inbound'
                 CHECK (direction IN ('inbound', 'outbound', 'internal')),
    state        text NOT NULL DEFAULT 'ringing',   -- 'ringing', 'answered', 'ended', ...
    started_at   timestamptz NOT NULL,
    answered_at  timestamptz,
    ended_at     timestamptz,
    end_reason   text,
    quality      jsonb NOT NULL DEFAULT '{}'
                 CHECK (jsonb_typeof(quality) = 'object'),
    events       jsonb NOT NULL DEFAULT '[]'
                 CHECK (jsonb_typeof(events) = 'array'),
    node         text                           -- the server process that handled the call
);
CREATE INDEX calls_started_at_idx ON calls (started_at DESC);
CREATE INDEX calls_call_id_idx ON calls (call_id);

-- Registrar bindings (RFC 3261 section 10): one row per address-of-record and contact.
CREATE TABLE registrations (
    aor        text NOT NULL,
    contact    text NOT NULL,
    expires_at timestamptz NOT NULL,
    call_id    text NOT NULL,
    cseq       bigint NOT NULL,                 -- CSeq numbers go up to 2**31 - 1
    user_agent text,
    received   text,                            -- source address the REGISTER came from
    PRIMARY KEY (aor, contact)
);
CREATE INDEX registrations_expires_at_idx ON registrations (expires_at);

-- SIP digest credentials (RFC 7616): only HA1 = H(username:realm:password) is stored.
CREATE TABLE sip_users (
    username     text PRIMARY KEY,
    realm        text NOT NULL,
    ha1_md5      text NOT NULL,
    ha1_sha256   text NOT NULL,
    display_name text
);

-- Web/API accounts. password_hash is the scrypt format of hotline/store/passwords.py.
CREATE TABLE users (
    username      text PRIMARY KEY,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
