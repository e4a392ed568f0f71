-- What a run consumed from paid services (tokens, speech characters, images), as JSON.
ALTER TABLE jobs ADD COLUMN usage TEXT;
