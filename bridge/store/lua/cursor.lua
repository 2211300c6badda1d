-- Move a cursor forward (note_cursor in _cursor.lua) for an event whose ingest wrote nothing else (a
-- message refused or ignored by the core): it was taken in all the same, so a catch-up does not read
-- it again. KEYS[1]: the cursor's hash; ARGV[1]: field, ARGV[2]: value.
note_cursor(KEYS[1], ARGV[1], ARGV[2])
return 1
