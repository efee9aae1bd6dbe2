"""The token endpoint (RFC 6749 §3.2): one pipeline of parse, authenticate, validate, issue.

``view.token`` parses the form (``params``), authenticates the client
(``client_auth``), lets the grant named by ``grant_type`` (``grants``) validate the request
into one immutable :class:`binding.Binding` without writing anything, then ``issue`` claims
the code or refresh token, signs and writes every row in one transaction.
"""
