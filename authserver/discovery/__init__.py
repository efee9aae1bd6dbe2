"""Discovery documents: RFC 8414 metadata, OpenID Connect discovery, the OpenAPI description."""
