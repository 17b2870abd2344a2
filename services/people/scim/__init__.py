"""SCIM 2.0 (RFC 7643/7644) for identity providers: Okta, Microsoft Entra ID and others."""
