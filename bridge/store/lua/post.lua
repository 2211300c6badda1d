-- Post one message (post_message in _post.lua). ARGV: the POST_ARGS arguments documented there.
return post_message(ARGV)
