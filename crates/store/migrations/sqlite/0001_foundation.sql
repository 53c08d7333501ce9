-- Carepath foundation schema (SQLite). The PostgreSQL twin lives in
-- ../postgres/0001_foundation.sql; keep the two in step. Never edit a migration
-- that has been released: add a new one.
--
-- Conventions: singular table names; ids are UUIDv7 as canonical text; times are
-- UTC microseconds since the Unix epoch (BIGINT); booleans are BOOLEAN (0/1 here).
-- Clinical tables are append-only: triggers below refuse DELETE, and UPDATE
-- except for the few one-way state changes named in each trigger.

CREATE TABLE organization (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE program (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organization(id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('withdrawal_management','residential','partial_hospitalization',
                    'intensive_outpatient','outpatient','opioid_treatment_program','sober_living')),
    address     TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    hours       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE staff_user (
    id                  TEXT PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    totp_secret         TEXT,
    totp_last_step      BIGINT,
    failed_logins       BIGINT NOT NULL DEFAULT 0,
    locked_until        BIGINT,
    created_at          BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
);

CREATE TABLE user_role (
    user_id     TEXT NOT NULL REFERENCES staff_user(id),
    program_id  TEXT NOT NULL REFERENCES program(id),
    role        TEXT NOT NULL CHECK (role IN ('admin','prescriber','nurse','counselor','intake','front_desk','auditor','patient')),
    granted_at  BIGINT NOT NULL,
    granted_by  TEXT,
    PRIMARY KEY (user_id, program_id, role)
);

CREATE TABLE recovery_code (
    user_id     TEXT NOT NULL REFERENCES staff_user(id),
    code_hash   TEXT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- Server-side sessions. The cookie carries a random token; only its SHA-256 is stored.
CREATE TABLE session (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES staff_user(id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    mfa_done     BOOLEAN NOT NULL,
    client_addr  TEXT,
    ended_at     BIGINT
);
CREATE INDEX session_by_user ON session(user_id);

CREATE TABLE api_token (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES staff_user(id),
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_token_user ON api_token(user_id);

CREATE TABLE patient (
    id               TEXT PRIMARY KEY,
    program_id       TEXT NOT NULL REFERENCES program(id),
    mrn              TEXT NOT NULL UNIQUE,
    legal_first_name TEXT NOT NULL,
    legal_last_name  TEXT NOT NULL,
    preferred_name   TEXT,
    date_of_birth    TEXT NOT NULL,
    sex              TEXT NOT NULL CHECK (sex IN ('female','male','intersex','unknown')),
    search_name      TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    created_by       TEXT
);
CREATE INDEX patient_program ON patient(program_id);
CREATE INDEX patient_search_name ON patient(search_name);
CREATE INDEX patient_dob ON patient(date_of_birth);

CREATE TABLE episode (
    id               TEXT PRIMARY KEY,
    patient_id       TEXT NOT NULL REFERENCES patient(id),
    program_id       TEXT NOT NULL REFERENCES program(id),
    level_of_care    TEXT NOT NULL,
    admitted_at      BIGINT NOT NULL,
    discharged_at    BIGINT,
    discharge_reason TEXT,
    created_at       BIGINT NOT NULL,
    created_by       TEXT,
    CHECK (discharged_at IS NULL OR discharged_at >= admitted_at)
);
CREATE INDEX episode_patient ON episode(patient_id);
CREATE INDEX episode_program ON episode(program_id, discharged_at);
-- At most one open episode per patient and program.
CREATE UNIQUE INDEX episode_one_open ON episode(patient_id, program_id) WHERE discharged_at IS NULL;

CREATE TABLE break_glass (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES staff_user(id),
    patient_id   TEXT NOT NULL REFERENCES patient(id),
    reason       TEXT NOT NULL CHECK (length(reason) >= 10),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    reviewed_by  TEXT,
    reviewed_at  BIGINT,
    review_note  TEXT
);
CREATE INDEX break_glass_user_patient ON break_glass(user_id, patient_id);

CREATE TABLE audit_event (
    seq          BIGINT PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    at_us        BIGINT NOT NULL,
    user_id      TEXT,
    username     TEXT,
    role         TEXT,
    program_id   TEXT,
    patient_id   TEXT,
    action       TEXT NOT NULL,
    object_type  TEXT,
    object_id    TEXT,
    client_addr  TEXT,
    outcome      TEXT NOT NULL,
    detail       TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_event_user ON audit_event(user_id, seq);
CREATE INDEX audit_event_patient ON audit_event(patient_id, seq);
CREATE INDEX audit_event_action ON audit_event(action, seq);
CREATE INDEX audit_event_at ON audit_event(at_us);

-- The head of the chain: appends lock and advance this row, which serializes
-- them on PostgreSQL and lets `audit verify` detect a truncated tail.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER patient_no_delete BEFORE DELETE ON patient
BEGIN SELECT RAISE(ABORT, 'clinical records are never deleted'); END;
CREATE TRIGGER episode_no_delete BEFORE DELETE ON episode
BEGIN SELECT RAISE(ABORT, 'clinical records are never deleted'); END;
CREATE TRIGGER episode_discharge_once BEFORE UPDATE ON episode
WHEN OLD.discharged_at IS NOT NULL OR NEW.admitted_at <> OLD.admitted_at
  OR NEW.patient_id <> OLD.patient_id OR NEW.program_id <> OLD.program_id
  OR NEW.level_of_care <> OLD.level_of_care
BEGIN SELECT RAISE(ABORT, 'an episode may only change by being discharged, once'); END;
CREATE TRIGGER break_glass_no_delete BEFORE DELETE ON break_glass
BEGIN SELECT RAISE(ABORT, 'break-the-glass grants are never deleted'); END;
