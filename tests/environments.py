"""The environment of a process that configures itself from variables, as in AWS Lambda."""

from __future__ import annotations

import os

from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION


def aws_environment(endpoint: str | None, prefix: str = "", **extra: str) -> dict[str, str]:
    """This process's environment without any ``AWS_`` variable of the developer's, plus what
    Lambda sets (region, credentials) pointed at the test engine: ``endpoint`` through
    botocore's ``AWS_ENDPOINT_URL_DYNAMODB`` (left unset when None), ``prefix`` as
    ``TABLE_PREFIX``, warnings as errors, and ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID=DUMMY_CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=DUMMY_CREDENTIALS["aws_secret_access_key"],
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        TABLE_PREFIX=prefix,
        PYTHONWARNINGS="error",
    )
    if endpoint is not None:
        env["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    env.update(extra)
    return env
