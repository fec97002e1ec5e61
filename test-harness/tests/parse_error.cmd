# The error is on line 4; nothing may run.
alice echo never printed

alice testfilter messagesView many <bob> hi
bob echo neither
