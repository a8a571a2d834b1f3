"""AWS Signature Version 4 for Bedrock Runtime, computed by botocore (service name "bedrock").

Credentials: `target.api_key` is the access key id; `target.config` holds `secret_key` (or `secret`, the
name `extra_env` gives it) and optionally `session_token`. The signing region is the one the URL was
built for (`request.region()`). With `target.auth == "bearer"` the key is a Bedrock API key and is sent as
`Authorization: Bearer` instead. No credential ever goes into an error message.
"""

from __future__ import annotations

from ..base import Target, UpstreamError, UpstreamRequest
from .request import region

SERVICE = "bedrock"


def sign_request(req: UpstreamRequest, target: Target) -> UpstreamRequest:
    """A new request carrying Authorization, X-Amz-Date, x-amz-content-sha256 (and X-Amz-Security-Token)."""
    if target.auth == "none":
        return req
    if target.auth == "bearer":
        if not target.api_key:
            raise UpstreamError(401, "auth", "no Bedrock API key is configured")
        return UpstreamRequest(
            req.method,
            req.url,
            {**req.headers, "authorization": f"Bearer {target.api_key}"},
            req.body,
            req.stream,
        )
    cfg = target.config
    secret = cfg.get("secret_key") or cfg.get("secret") or cfg.get("secret_access_key")
    if not target.api_key or not secret:
        raise UpstreamError(
            401,
            "auth",
            "AWS credentials for Bedrock are incomplete: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )
    # botocore (~30 MB of modules) is imported on the first signed request, not by every serving process.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    token = cfg.get("session_token") or None
    credentials = Credentials(str(target.api_key), str(secret), str(token) if token else None)
    signer = SigV4Auth(credentials, SERVICE, region(target))
    headers = {
        k: v
        for k, v in req.headers.items()
        if k.lower() not in ("authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256")
    }
    aws = AWSRequest(method=req.method, url=req.url, data=req.body, headers=headers)
    # The payload hash botocore puts in the canonical request, also sent as a (signed) header.
    aws.headers["X-Amz-Content-SHA256"] = signer.payload(aws)
    signer.add_auth(aws)
    signed = {name.lower(): str(value) for name, value in aws.headers.items()}
    return UpstreamRequest(req.method, req.url, signed, req.body, req.stream)
