-- Treatment finder: the public facility directory (SAMHSA listings). Not
-- patient data. Codes and sources are space-separated lists.
CREATE TABLE facility (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name2       TEXT,
    street      TEXT NOT NULL,
    city        TEXT NOT NULL,
    state       TEXT NOT NULL,
    zip         TEXT NOT NULL,
    phone       TEXT,
    latitude    REAL NOT NULL,
    longitude   REAL NOT NULL,
    codes       TEXT NOT NULL,
    sources     TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX facility_updated ON facility(updated_at);
