-- 0005: the ACD's state that must survive a restart and that several server processes share:
-- queue definitions, agents (profile + current state) with their state history, the callers
-- waiting (queue membership, place in line) and the reservations (offers ringing).

CREATE TABLE routing_queues (
    name             text PRIMARY KEY,
    skills           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(skills) = 'object'),
    strategy         text NOT NULL DEFAULT 'longest_idle',
    ring_timeout     double precision NOT NULL DEFAULT 15 CHECK (ring_timeout > 0),
    wrap_up          double precision NOT NULL DEFAULT 30 CHECK (wrap_up >= 0),
    overflow_after   double precision CHECK (overflow_after > 0),
    overflow_queue   text,
    overflow_skills  jsonb CHECK (overflow_skills IS NULL OR jsonb_typeof(overflow_skills) = 'object'),
    max_wait         double precision CHECK (max_wait > 0),
    max_wait_action  text NOT NULL DEFAULT 'voicemail'
                     CHECK (max_wait_action IN ('voicemail', 'callback', 'timeout')),
    sl_seconds       double precision NOT NULL DEFAULT 20,
    announce_every   double precision NOT NULL DEFAULT 30,
    language         text NOT NULL DEFAULT 'en'
);

-- One row per agent account: skills {"orders": 3} (levels 1-5), languages, current state.
-- `node` is the server process that wrote the state last (its reservation, its call).
CREATE TABLE routing_agents (
    username      text PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,
    skills        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(skills) = 'object'),
    languages     text[] NOT NULL DEFAULT '{en}',
    state         text NOT NULL DEFAULT 'offline'
                  CHECK (state IN ('offline', 'available', 'reserved', 'on_call', 'wrap_up',
                                   'not_ready')),
    reason        text,
    since         timestamptz NOT NULL DEFAULT now(),
    wrap_up_until timestamptz,
    call_id       text,
    node          text
);

-- Every state change with its time (reports: time in state, occupancy, RONA counts).
CREATE TABLE routing_agent_states (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username text NOT NULL,
    state    text NOT NULL,
    reason   text,
    at       timestamptz NOT NULL,
    call_id  text,
    node     text
);
CREATE INDEX routing_agent_states_username_at_idx ON routing_agent_states (username, at);

-- Callers in the ACD. `seq` is the place in line, shared by every process; it is kept when
-- the caller goes back to the head after a RONA, overflows, or becomes a callback.
CREATE TABLE routing_waiting (
    call_id        text PRIMARY KEY,
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    queue          text NOT NULL,
    skills         jsonb NOT NULL DEFAULT '{}',
    request_skills jsonb NOT NULL DEFAULT '{}',
    language       text NOT NULL DEFAULT 'en',
    priority       integer NOT NULL DEFAULT 0,
    kind           text NOT NULL DEFAULT 'live' CHECK (kind IN ('live', 'callback')),
    state          text NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'offered')),
    target_agent   text,
    caller         text NOT NULL DEFAULT '',
    context        jsonb NOT NULL DEFAULT '{}',
    enqueued_at    timestamptz NOT NULL,
    queued_at      timestamptz NOT NULL,
    node           text NOT NULL
);
CREATE INDEX routing_waiting_node_idx ON routing_waiting (node);

-- Offers. Taken with FOR UPDATE SKIP LOCKED on the agent and the waiting call; the partial
-- unique indexes are the last line: at most one ringing offer per call and per agent.
CREATE TABLE routing_reservations (
    offer_id   text PRIMARY KEY,
    call_id    text NOT NULL,
    username   text NOT NULL,
    queue      text NOT NULL,
    node       text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    ended_at   timestamptz,
    outcome    text CHECK (outcome IN ('answered', 'rona', 'abandoned', 'declined',
                                       'disconnected', 'signed_out', 'expired'))
);
CREATE UNIQUE INDEX routing_reservations_one_per_call ON routing_reservations (call_id)
    WHERE ended_at IS NULL;
CREATE UNIQUE INDEX routing_reservations_one_per_agent ON routing_reservations (username)
    WHERE ended_at IS NULL;
CREATE INDEX routing_reservations_expires_idx ON routing_reservations (expires_at)
    WHERE ended_at IS NULL;

-- The wrap-up form of each handled call (the CRM write-back gets the same values).
CREATE TABLE routing_wrap_ups (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id     text,
    username    text NOT NULL,
    queue       text,
    disposition text NOT NULL,
    notes       text NOT NULL DEFAULT '',
    resolved    boolean NOT NULL DEFAULT false,
    at          timestamptz NOT NULL
);

-- Each server process's heartbeat. Agents held by a process silent for too long (it died)
-- are released (not ready, reason 'node_lost') by the others; its callers are gone with it.
CREATE TABLE routing_nodes (
    node    text PRIMARY KEY,
    seen_at timestamptz NOT NULL
);
