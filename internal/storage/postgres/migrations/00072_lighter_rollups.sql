-- The roll-ups' secondary indexes cost more on the sign-in path than they
-- save the reports: every sign-in changed an entry of each (its day's count,
-- the person's latest sign-in), while the reports read a few thousand rows
-- of sign_in_daily by its key (the day first) and sign_in_user_models whole
-- (a row per person and model). So the sign-in updates two rows and no index.

-- +goose Up
DROP INDEX sign_in_daily_aaguid;
DROP INDEX sign_in_user_models_aaguid;
DROP INDEX sign_in_user_models_last;

-- +goose Down
CREATE INDEX sign_in_user_models_last ON sign_in_user_models (last_at);
CREATE INDEX sign_in_user_models_aaguid ON sign_in_user_models (aaguid, last_at, user_id);
CREATE INDEX sign_in_daily_aaguid ON sign_in_daily (aaguid, result, day, sign_ins);
