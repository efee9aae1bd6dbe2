"""OAuth clients: the model, dynamic registration (RFC 7591/7592), metadata documents, policy."""
