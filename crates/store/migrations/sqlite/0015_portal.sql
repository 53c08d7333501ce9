-- The patient portal (issue 14): a separate realm of accounts and sessions
-- for patients, one-time invitations, the program's portal settings, and the
-- patients' own self-reports with the staff acknowledgement of each.

-- One portal account per patient; it reaches that patient's record only.
-- A family member's account (`consent_id` set) reaches only what the
-- patient's family-involvement consent names, while the consent stands.
CREATE TABLE portal_account (
    id              TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL REFERENCES patient(id),
    username        TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    language        TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'es')),
    failed_logins   BIGINT NOT NULL DEFAULT 0,
    locked_until    BIGINT,
    totp_secret     TEXT,
    pending_totp    TEXT,
    totp_last_step  BIGINT,
    disabled_at     BIGINT,
    created_at      BIGINT NOT NULL,
    password_set_at BIGINT NOT NULL,
    consent_id      TEXT REFERENCES clinical_record(id),
    recipient       TEXT,
    show_appointments BOOLEAN NOT NULL DEFAULT FALSE,
    CHECK ((consent_id IS NULL) = (recipient IS NULL)),
    CONSTRAINT portal_account_username UNIQUE (username)
);
CREATE UNIQUE INDEX portal_account_patient ON portal_account(patient_id) WHERE consent_id IS NULL;
CREATE UNIQUE INDEX portal_account_consent ON portal_account(consent_id) WHERE consent_id IS NOT NULL;

-- A one-time invitation (only its hash is kept): joining with it sets the
-- account's username and password; it works once, until it expires.
CREATE TABLE portal_invite (
    id              TEXT PRIMARY KEY,
    code_hash       TEXT NOT NULL UNIQUE,
    patient_id      TEXT NOT NULL REFERENCES patient(id),
    created_by      TEXT REFERENCES staff_user(id),
    created_by_name TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    consent_id      TEXT REFERENCES clinical_record(id),
    recipient       TEXT,
    show_appointments BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX portal_invite_patient ON portal_invite(patient_id);

CREATE TABLE portal_session (
    token_hash   TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES portal_account(id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    mfa_done     BOOLEAN NOT NULL,
    client_addr  TEXT,
    ended_at     BIGINT
);
CREATE INDEX portal_session_account ON portal_session(account_id);

-- What a program shows its patients and when a self-report alerts staff.
CREATE TABLE program_portal (
    program_id          TEXT PRIMARY KEY REFERENCES program(id),
    show_drug_tests     BOOLEAN NOT NULL,
    show_dosing         BOOLEAN NOT NULL,
    show_plan           BOOLEAN NOT NULL,
    show_rewards        BOOLEAN NOT NULL,
    sows_alert_from     BIGINT NOT NULL CHECK (sows_alert_from BETWEEN 1 AND 64),
    craving_alert_from  BIGINT NOT NULL CHECK (craving_alert_from BETWEEN 1 AND 10),
    mood_alert_at_most  BIGINT NOT NULL CHECK (mood_alert_at_most BETWEEN 0 AND 5),
    updated_at          BIGINT NOT NULL,
    updated_by          TEXT NOT NULL
);

-- A patient's own report from the portal: withdrawal (SOWS), craving 0-10,
-- mood 1 (very bad) to 5 (very good); `alert` names what reached staff.
CREATE TABLE patient_report (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL REFERENCES patient(id),
    program_id   TEXT NOT NULL REFERENCES program(id),
    sows_items   TEXT,
    sows_total   BIGINT CHECK (sows_total BETWEEN 0 AND 64),
    craving      BIGINT NOT NULL CHECK (craving BETWEEN 0 AND 10),
    mood         BIGINT NOT NULL CHECK (mood BETWEEN 1 AND 5),
    alert        TEXT NOT NULL,
    reported_at  BIGINT NOT NULL
);
CREATE INDEX patient_report_patient ON patient_report(patient_id, reported_at);
CREATE INDEX patient_report_program ON patient_report(program_id, reported_at);
CREATE TRIGGER patient_report_no_update BEFORE UPDATE ON patient_report
BEGIN SELECT RAISE(ABORT, 'self-reports are append-only'); END;
CREATE TRIGGER patient_report_no_delete BEFORE DELETE ON patient_report
BEGIN SELECT RAISE(ABORT, 'self-reports are never deleted'); END;

-- A staff member saw an alerting self-report and acted (once per report).
CREATE TABLE patient_report_ack (
    report_id  TEXT PRIMARY KEY REFERENCES patient_report(id),
    by_user    TEXT NOT NULL REFERENCES staff_user(id),
    by_name    TEXT NOT NULL,
    note       TEXT NOT NULL CHECK (length(note) >= 3),
    at_us      BIGINT NOT NULL
);
CREATE TRIGGER patient_report_ack_no_update BEFORE UPDATE ON patient_report_ack
BEGIN SELECT RAISE(ABORT, 'acknowledgements are append-only'); END;
CREATE TRIGGER patient_report_ack_no_delete BEFORE DELETE ON patient_report_ack
BEGIN SELECT RAISE(ABORT, 'acknowledgements are never deleted'); END;
