-- 0003: IVR flows (issue 5): drafts, immutable numbered versions, the published pointer,
-- the number / request-URI -> flow mapping, and supervisor-managed notices.
-- Never edit this file once released: schema changes go in a new NNNN_*.sql file.

-- One row per flow. `draft` is edited freely; calls only ever run published versions.
CREATE TABLE ivr_flows (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL,
    draft             jsonb NOT NULL CHECK (jsonb_typeof(draft) = 'object'),
    updated_by        text,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    published_version integer                    -- NULL until the first publish
);

-- Published versions, numbered 1, 2, ... per flow. A rollback adds a new version whose
-- doc is an older one's (`source_version` says which), so history only ever grows.
CREATE TABLE ivr_flow_versions (
    flow_id        bigint NOT NULL REFERENCES ivr_flows (id) ON DELETE CASCADE,
    version        integer NOT NULL CHECK (version > 0),
    doc            jsonb NOT NULL CHECK (jsonb_typeof(doc) = 'object'),
    published_by   text,
    published_at   timestamptz NOT NULL DEFAULT now(),
    comment        text NOT NULL DEFAULT '',
    source_version integer,
    PRIMARY KEY (flow_id, version)
);

-- A call is pinned to the version it started on; a version that changed under it
-- would break that promise, so the database refuses updates outright.
CREATE FUNCTION ivr_flow_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'published flow versions are immutable (publish a new version)';
END
$$;
CREATE TRIGGER ivr_flow_versions_no_update BEFORE UPDATE ON ivr_flow_versions
    FOR EACH ROW EXECUTE FUNCTION ivr_flow_versions_immutable();

-- Which flow answers a dialled number: the request-URI user part ("hotline",
-- "+48221234567"), a whole URI, or "*" for every number without its own row.
CREATE TABLE ivr_numbers (
    number      text PRIMARY KEY CHECK (number <> ''),
    flow_id     bigint NOT NULL REFERENCES ivr_flows (id) ON DELETE CASCADE,
    description text NOT NULL DEFAULT ''
);

-- Notices supervisors switch on and off ("deliveries to region X are delayed"); an
-- `announce` node plays the notice of its name only while it is active.
CREATE TABLE ivr_notices (
    name         text PRIMARY KEY CHECK (name <> ''),
    text         text NOT NULL DEFAULT '',
    translations jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(translations) = 'object'),
    active       boolean NOT NULL DEFAULT false,
    updated_by   text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
