-- The server chooses second-factor secrets: a secret offered for enrolment
-- waits here until a code from it is entered (never taken from the client).
ALTER TABLE staff_user ADD COLUMN pending_totp_secret TEXT;
