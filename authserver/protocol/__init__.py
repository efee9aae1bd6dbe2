"""Protocol rules in plain modules, one per RFC concern, below the models that use them.

``resources`` (RFC 8707 identifiers, the loopback rule), ``scopes`` (RFC 6749 §3.3),
``pkce`` (RFC 7636, S256 only), ``metadata`` (RFC 8414 / RFC 9728 documents). They take
plain values and import nothing of the server but ``errors`` and ``loopback``.
"""
