-- Treatment finder: the public facility directory (SAMHSA listings). Twin of
-- ../sqlite/0002_finder.sql. Not patient data.
CREATE TABLE facility (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name2       TEXT,
    street      TEXT NOT NULL,
    city        TEXT NOT NULL,
    state       TEXT NOT NULL,
    zip         TEXT NOT NULL,
    phone       TEXT,
    latitude    DOUBLE PRECISION NOT NULL,
    longitude   DOUBLE PRECISION NOT NULL,
    codes       TEXT NOT NULL,
    sources     TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX facility_updated ON facility(updated_at);
