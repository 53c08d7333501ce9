-- Twin of ../sqlite/0003_referrals.sql.
-- A Carepath program's public listing in the finder, with live information
-- no national locator has (set by program staff).
CREATE TABLE program_listing (
    program_id              TEXT PRIMARY KEY REFERENCES program(id),
    latitude                DOUBLE PRECISION NOT NULL,
    longitude               DOUBLE PRECISION NOT NULL,
    phone                   TEXT NOT NULL,
    codes                   TEXT NOT NULL,
    accepting_new_patients  BOOLEAN NOT NULL,
    open_beds               BIGINT,
    waitlist_days           BIGINT,
    same_day_medication     BOOLEAN NOT NULL,
    last_verified_at        BIGINT NOT NULL,
    verified_by             TEXT
);

-- Call-back requests from the public finder: the program's intake queue.
-- Never deleted; status moves new → claimed → closed.
CREATE TABLE referral (
    id           TEXT PRIMARY KEY,
    program_id   TEXT NOT NULL REFERENCES program(id),
    name         TEXT NOT NULL,
    phone        TEXT NOT NULL,
    best_time    TEXT NOT NULL,
    note         TEXT,
    language     TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('new', 'claimed', 'closed')),
    created_at   BIGINT NOT NULL,
    claimed_by   TEXT,
    claimed_at   BIGINT,
    closed_at    BIGINT,
    outcome      TEXT
);
CREATE INDEX referral_program_status ON referral(program_id, status, created_at);
CREATE TRIGGER referral_no_delete BEFORE DELETE ON referral
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('referrals are never deleted');
