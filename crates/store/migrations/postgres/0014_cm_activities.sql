-- Contingency management (issue 13): attending the activities of the
-- treatment plan (calendar sessions of kind 'activity') as a target of its
-- own, apart from attending groups and individual sessions.
ALTER TABLE cm_enrollment ADD COLUMN activities BOOLEAN NOT NULL DEFAULT FALSE;
