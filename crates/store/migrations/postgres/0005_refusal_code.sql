-- Refusals by our triggers carry their own SQLSTATE, so the store classifies
-- them by code (not by message text): ZR001, "refused by a Carepath rule".
CREATE OR REPLACE FUNCTION carepath_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'ZR001';
END $$;
