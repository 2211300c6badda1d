"""Everything that talks to Redis: key names, connections, Lua scripts and the search indexes."""
