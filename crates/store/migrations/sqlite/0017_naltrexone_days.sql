-- The opioid-free days a program requires before naltrexone, by the opioid
-- last used (short-acting such as heroin, fentanyl, long-acting methadone or
-- buprenorphine). The label says 7–10 days and up to 2 weeks after
-- long-acting opioids; programs choose within it (defaults 7, 10, 14).
ALTER TABLE program_dosing ADD COLUMN naltrexone_days_short BIGINT NOT NULL DEFAULT 7
    CHECK (naltrexone_days_short BETWEEN 1 AND 30);
ALTER TABLE program_dosing ADD COLUMN naltrexone_days_fentanyl BIGINT NOT NULL DEFAULT 10
    CHECK (naltrexone_days_fentanyl BETWEEN 1 AND 30);
ALTER TABLE program_dosing ADD COLUMN naltrexone_days_long BIGINT NOT NULL DEFAULT 14
    CHECK (naltrexone_days_long BETWEEN 1 AND 30);
